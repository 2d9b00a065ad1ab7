"""The command language: every change of state is a command, a JSON object with one canonical encoding.

The log keeps a command's canonical bytes and its time at the log's precision (milliseconds);
the ledger applies the command *decoded from those bytes* at *that* time (:func:`encode`,
:func:`decode`, :func:`log_time`), so what the live service applies is exactly what a replay
of the log reads back: no microsecond of the wall clock, no text that cannot be encoded, no
number the encoding would change. Applying the same commands in the same order to a fresh
engine gives the same events, which is how the service rebuilds its state from its log.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

import orjson

from ..engine.core import Engine
from ..engine.events import Event
from ..times import format_time, parse_instant
from ..engine.model import Incident, Party, Policy
from ..engine.tracks import ReportBatch
from ..errors import DeconflictionError, Problem, Refused, ScenarioError
from ..formats.batch import by_time, plain_batch, scanned_batch
from ..formats.messages import parse_area
from ..formats.scenario import Scenario, parse_scenario
from ..formats.values import value_problems
from ..log.chain import PAYLOAD_DIGEST, canonical, payload_digest

def encode(body: dict) -> bytes:
    """A command's canonical bytes (sorted keys, no spaces, UTF-8); ScenarioError naming the field
    when the command holds what the log cannot keep exactly: a text that is not Unicode (a lone
    surrogate), nesting beyond :data:`..formats.values.MAX_DEPTH`, or a number that is not finite."""
    problems = value_problems(body)
    if problems:
        raise ScenarioError(problems)
    try:
        return canonical(body)
    except ValueError:
        raise ScenarioError([Problem("", "holds a number that is not finite (NaN or infinity)")]) from None


def decode(data: bytes) -> dict:
    """The command the log keeps as ``data`` (:func:`encode`'s bytes)."""
    return orjson.loads(data)


def log_time(t: datetime) -> tuple[datetime, str]:
    """A command's time as the log keeps it (text, at milliseconds) and as that text reads back."""
    stamp = format_time(t)
    return parse_instant(stamp), stamp


@dataclass(frozen=True, slots=True)
class Applied:
    """A command as :func:`run` applied it: its time and bytes as the log keeps them, and its events."""

    t: datetime
    stamp: str
    body_json: bytes
    command: dict
    events: list[Event]


def run(engine: Engine, command: dict, t: datetime, prepared: Any = None, payload: bytes | None = None,
        apply_with: Callable[..., list[Event]] | None = None) -> Applied:
    """The one way a command changes the engine, for both drivers (the ledger of the live service and
    the scenario replay): encode it, decode the bytes, and apply what was decoded at the time the
    log keeps, with ``apply_with`` (:func:`apply` unless given). ScenarioError (nothing applied) for a command
    that cannot be encoded; Refused for one the rules refuse."""
    t, stamp = log_time(t)
    body_json = encode(command)
    decoded = decode(body_json)
    events = (apply_with or apply)(engine, decoded, t, prepared, payload)
    return Applied(t, stamp, body_json, decoded, events)


# -- the commands, as both drivers build them --------------------------------------------------------
def zone_command(party: str, spec: dict) -> dict:
    return {"type": "zone.declare", "party": party, "zone": spec}


def operation_command(party: str, spec: dict) -> dict:
    return {"type": "operation.declare", "party": party, "operation": spec}


def operations_command(party: str, specs: list[dict]) -> dict:
    """Several operations declared together, all or none (an array sent to POST /v1/operations)."""
    return {"type": "operations.declare", "party": party, "operations": list(specs)}


def draft_command(party: str, kind: str, spec: dict, conflicts: int, hidden: int, told: list[dict],
                  limit: int | None = None) -> dict:
    """A dry run: the draft (a zone or an operation, as sent), how many of its conflicts are with items
    its party may see and how many with others, and the owners told of those (party, item, item_kind,
    window), as found at the time; ``limit``: how many dry runs the party may make a minute (the
    command is refused when the log has that many of the party's in the minute before it)."""
    command = {"type": "draft.check", "party": party, "draft_kind": kind, "draft": spec, "conflicts": conflicts,
               "hidden": hidden, "told": list(told)}
    return command if limit is None else {**command, "limit": limit}


def message_command(message_id: str, sender: str, to: str, kind: str, text: str, ref: str | None) -> dict:
    return {"type": "message.send", "id": message_id, "from": sender, "to": to, "kind": kind, "text": text, "ref": ref}


def broadcast_command(message_id: str, sender: str, area: dict, kind: str, text: str, ref: str | None) -> dict:
    """A message to whoever is in an area (``to_area``, as the request or file gives it)."""
    return {"type": "message.broadcast", "id": message_id, "from": sender, "to_area": area, "kind": kind,
            "text": text, "ref": ref}


def agree_command(zone_id: str, by: str) -> dict:
    """``by`` agrees the zone (it must be named in it)."""
    return {"type": "zone.agree", "zone": zone_id, "by": by}


def decline_command(zone_id: str, by: str, reason: str) -> dict:
    """``by`` declines the zone, saying why."""
    return {"type": "zone.decline", "zone": zone_id, "by": by, "reason": reason}


def zone_amend_command(party: str, spec: dict, version: int) -> dict:
    """``party`` (the zone's proposer) replaces the zone whole; ``version`` is the one it amends."""
    return {"type": "zone.amend", "party": party, "zone": spec, "version": version}


def zone_withdraw_command(zone_id: str, by: str, reason: str) -> dict:
    return {"type": "zone.withdraw", "zone": zone_id, "by": by, "reason": reason}


def operation_amend_command(party: str, spec: dict, version: int) -> dict:
    """``party`` (the operation's) replaces the operation whole; ``version`` is the one it amends."""
    return {"type": "operation.amend", "party": party, "operation": spec, "version": version}


def operation_cancel_command(operation_id: str, by: str, reason: str) -> dict:
    return {"type": "operation.cancel", "operation": operation_id, "by": by, "reason": reason}


def ack_command(message_id: str, by: str) -> dict:
    return {"type": "message.ack", "message": message_id, "by": by}


def disown_command(message_id: str, by: str, reason: str) -> dict:
    return {"type": "message.disown", "message": message_id, "by": by, "reason": reason}


def channel_command(between: list[str], active: bool) -> dict:
    return {"type": "channel.set", "between": list(between), "state": "active" if active else "suspended"}


def incident_command(spec: dict) -> dict:
    """An incident as reported; its time is the command's (``t`` in the item is not kept)."""
    return {"type": "incident.report", "incident": {**spec, "t": UNTIMED}}


UNTIMED = "1970-01-01T00:00:00Z"
"""The time put on request items that carry none: the engine stamps commands with its clock."""
_UNTIMED_AT = datetime.fromisoformat(UNTIMED.replace("Z", "+00:00"))


def _policy_spec(policy: Policy) -> dict:
    """The rules as JSON (a scenario's ``policy`` section)."""
    p = asdict(policy)
    p["escalation"] = list(p["escalation"])
    return p


def parse_items(engine: Engine, section: str, items: list[Any], extra: dict | None = None,
                whole: bool = False) -> Scenario:
    """Validate request items with the scenario rules; problem paths are relative to the request body.

    ``items`` go into the scenario section ``section`` (zones, operations, tracks, messages, incidents);
    ``whole``: the body is the list of items, so paths keep the item's place (``[3].volumes[0].radius_m``).
    """
    doc = {"scenario": 1, "start": UNTIMED, "policy": _policy_spec(engine.policy),
           "parties": [{"id": p.id, "channels": list(p.channels)} for p in engine.parties.values()],
           section: items, **(extra or {})}
    try:
        return parse_scenario(doc)
    except ScenarioError as exc:
        raise ScenarioError([Problem(_relative(p.path, section, whole), p.reason) for p in exc.problems]) from None


def _relative(path: str, section: str, whole: bool = False) -> str:
    if path.startswith(f"{section}["):
        rest = path[len(section):]
        return rest if section == "tracks" or whole else rest.split("]", 1)[1].lstrip(".")
    return path


def apply(engine: Engine, command: dict, t: datetime, prepared: Any = None, payload: bytes | None = None) -> list[Event]:
    """Apply one logged command at time ``t``; raises Refused (or ScenarioError) for commands refused
    before anything changed.

    ``prepared``: the command's items as the edge already validated them (a positions command's
    report batches, a declared zone or operation, an incident), so a request or a scenario item is
    parsed once; a replay of the log parses them again, from the same text, to the same values. ``payload``: the document
    a positions command names by its digest (the request body as sent), which a replay reads.
    """
    kind = command["type"]
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise Refused(f"unknown command {kind!r}")
    if prepared is not None:
        if kind == "positions":
            return _report(engine, prepared, t)
        if kind == "zone.declare":
            return engine.declare_zone(prepared, t, command.get("party"))
        if kind == "operation.declare":
            return engine.declare_operation(prepared, t)
        if kind == "operations.declare":
            return _declare_all(engine, prepared, t)
        if kind == "incident.report":
            return engine.report_incident(t, prepared)
    if kind == "positions":
        return _positions(engine, command, t, payload)
    return handler(engine, command, t)


def _party_add(engine: Engine, c: dict, t: datetime) -> list[Event]:
    return engine.add_party(Party(c["id"], c.get("name", ""), tuple(c.get("channels", []))), t)


def _zone(engine: Engine, c: dict, t: datetime) -> list[Event]:
    [zone] = parse_items(engine, "zones", [c["zone"]]).zones
    return engine.declare_zone(zone, t, c.get("party"))


def _operation(engine: Engine, c: dict, t: datetime) -> list[Event]:
    [op] = parse_items(engine, "operations", [c["operation"]]).operations
    return engine.declare_operation(op, t)


def _operations(engine: Engine, c: dict, t: datetime) -> list[Event]:
    return _declare_all(engine, parse_items(engine, "operations", c["operations"], whole=True).operations, t)


def _declare_all(engine: Engine, ops, t: datetime) -> list[Event]:
    """Declare every operation, or (an id taken, or given twice) none."""
    seen: set[str] = set()
    for k, op in enumerate(ops):
        if op.id in seen or op.id in engine.operations or op.id in engine.zones:
            raise Refused(f"[{k}].id: id {op.id!r} is already declared")
        seen.add(op.id)
    events: list[Event] = []
    for op in ops:
        events += engine.declare_operation(op, t)
    return events


def _draft(engine: Engine, c: dict, t: datetime) -> list[Event]:
    return engine.note_draft(t, c["party"], c["draft"]["id"], c["draft_kind"], c["conflicts"], c["hidden"],
                             c["told"], c.get("limit"))


def decode_reports(text: str, ndjson: bool) -> Any:
    """A body of position reports: a JSON array, or NDJSON (one report per line).

    Raises ValueError (or RecursionError) when it is not JSON.
    """
    if ndjson:
        return [_loads(line) for line in text.splitlines() if line.strip()]
    return _loads(text)


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)  # much faster on large batches
    except orjson.JSONDecodeError:
        return json.loads(text)  # the reference answer for anything orjson refuses (e.g. NaN, to be named)


def positions_command(party: str, body: bytes, ndjson: bool) -> tuple[dict, bytes]:
    """The logged command for a positions request, and its payload: the body as sent, as UTF-8 (a
    body that is not valid UTF-8 is logged as read, with U+FFFD for the bytes that are not)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        body = body.decode("utf-8", errors="replace").encode("utf-8")
    return {"type": "positions", "party": party, "format": "ndjson" if ndjson else "json",
            PAYLOAD_DIGEST: payload_digest(body)}, body


def _body_text(command: dict, payload: bytes | None) -> str:
    """The request body of a logged positions command: its payload, or (older logs) its ``body``."""
    if PAYLOAD_DIGEST not in command:
        return command["body"]
    if payload is None:
        raise Refused("the reports of this positions command are missing from the log")
    return payload.decode("utf-8")


def position_reports(command: dict, payload: bytes | None = None) -> list:
    """The report items of a logged positions command, each naming the command's party where it named none.

    The command names the request body as sent by its digest (the body is the entry's ``payload``),
    or (older logs) holds it (``body``), or the items themselves (``reports``).
    """
    items = command["reports"] if "reports" in command else \
        decode_reports(_body_text(command, payload), command.get("format") == "ndjson")
    return _naming(items, command["party"])


def _naming(items: list, party: str) -> list:
    """The items, each report naming ``party`` where it named none."""
    return [{**r, "party": r.get("party", party)} if isinstance(r, dict) else r for r in items]


def position_batches(engine: Engine, party: str, items: list) -> list[ReportBatch]:
    """Validated reports of ``party`` as batches of one time each, in time order (ScenarioError if invalid)."""
    whole = plain_batch(items, party, _UNTIMED_AT, engine.policy)
    if whole is not None:
        return by_time(whole)
    reports = parse_items(engine, "tracks", _naming(items, party)).reports
    return [ReportBatch.of(list(group)) for _, group in groupby(reports, key=lambda r: r.t)]


def scanned_positions(body: bytes, ndjson: bool, party: str, policy: Policy) -> ReportBatch | None:
    """The reports of ``party`` in a request body as one batch in the body's order, read straight
    from the bytes; None when the body needs the general path (decode, then :func:`position_batches`),
    a report beyond the physical limits of ``policy`` included."""
    return scanned_batch(body, ndjson, party, _UNTIMED_AT, policy)


def _positions(engine: Engine, c: dict, t: datetime, payload: bytes | None = None) -> list[Event]:
    whole = None
    if "reports" not in c:  # read as the request was: the compiled pass, else the general path
        whole = scanned_positions(_body_text(c, payload).encode(), c.get("format") == "ndjson", c["party"],
                                  engine.policy)
    batches = by_time(whole) if whole is not None else position_batches(engine, c["party"], position_reports(c, payload))
    return _report(engine, batches, t)


_WARM_ZONES = [
    {"id": "circle", "kind": "protected_site", "parties": ["a"], "geometry": {"type": "Point", "coordinates": [0, 0]},
     "radius_m": 1000},
    {"id": "polygon", "kind": "deconfliction", "parties": ["a"], "geometry": {
        "type": "Polygon", "coordinates": [[[0.1, 0], [0.2, 0], [0.2, 0.1], [0.1, 0.1], [0.1, 0]]]}},
]
_WARM_BATCH = (b'[{"t":"2017-06-06T00:00:01Z","id":"u1","lon":0.001,"lat":0,"speed_mps":5,"course_deg":90},'
               b'{"t":"2017-06-06T00:00:01Z","id":"u2","lon":0.15,"lat":0.05},'
               b'{"t":"2017-06-06T00:00:01Z","id":"u3","lon":5,"lat":5}]')


def warm_up() -> None:
    """Compile (or load from numba's cache) the compiled code a batch of reports near zones needs,
    on a scratch engine, so that the first requests do not wait for it (on a new machine the first
    compilation takes several seconds)."""
    engine = Engine(Policy(), [])
    t = _UNTIMED_AT
    for party in ("a", "b"):
        engine.add_party(Party(party), t)
    for zone in parse_items(engine, "zones", _WARM_ZONES).zones:
        engine.declare_zone(zone, t)
    whole = scanned_positions(_WARM_BATCH, False, "b", engine.policy)
    assert whole is not None, "the warm-up batch is of the usual shape"
    _report(engine, by_time(whole), datetime(2017, 6, 6, 0, 0, 1, tzinfo=_UNTIMED_AT.tzinfo))


def _report(engine: Engine, batches: list[ReportBatch], t: datetime) -> list[Event]:
    events: list[Event] = []
    for batch in batches:
        events += engine.report(t, batch)
    return events


def _message(engine: Engine, c: dict, t: datetime) -> list[Event]:
    return engine.send(t, c["id"], c["from"], c["to"], c["kind"], c.get("text", ""), c.get("ref"))


def _broadcast(engine: Engine, c: dict, t: datetime) -> list[Event]:
    problems: list[Problem] = []
    area = parse_area(c["to_area"], "to_area", problems) if isinstance(c.get("to_area"), dict) else None
    if area is None:
        raise ScenarioError(problems or [Problem("to_area", "must be an area")])
    shape, window = area
    return engine.broadcast(t, c["id"], c["from"], shape, window, c["kind"], c.get("text", ""), c.get("ref"))


def _ack(engine: Engine, c: dict, t: datetime) -> list[Event]:
    return engine.acknowledge(t, c["message"], c["by"])


def _disown(engine: Engine, c: dict, t: datetime) -> list[Event]:
    return engine.disown(t, c["message"], c["by"], c["reason"])


def _incident(engine: Engine, c: dict, t: datetime) -> list[Event]:
    spec = {**c["incident"], "t": UNTIMED}
    [report] = parse_items(engine, "incidents", [spec]).commands
    incident: Incident = report.incident
    return engine.report_incident(t, incident)


def _channel(engine: Engine, c: dict, t: datetime) -> list[Event]:
    a, b = c["between"]
    return engine.set_channel(t, a, b, c["state"] == "active")


def _clock(engine: Engine, c: dict, t: datetime) -> list[Event]:
    return engine.advance(t, inclusive=True)


def policy_command(policy: Policy) -> dict:
    """The command that sets the rules of a log (``serve --policy``; ``deconfliction demo`` plays a scenario with its own)."""
    return {"type": "policy.set", "policy": _policy_spec(policy)}


def _policy(engine: Engine, c: dict, t: datetime) -> list[Event]:
    # only before the first zone, plan, report or message, so that everything is checked under one set of rules
    spec = dict(c["policy"])
    spec["escalation"] = tuple(spec.get("escalation", Policy().escalation))
    try:
        policy = Policy(**spec)
    except (TypeError, DeconflictionError) as exc:
        raise Refused(f"the policy is not valid: {exc}") from None
    engine.set_policy(policy)
    return []


def _agree(engine: Engine, c: dict, t: datetime) -> list[Event]:
    return engine.agree_zone(t, c["zone"], c["by"])


def _decline(engine: Engine, c: dict, t: datetime) -> list[Event]:
    return engine.decline_zone(t, c["zone"], c["by"], c["reason"])


def _zone_amend(engine: Engine, c: dict, t: datetime) -> list[Event]:
    [zone] = parse_items(engine, "zones", [c["zone"]]).zones
    return engine.amend_zone(zone, t, c["party"], c["version"])


def _zone_withdraw(engine: Engine, c: dict, t: datetime) -> list[Event]:
    return engine.withdraw_zone(t, c["zone"], c["by"], c["reason"])


def _operation_amend(engine: Engine, c: dict, t: datetime) -> list[Event]:
    [op] = parse_items(engine, "operations", [c["operation"]]).operations
    if op.party != c["party"]:
        raise Refused("the party of an amended operation is the command's")
    return engine.amend_operation(op, t, c["version"])


def _operation_cancel(engine: Engine, c: dict, t: datetime) -> list[Event]:
    return engine.cancel_operation(t, c["operation"], c["by"], c["reason"])


_HANDLERS = {
    "party.add": _party_add, "zone.declare": _zone, "operation.declare": _operation,
    "operations.declare": _operations, "draft.check": _draft, "positions": _positions,
    "message.send": _message, "message.broadcast": _broadcast, "message.ack": _ack, "message.disown": _disown,
    "incident.report": _incident,
    "channel.set": _channel, "clock": _clock, "policy.set": _policy,
    "zone.agree": _agree, "zone.decline": _decline,
    "zone.amend": _zone_amend, "zone.withdraw": _zone_withdraw,
    "operation.amend": _operation_amend, "operation.cancel": _operation_cancel,
}
