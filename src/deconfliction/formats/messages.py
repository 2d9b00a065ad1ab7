"""Scripted channel traffic in scenario files: messages, acknowledgements, disowning, line changes, incidents."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..engine.core import area_message_id, message_key_parts
from ..engine.model import Incident
from ..errors import GeometryError, Problem
from ..geo.shapes import Shape
from ..geo.volumes import TimeWindow
from ..times import parse_time
from .geojson import shape_from_spec

INCIDENT_POINT_RADIUS_M = 1.0
"""A Point incident without radius_m is taken as a circle of this radius."""


@dataclass(frozen=True, slots=True)
class ScriptedMessage:
    t: datetime
    id: str
    sender: str
    to: str
    kind: str
    text: str
    ref: str | None
    area: dict | None = None
    """For an area broadcast (``to_area``, and ``to`` is empty): the area as the file gives it."""


@dataclass(frozen=True, slots=True)
class CopyOf:
    """The copy of an area broadcast an answer is about: the broadcast, the party it reached (the
    copy's addressee), and the item's path, to name it if the copy was not sent by the answer's time."""

    broadcast: str
    party: str
    path: str


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    t: datetime
    message: str
    by: str
    copy: CopyOf | None = None
    """Set when ``message`` is the copy of an area broadcast."""


@dataclass(frozen=True, slots=True)
class Disowning:
    t: datetime
    message: str
    by: str
    reason: str
    copy: CopyOf | None = None


@dataclass(frozen=True, slots=True)
class ZoneAnswer:
    """A party named in a zone agrees it, or (with a reason) declines it."""

    t: datetime
    zone: str
    by: str
    agree: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Amendment:
    """The owner of a zone (its proposer) or operation (its party) replaces it whole."""

    t: datetime
    kind: str
    """"zone" or "operation"."""
    item: Any
    """The :class:`Zone` or :class:`Operation` as amended."""
    party: str
    spec: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """The owner withdraws a zone or cancels an operation, saying why."""

    t: datetime
    kind: str
    id: str
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class ChannelChange:
    t: datetime
    a: str
    b: str
    active: bool


@dataclass(frozen=True, slots=True)
class IncidentReport:
    t: datetime
    incident: Incident
    spec: dict = field(default_factory=dict, compare=False, repr=False)
    """The item as the file gives it (the command a replay applies holds it)."""


def _unknown(what: str, value: str, known) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.6)
    return f"unknown {what} {value!r}" + (f"; did you mean {close[0]!r}?" if close else "")


def parse_area(spec: dict, path: str, problems: list[Problem], after: datetime | None = None
               ) -> tuple[Shape, TimeWindow] | None:
    """The shape and window of an area broadcast's ``to_area`` (problems named below ``path``), or
    None. A window whose end is not after ``after`` (the sending time) is over already: refused."""
    before = len(problems)
    shape = shape_from_spec(spec, path, problems)
    window = spec.get("window") or {}
    start = parse_time(window["start"], f"{path}.window.start", problems) if "start" in window else None
    end = parse_time(window["end"], f"{path}.window.end", problems) if "end" in window else None
    if start is not None and end is not None and end <= start:
        problems.append(Problem(f"{path}.window.end", "must be after window.start (windows are half-open [start, end))"))
    elif end is not None and after is not None and end <= after:
        problems.append(Problem(f"{path}.window.end", f"is over already: the broadcast is sent at "
                                                      f"{after.isoformat().replace('+00:00', 'Z')}"))
    if shape is not None:
        try:
            shape.bounds_deg(0.0)
        except GeometryError as exc:
            problems.append(Problem(f"{path}.geometry", str(exc)))
    if len(problems) > before or shape is None:
        return None
    return shape, TimeWindow(start, end)


def automatic_ids(zones: dict, operations: dict, tracks: set[str]) -> callable:
    """A test for the ids the engine gives automatic messages: ZONE/TRACK/N, OPERATION/ZONE, OPERATION/OPERATION
    (OPERATION/OTHER/N for a conflict that returned), notify/ITEM/PARTY/1 (a declaration's notification)."""
    def known(message_id: str) -> bool:
        parts = message_key_parts(message_id)
        if len(parts) == 3:
            plan = parts[0] in operations and (parts[1] in zones or parts[1] in operations)
            return ((parts[0] in zones and parts[1] in tracks) or plan) and parts[2].isdigit() and int(parts[2]) > 0
        if len(parts) == 2:
            return parts[0] in operations and (parts[1] in zones or parts[1] in operations)
        if len(parts) == 4:  # a notification: notify/ITEM/PARTY/1
            return parts[0] == "notify" and (parts[1] in zones or parts[1] in operations) and parts[3] == "1"
        return False
    return known


def parse_traffic(builder, data: dict, parties: set[str], zones: dict, operations: dict, tracks: set[str]):
    """Messages, acknowledgements, disowning, channel changes and incidents, with problems named by path."""
    commands: list = []
    scripted: set[str] = set()
    automatic = automatic_ids(zones, operations, tracks)
    refs = set(zones) | set(operations)

    def party(value: str, path: str) -> None:
        if value not in parties:
            builder.problem(path, _unknown("party", value, parties))

    sent_at: dict[str, datetime] = {}
    broadcasts: dict[str, str] = {}  # id -> sender
    for i, spec in enumerate(data.get("messages", [])):
        if spec and not {"ack", "disown", "agree", "decline", "withdraw", "amend_zone", "amend_operation"} & set(spec):
            message_id = spec.get("id", f"msg-{i + 1}")
            scripted.add(message_id)
            if "to_area" in spec:
                broadcasts.setdefault(message_id, spec["from"])
            first = parse_time(spec["t"], "", [])
            if first is not None:
                sent_at.setdefault(message_id, first)
    seen_ids: set[str] = set()
    answered: set[tuple[str, str]] = set()
    withdrawn: dict[str, datetime] = {}
    for i, spec in enumerate(data.get("messages", [])):
        if not spec:
            continue
        path = f"messages[{i}]"
        t = builder.command_time(spec["t"], f"{path}.t")
        if {"withdraw", "amend_zone", "amend_operation"} & set(spec):
            change = _change(builder, spec, path, t, data, parties, withdrawn)
            if change is not None:
                commands.append(change)
            continue
        if "agree" in spec or "decline" in spec:
            answer = _zone_answer(builder, spec, path, t, data, zones, answered)
            if answer is not None:
                commands.append(answer)
            continue
        if "ack" in spec or "disown" in spec:
            key = "ack" if "ack" in spec else "disown"
            party(spec["by"], f"{path}.by")
            before = len(builder.problems)
            copy = _copy_answered(builder, spec[key], spec["by"], f"{path}.{key}", broadcasts, parties)
            message_id = spec[key] if copy is None else area_message_id(copy.broadcast, copy.party)
            answered_id = spec[key] if copy is None else copy.broadcast
            if len(builder.problems) > before:
                continue
            if copy is None and spec[key] not in scripted and not automatic(spec[key]):
                builder.problem(f"{path}.{key}", _unknown("message", spec[key], scripted)
                                + " (answer a message of this file, a broadcast of this file (your copy of it), "
                                  "or an automatic warning ZONE/TRACK/N, OPERATION/ZONE, "
                                  "OPERATION/OTHER-OPERATION, notify/ITEM/PARTY/1 or area/BROADCAST/PARTY/1)")
            elif t is not None and answered_id in sent_at and t < sent_at[answered_id]:
                builder.problem(f"{path}.t", f"is before message {answered_id!r} was sent")
            if t is not None:
                commands.append(Acknowledgement(t, message_id, spec["by"], copy) if key == "ack"
                                else Disowning(t, message_id, spec["by"], spec["reason"], copy))
            continue
        message_id = spec.get("id", f"msg-{i + 1}")
        if message_id in seen_ids:
            builder.problem(f"{path}.id", f"duplicate message id {message_id!r}")
        seen_ids.add(message_id)
        party(spec["from"], f"{path}.from")
        if "to" in spec and "to_area" in spec:
            builder.problem(f"{path}.to_area", "give either to (a party) or to_area (an area), not both")
        elif "to" not in spec and "to_area" not in spec:
            builder.problem(f"{path}.to", "is required (a party; or give to_area, an area)")
        elif "to" in spec:
            party(spec["to"], f"{path}.to")
            if spec["from"] == spec["to"]:
                builder.problem(f"{path}.to", "a party does not send messages to itself")
        else:
            parse_area(spec["to_area"], f"{path}.to_area", builder.problems, t)
        if spec.get("ref") is not None and spec["ref"] not in refs:
            builder.problem(f"{path}.ref", _unknown("zone or operation", spec["ref"], refs))
        if t is not None:
            commands.append(ScriptedMessage(t, message_id, spec["from"], spec.get("to", ""), spec["kind"],
                                            spec.get("text", ""), spec.get("ref"), spec.get("to_area")))

    lines = builder.lines
    for i, spec in enumerate(data.get("channel_events", [])):
        if not spec:
            continue
        path = f"channel_events[{i}]"
        t = builder.command_time(spec["t"], f"{path}.t")
        a, b = spec["between"]
        party(a, f"{path}.between[0]")
        party(b, f"{path}.between[1]")
        if a in parties and b in parties and frozenset((a, b)) not in lines:
            builder.problem(f"{path}.between", f"{a} and {b} have no line to suspend or resume (see parties[].channels)")
        if t is not None:
            commands.append(ChannelChange(t, a, b, spec["state"] == "active"))

    seen: set[str] = set()
    for i, spec in enumerate(data.get("incidents", [])):
        if not spec:
            continue
        path = f"incidents[{i}]"
        t = builder.command_time(spec["t"], f"{path}.t")
        party(spec["reporter"], f"{path}.reporter")
        if spec["id"] in seen:
            builder.problem(f"{path}.id", f"duplicate incident id {spec['id']!r}")
        seen.add(spec["id"])
        if spec["geometry"]["type"] == "Point" and "radius_m" not in spec and "radius_m" not in spec["geometry"]:
            spec = {**spec, "radius_m": INCIDENT_POINT_RADIUS_M}
        shape = shape_from_spec(spec, path, builder.problems)
        if t is not None and shape is not None:
            commands.append(IncidentReport(t, Incident(spec["id"], spec["reporter"], spec["kind"], shape,
                                                       spec.get("text", "")), spec))
    return commands


def _copy_answered(builder, target: str, by: str, path: str, broadcasts: dict[str, str],
                   parties: set[str]) -> CopyOf | None:
    """The copy of an area broadcast that an ``ack`` or ``disown`` value names: the broadcast's id
    (the copy that reached ``by``), or the copy's own id ``area/BROADCAST/PARTY/1`` (with which a
    party that relayed the copy answers too); None for any other value. Problems at ``path``
    (``.by`` for the broadcast's sender answering its own broadcast by its id)."""
    if target in broadcasts:
        if by == broadcasts[target]:
            builder.problem(path.rsplit(".", 1)[0] + ".by",
                            f"{by!r} sent broadcast {target!r}: it receives no copy of it to answer")
        return CopyOf(target, by, path)
    parts = message_key_parts(target)
    if len(parts) != 4 or parts[0] != "area" or parts[3] != "1":
        return None
    broadcast, addressee = parts[1], parts[2]
    if broadcast not in broadcasts:
        builder.problem(path, _unknown("broadcast", broadcast, broadcasts) + f" in {target!r}")
    elif addressee not in parties:
        builder.problem(path, _unknown("party", addressee, parties) + f" in {target!r}")
    elif addressee == broadcasts[broadcast]:
        builder.problem(path, f"{addressee!r} sent broadcast {broadcast!r}: it receives no copy of it")
    return CopyOf(broadcast, addressee, path)


def _zone_answer(builder, spec: dict, path: str, t: datetime | None, data: dict, named,
                 answered: set[tuple[str, str]]) -> ZoneAnswer | None:
    """An ``agree`` or ``decline`` item: by a party the zone names, other than its proposer, once.
    ``named``: the zone ids of the file, broken items included (their problems are named already)."""
    key = "agree" if "agree" in spec else "decline"
    zone_id, by = spec[key], spec["by"]
    if zone_id not in named:
        builder.problem(f"{path}.{key}", _unknown("zone", zone_id, named))
        return None
    zone = next((z for z in data.get("zones", []) if isinstance(z, dict) and z.get("id") == zone_id), None)
    if zone is None:
        return None
    if by not in zone.get("parties", []):
        builder.problem(f"{path}.by", f"{by!r} is not named in zone {zone_id!r} (its parties)")
    elif "proposer" not in zone:
        builder.problem(f"{path}.{key}", f"zone {zone_id!r} has no proposer: all its parties agreed it when declared")
    elif by == zone["proposer"]:
        builder.problem(f"{path}.by", f"{by!r} proposed zone {zone_id!r}: it agreed it then")
    elif (zone_id, by) in answered:
        builder.problem(f"{path}.by", f"{by!r} has already agreed or declined zone {zone_id!r}")
    else:
        answered.add((zone_id, by))
        if t is not None:
            return ZoneAnswer(t, zone_id, by, key == "agree", spec.get("reason", ""))
    return None


def _owners(data: dict) -> dict[str, tuple[str, str | None]]:
    """(kind, owner) of each zone and operation of the file: a zone's proposer (else its first party)."""
    out: dict[str, tuple[str, str | None]] = {}
    for z in data.get("zones", []):
        if isinstance(z, dict) and isinstance(z.get("id"), str):
            out[z["id"]] = ("zone", z.get("proposer") or next(iter(z.get("parties", [])), None))
    for o in data.get("operations", []):
        if isinstance(o, dict) and isinstance(o.get("id"), str):
            out[o["id"]] = ("operation", o.get("party"))
    return out


def _change(builder, spec: dict, path: str, t: datetime | None, data: dict, parties: set[str],
            withdrawn: dict[str, datetime]):
    """A ``withdraw``, ``amend_zone`` or ``amend_operation`` item: by the item's owner, of an item in force."""
    owners = _owners(data)
    if "withdraw" in spec:
        item_id, by, key = spec["withdraw"], spec["by"], "withdraw"
    else:
        key = "amend_zone" if "amend_zone" in spec else "amend_operation"
        item = spec[key]
        item_id = item["id"]
        by = item.get("proposer") if key == "amend_zone" else item["party"]
    kind = owners.get(item_id, (None, None))[0]
    if kind is None or (key == "amend_zone" and kind != "zone") or (key == "amend_operation" and kind != "operation"):
        wanted = {"withdraw": "zone or operation", "amend_zone": "zone", "amend_operation": "operation"}[key]
        builder.problem(f"{path}.{key}", _unknown(wanted, str(item_id),
                                                  [i for i, (k, _) in owners.items() if k in wanted]))
        return None
    owner = owners[item_id][1]
    if key == "amend_zone" and by is None:
        by = owner
    if by != owner:
        where = f"{path}.by" if key == "withdraw" else f"{path}.{key}.{'proposer' if kind == 'zone' else 'party'}"
        builder.problem(where, f"only {owner!r}, which declared {kind} {item_id!r}, may change it")
        return None
    if item_id in withdrawn and (t is None or t >= withdrawn[item_id]):
        builder.problem(f"{path}.{key}", f"{kind} {item_id!r} is withdrawn by then")
        return None
    if t is None:
        return None
    if key == "withdraw":
        withdrawn[item_id] = t
        return Withdrawal(t, kind, item_id, by, spec["reason"])
    if kind == "zone":
        item_spec = {**spec[key], "proposer": by} if by in spec[key].get("parties", []) else dict(spec[key])
        value = builder.zone(item_spec, f"{path}.{key}", parties, builder.limits)
    else:
        item_spec = dict(spec[key])
        value = builder.operation(item_spec, f"{path}.{key}", parties)
    return None if value is None else Amendment(t, kind, value, by, item_spec)
