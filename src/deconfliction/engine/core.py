"""The Engine: takes timestamped commands, returns events. No clock, no I/O, no threads."""
from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import numpy as np

from ..errors import RateLimited, Refused
from ..geo.shapes import Shape
from ..geo.volumes import TimeWindow
from ..geo.zones import ZoneIndex
from .agreement import AgreementRecord, Agreements
from .channel import Channel, Message, MessageRecord
from .events import Event, EventType
from .model import Incident, Operation, Party, Policy, Report, Zone
from .notifications import record
from .states import OperationClock, OperationState
from .strategic import PlanConflict, VolumeIndex, conflicts_with_operations, conflicts_with_zones
from .hygiene import KINDS, screen
from .tactical import INSIDE, Previous, ProximityWatch, ZoneWatch, plausible, velocities
from .tracks import ReportBatch, TrackState, TrackTable, to_us

_WARN_ON = {EventType.ZONE_APPROACHING: "is approaching", EventType.ZONE_ENTERED: "has entered",
            EventType.ZONE_CROSSED: "has crossed"}


def message_key(*parts: object) -> str:
    """The id of an automatic message from what it is about (operation and zone, zone, track and
    episode, ...), joined by '/'. Each part has its '~' and '/' escaped as in a JSON Pointer
    (RFC 6901: ``~0``, ``~1``; both characters are safe in a URL path), so that no two different
    tuples give one id whatever the ids contain (zone ``Z`` with track ``x/1`` and zone ``Z/x``
    with track ``1`` would both be ``Z/x/1``); ids without those characters read as before. A
    party's own message ids cannot hold '/' (the schema), so they never take an automatic one's."""
    return "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def message_key_parts(message_id: str) -> list[str]:
    """The parts :func:`message_key` joined (``message_key_parts(message_key(*p)) == list(map(str, p))``)."""
    return [p.replace("~1", "/").replace("~0", "~") for p in message_id.split("/")]


NOTIFICATION = "notification"
"""The kind of the messages a declaration's ``notify`` sends."""


def notification_id(item: str, party: str) -> str:
    """The id of the notification of zone or operation ``item`` to ``party``: ``notify/ITEM/PARTY/1``
    (four parts: no warning's id has four)."""
    return message_key("notify", item, party, 1)


def _window(w) -> dict:
    return {"start": w.start, "end": w.end}


def area_message_id(broadcast: str, party: str) -> str:
    """The id of the copy of area broadcast ``broadcast`` that reaches ``party``: ``area/BROADCAST/PARTY/1``."""
    return message_key("area", broadcast, party, 1)


@dataclass(slots=True)
class _Broadcast:
    id: str
    sender: str
    kind: str
    text: str
    ref: str | None
    shape: Shape
    window: TimeWindow
    sent_at: datetime
    reached: dict[str, datetime]


@dataclass(frozen=True, slots=True)
class BroadcastRecord:
    """An area broadcast as it stands: who sent it, and which parties it reached, when; and what
    it said (its kind, text, ref, area and window, as its ``broadcast.sent`` has them)."""

    id: str
    sender: str
    sent_at: datetime
    reached: tuple[tuple[str, datetime], ...]
    kind: str = ""
    text: str = ""
    ref: str | None = None
    area: dict | None = None
    """The area as GeoJSON."""
    window: TimeWindow | None = None


def _zone_conflict_text(op_id: str, zone: Zone) -> str:
    """The warning to an operation's party whose plan enters a zone it is not allowed in."""
    return (f"Your planned operation {op_id} enters zone {zone.id} ({zone.name or zone.kind}), "
            "where your party is not on the allowed list. Acknowledge.")


DRAFT_WINDOW = timedelta(seconds=60)
"""The while over which a party's dry runs are counted against the limit a draft.check command carries."""

NEVER = TimeWindow(datetime(1, 1, 1, tzinfo=timezone.utc), datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc))
"""The window of a withdrawn zone as the watch sees it: it holds at no time that comes."""


def _pair(c: PlanConflict) -> tuple[str, str]:
    """A conflict's key: (operation, zone), or the two operations in sorted order."""
    return (c.operation, c.other) if c.other_kind == "zone" else tuple(sorted((c.operation, c.other)))


def _need_reason(reason: object) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise Refused("a reason is needed: a non-empty text")


@dataclass(frozen=True, slots=True)
class UnitInside:
    """A unit inside a zone its party is not allowed in, as of the unit's last report."""

    track: str
    party: str
    zone: str
    last_report_at: datetime


class Engine:
    """Deterministic deconfliction rules: the same commands in the same order give the same events.

    Times are timezone-aware UTC datetimes passed in by the caller; the engine never reads a clock.
    Commands must come in time order; events carry increasing ``seq`` numbers from 1.
    """

    def __init__(self, policy: Policy, parties: Iterable[Party] = ()):
        self.policy = policy
        self.parties: dict[str, Party] = {p.id: p for p in parties}
        self.zones: dict[str, Zone] = {}
        self.operations: dict[str, Operation] = {}
        self.tracks = TrackTable()
        self.stats: Counter[str] = Counter()
        self._seq = 0
        self._index: ZoneIndex | None = None
        self._unindexed: list[Zone] = []
        """Zones declared since the index was last brought up to date (they are added to it)."""
        self._zone_watch = ZoneWatch()
        self._proximity = ProximityWatch(policy)
        self.channel = Channel(policy, self.parties)
        self.declared_at: dict[str, datetime] = {}
        self.incidents: dict[str, Incident] = {}
        self._episodes: Counter[str] = Counter()
        self._open_episodes: set[str] = set()
        self._plans = VolumeIndex(cell_deg=0.1)  # plans are mostly small: a finer grid, fewer candidates
        self._zone_boxes = VolumeIndex()
        self._broadcasts: dict[str, _Broadcast] = {}
        self._agreements = Agreements()
        self.versions: dict[str, int] = {}
        """Each zone's and operation's version: 1 when declared, one more at each amendment."""
        self.ended: dict[str, tuple[datetime, str, str]] = {}
        """Withdrawn zones and cancelled operations: (when, by whom, why)."""
        self._open_conflicts: dict[tuple[str, str], dict] = {}
        self._involved: dict[str, set[str]] = {}
        self._op_states = OperationClock()
        self._rounds: Counter[tuple[str, str]] = Counter()
        """How often each conflict (by :func:`_pair`) has begun: a conflict that returns is warned again."""
        self._drafts: dict[str, deque[datetime]] = {}
        """Each party's dry runs of the last :data:`DRAFT_WINDOW`, by time."""

    def set_policy(self, policy: Policy) -> None:
        """Adopt other rules; only while nothing but parties was added (no zone, plan, report,
        message or incident yet)."""
        if self.zones or self.operations or len(self.tracks) or self.channel.messages or self.incidents:
            raise Refused("the rules can change only before the first zone, plan, report, message or "
                                     "incident; a log keeps the rules it started with")
        self.policy = policy
        self._proximity = ProximityWatch(policy)
        self.channel = Channel(policy, self.parties)

    def _event(self, t: datetime, kind: str, fields: dict) -> Event:
        self._seq += 1
        self.stats[f"events.{kind}"] += 1
        return Event(self._seq, t, kind, fields)

    def _emit(self, t: datetime, findings) -> list[Event]:
        return [self._event(t, kind, fields) for kind, fields in findings]

    def advance(self, until: datetime, inclusive: bool = False) -> list[Event]:
        """Fire deadlines, window ends and operations' changes of state falling due before ``until``
        (or at it, if inclusive), each at its own time, in time order (at one time, the channel's
        first, then the operations' in the order they were scheduled).

        Every command calls this first; a driver calls it with ``inclusive=True`` at the end of
        a replay, or on a timer in a live service, so deadlines fire on time without a command.
        """
        out: list[Event] = []
        while (due := self.next_due()) is not None and (due < until or (inclusive and due == until)):
            if self.channel.next_due() == due:
                out += [self._event(at, kind, fields) for at, (kind, fields) in self.channel.fire(due)]
            else:
                out += [self._state_changed(at, op_id, state) for at, op_id, state in self._op_states.fire(due)]
        return out

    def _state_changed(self, t: datetime, op_id: str, state: OperationState) -> Event:
        """operation.activated or operation.ended, told to the parties told of the operation then."""
        kind = EventType.OPERATION_ACTIVATED if state == OperationState.ACTIVE else EventType.OPERATION_ENDED
        op = self.operations[op_id]
        return self._event(t, kind, {"operation": op_id, "party": op.party, "version": self.versions[op_id],
                                     "parties": self.told_of(op_id)})

    def perimeter_m(self, zone: Zone) -> float:
        """Width in metres of the zone's perimeter band (where a unit is warned before it enters):
        the zone's own ``perimeter_m``, else the policy's."""
        return self.policy.perimeter_m if zone.perimeter_m is None else zone.perimeter_m

    def add_party(self, party: Party, t: datetime) -> list[Event]:
        """A party joins (the live service adds parties over time)."""
        if party.id in self.parties:
            raise Refused(f"party {party.id!r} is already known")
        events = self.advance(t)
        self.channel.add_party(party)
        return events

    # -- declarations -------------------------------------------------------------------------
    def declare_zone(self, zone: Zone, t: datetime, by: str | None = None) -> list[Event]:
        """Add a zone; returns its declaration and any conflicts with operations already declared,
        then the notifications ``by`` (one of the zone's parties; the first when not given) sends
        to the parties in ``zone.notify``."""
        if zone.id in self.zones or zone.id in self.operations:
            raise Refused(f"id {zone.id!r} is already declared")
        zone.shape.bounds_deg(self.perimeter_m(zone))  # rejects shapes the index cannot hold
        events = self.advance(t)
        self.zones[zone.id] = zone
        self._zone_boxes.add(zone.id, [zone.volume])
        self.declared_at[zone.id] = t
        self._unindexed.append(zone)
        self._agreements.propose(zone, t, self._seq + 1)
        self.versions[zone.id] = 1
        fields = {"zone": zone.id, "kind": str(zone.kind), "parties": list(zone.parties), "allowed": list(zone.allowed)}
        if zone.proposer is not None and set(zone.parties) != {zone.proposer}:  # it asks others to agree
            fields |= {"proposer": zone.proposer, "status": self._agreements.record(zone.id).status}
        events.append(self._event(t, EventType.ZONE_DECLARED, fields))
        for op in (self.operations[k] for k in self._plans.candidates([zone.volume]) if k not in self.ended):
            for c in self._bind(conflicts_with_zones(op, [zone])):
                events += self._conflict(t, c)
        if zone.notify:
            sender = by if by in zone.parties else zone.parties[0]
            events += self._notify(t, sender, zone, "zone", {
                "name": zone.name, "kind": str(zone.kind), "parties": list(zone.parties), "allowed": list(zone.allowed),
                "perimeter_m": self.perimeter_m(zone), "geometry": zone.shape.to_geojson(),
                "altitude": zone.altitude.to_json(), "window": _window(zone.window)})
        return events

    # -- lifecycle: amendments, withdrawals, cancellations ------------------------------------------
    def _live(self, zone: Zone) -> Zone:
        """The zone as the watch sees it: a withdrawn zone holds at no time."""
        return replace(zone, window=NEVER) if zone.id in self.ended else zone

    def _check_change(self, item_id: str, kind: str, by: str, version: int | None) -> None:
        """Refused unless the item exists, is still in force, is ``by``'s, and (when given) at ``version``."""
        items = self.zones if kind == "zone" else self.operations
        if item_id not in items:
            raise Refused(f"no such {kind} {item_id!r}")
        if self.owner(item_id) != by:
            raise Refused(f"only {self.owner(item_id)}, which declared {kind} {item_id!r}, may change it")
        if item_id in self.ended:
            raise Refused(f"{kind} {item_id!r} was already {'withdrawn' if kind == 'zone' else 'cancelled'}")
        if version is not None and version != self.versions[item_id]:
            raise Refused(f"{kind} {item_id!r} is at version {self.versions[item_id]}, not {version}")

    def owner(self, item_id: str) -> str | None:
        """Who may amend or withdraw an item: a zone's proposer (its first party without one), an operation's party."""
        if item_id in self.operations:
            return self.operations[item_id].party
        zone = self.zones.get(item_id)
        if zone is None:
            return None
        return zone.proposer or (zone.parties[0] if zone.parties else None)

    def told_of(self, item_id: str) -> list[str]:
        """The parties told of an item: its own, those it names or allows, those in conflict with it,
        and those that received or relayed a message about it."""
        out = set(self._involved.get(item_id, ()))
        if item_id in self.zones:
            zone = self.zones[item_id]
            out |= set(zone.parties) | set(zone.allowed)
        if item_id in self.operations:
            out.add(self.operations[item_id].party)
        for m in map(self.channel.messages.__getitem__, self.channel.about.get(item_id, ())):
            if m.delivered_at is not None:
                out |= set(m.route[1:]) | {m.sender}
        return sorted(out)

    def _end_conflicts(self, t: datetime, item_id: str, still: set[tuple[str, str]], reason: str) -> list[Event]:
        """plan.conflict_ended for the open conflicts of the item not in ``still``, and their warnings resolved."""
        out: list[Event] = []
        for key in [k for k in self._open_conflicts if item_id in k and k not in still]:
            fields = self._open_conflicts.pop(key)
            out.append(self._event(t, EventType.PLAN_CONFLICT_ENDED, {**fields, "reason": reason}))
            op, other, round_ = fields["operation"], fields["other"], self._round_part(key)
            keys = [message_key(op, other, *round_)] + (
                [message_key(other, op, *round_)] if fields["other_kind"] == "operation" else [])
            for k in keys:
                out += self._emit(t, self.channel.cause_ended(t, f"cause:{k}", reason))
        return out

    def _recheck(self, t: datetime, item_id: str, found: list[PlanConflict], reason: str) -> list[Event]:
        """After an amendment: conflicts that no longer hold end, new ones are recorded (and warned)."""
        out = self._end_conflicts(t, item_id, {_pair(c) for c in found}, reason)
        for c in found:
            if _pair(c) not in self._open_conflicts:
                out += self._conflict(t, c)
        return out

    def amend_operation(self, op: Operation, t: datetime, version: int) -> list[Event]:
        """The operation's party replaces it whole (at ``version``, the one it is at); checked again."""
        self._check_change(op.id, "operation", op.party, version)
        found = self.check_operation(op)
        events = self.advance(t)
        self.operations[op.id] = op
        self._plans.add(op.id, op.volumes)
        self.versions[op.id] += 1
        state = self._op_states.set(op, t)
        events.append(self._event(t, EventType.OPERATION_AMENDED, {
            "operation": op.id, "party": op.party, "version": self.versions[op.id], "parties": self.told_of(op.id),
            "state": str(state)}))
        return events + self._recheck(t, op.id, found, f"operation {op.id} was amended")

    def cancel_operation(self, t: datetime, op_id: str, by: str, reason: str) -> list[Event]:
        """The operation's party cancels it: its conflicts end and their warnings are resolved."""
        _need_reason(reason)
        self._check_change(op_id, "operation", by, None)
        events = self.advance(t)
        self.ended[op_id] = (t, by, reason)
        self._op_states.cancel(op_id)
        events.append(self._event(t, EventType.OPERATION_CANCELLED, {
            "operation": op_id, "party": by, "reason": reason, "version": self.versions[op_id],
            "parties": self.told_of(op_id)}))
        return events + self._end_conflicts(t, op_id, set(), f"operation {op_id} was cancelled: {reason}")

    def amend_zone(self, zone: Zone, t: datetime, by: str, version: int) -> list[Event]:
        """The zone's proposer replaces it whole: parties it newly names are asked to agree it;
        plans are checked against it again."""
        self._check_change(zone.id, "zone", by, version)
        old = self.zones[zone.id]
        zone = replace(zone, proposer=old.proposer)
        zone.shape.bounds_deg(self.perimeter_m(zone))
        told = set(self.told_of(zone.id))
        events = self.advance(t)
        self.zones[zone.id] = zone
        self._zone_boxes.add(zone.id, [zone.volume])
        self._index, self._unindexed = None, []
        self._agreements.amend(zone)
        self.versions[zone.id] += 1
        parties = sorted(told | set(self.told_of(zone.id)))
        events.append(self._event(t, EventType.ZONE_AMENDED, {
            "zone": zone.id, "by": by, "version": self.versions[zone.id], "parties": parties,
            "status": self._agreements.record(zone.id).status}))
        found = [c for k in self._plans.candidates([zone.volume]) if k not in self.ended
                 for c in self._bind(conflicts_with_zones(self.operations[k], [zone]))]
        return events + self._recheck(t, zone.id, found, f"zone {zone.id} was amended")

    def withdraw_zone(self, t: datetime, zone_id: str, by: str, reason: str) -> list[Event]:
        """The zone's proposer withdraws it: it holds no longer; its conflicts end and the warnings
        about it (plans, and units in or near it) are resolved."""
        _need_reason(reason)
        self._check_change(zone_id, "zone", by, None)
        events = self.advance(t)
        self.ended[zone_id] = (t, by, reason)
        events.append(self._event(t, EventType.ZONE_WITHDRAWN, {
            "zone": zone_id, "by": by, "reason": reason, "version": self.versions[zone_id],
            "parties": self.told_of(zone_id)}))
        why = f"zone {zone_id} was withdrawn: {reason}"
        events += self._end_conflicts(t, zone_id, set(), why)
        for episode in sorted(e for e in self._open_episodes if message_key_parts(e)[0] == zone_id):
            self._open_episodes.discard(episode)
            cause = "cause:" + message_key(*message_key_parts(episode), self._episodes[episode])
            events += self._emit(t, self.channel.cause_ended(t, cause, why))
        return events

    # -- agreement ----------------------------------------------------------------------------
    def agree_zone(self, t: datetime, zone_id: str, by: str) -> list[Event]:
        """``by``, named in the zone, agrees it: from now on the zone binds it too, and so do the
        zone's open plan conflicts whose window is not over: for each, in the order they were
        found, ``plan.conflict_bound`` naming ``by`` (the operation's party learns who now stands
        behind the zone); and where no party of the zone had warned the operation's party of it
        (the zone bound nobody else), ``by`` warns it now, as the conflict's first warning."""
        self._agreements.check(zone_id, by)
        events = self.advance(t)
        self._agreements.agree(zone_id, by, t, self._seq + 1)
        status = self._agreements.record(zone_id).status
        events.append(self._event(t, EventType.ZONE_AGREED, {"zone": zone_id, "by": by, "status": status}))
        return events + self._bind_open_conflicts(t, zone_id, by)

    def _bind_open_conflicts(self, t: datetime, zone_id: str, by: str) -> list[Event]:
        """The zone's open conflicts now bind ``by`` (see :meth:`agree_zone`)."""
        out: list[Event] = []
        zone = self.zones[zone_id]
        for key in [k for k, f in self._open_conflicts.items() if k[1] == zone_id and f["other_kind"] == "zone"]:
            fields = self._open_conflicts[key]
            if by in fields["parties"]:
                continue
            op = self.operations[key[0]]
            window = next((c.window for c in conflicts_with_zones(op, [zone])), None)
            if window is None or (window.end is not None and window.end <= t):
                continue
            warned = len(fields["parties"]) > 1
            fields["parties"] = [*fields["parties"], by]
            for item in key:
                self._involved.setdefault(item, set()).add(by)
            event = self._event(t, EventType.PLAN_CONFLICT_BOUND, {
                "operation": op.id, "other": zone_id, "other_kind": "zone", "party": by,
                "parties": list(fields["parties"]), "window": {"start": window.start, "end": window.end}})
            out.append(event)
            if not warned:
                text = _zone_conflict_text(op.id, zone)
                cause = {"event": event.seq, "type": str(event.type), "operation": op.id, "other": zone_id}
                out += self._warn(t, message_key(op.id, zone_id, *self._round_part(key)), by, op.party, text,
                                  zone_id, cause, window.end)
        return out

    def decline_zone(self, t: datetime, zone_id: str, by: str, reason: str) -> list[Event]:
        """``by``, named in the zone, declines it, saying why: the zone does not bind it."""
        if not isinstance(reason, str) or not reason.strip():
            raise Refused("a decline needs a reason: a non-empty text")
        self._agreements.check(zone_id, by)
        events = self.advance(t)
        self._agreements.decline(zone_id, by, t, reason)
        status = self._agreements.record(zone_id).status
        return events + [self._event(t, EventType.ZONE_DECLINED, {"zone": zone_id, "by": by, "reason": reason,
                                                                   "status": status})]

    def agreement(self, zone_id: str) -> AgreementRecord | None:
        """Who agreed the zone and when, who declined it and why; None for an unknown zone."""
        return self._agreements.record(zone_id)

    def bound(self, zone_id: str, before: int | None = None) -> tuple[str, ...]:
        """The parties a zone binds: its proposer and those that agreed, in the order they agreed;
        with ``before``, those it bound before the event of that sequence number (when it happened)."""
        return self._agreements.bound(zone_id, before)

    def _bind(self, found: list[PlanConflict]) -> list[PlanConflict]:
        """Conflicts with zones name, of the zone's parties, only those it binds (that agreed it)."""
        out = []
        for c in found:
            if c.other_kind == "zone":
                c = PlanConflict(c.operation, c.other, c.other_kind,
                                 (c.parties[0], *(p for p in self.bound(c.other) if p != c.parties[0])), c.window)
            out.append(c)
        return out

    def declare_operation(self, op: Operation, t: datetime) -> list[Event]:
        """Add a planned operation; returns its declaration and its conflicts with zones and plans."""
        if op.id in self.operations or op.id in self.zones:
            raise Refused(f"id {op.id!r} is already declared")
        found = self.check_operation(op)
        events = self.advance(t)
        self.operations[op.id] = op
        self._plans.add(op.id, op.volumes)
        self.declared_at[op.id] = t
        self.versions[op.id] = 1
        state = self._op_states.set(op, t)
        events.append(self._event(t, EventType.OPERATION_DECLARED, {"operation": op.id, "party": op.party,
                                                                    "state": str(state)}))
        for c in found:
            events += self._conflict(t, c)
        if op.notify:
            events += self._notify(t, op.party, op, "operation", {"name": op.name, "volumes": [
                {"geometry": v.shape.to_geojson(), "altitude": v.altitude.to_json(), "window": _window(v.window)}
                for v in op.volumes]})
        return events

    def _notify(self, t: datetime, sender: str, item: Zone | Operation, kind: str, told: dict) -> list[Event]:
        """A notification of the item from ``sender`` to each party in ``item.notify``: a message of
        kind ``notification`` whose ``message.sent`` event carries what the party is told (the
        item's geometry, altitude and window, under ``notified``). It must be acknowledged by the
        deadline, and escalates through the policy's levels until it is (its kind stays
        ``notification``; the level is on each ``message.escalated``). Its id is
        ``notify/ITEM/PARTY/1`` (:func:`notification_id`)."""
        events: list[Event] = []
        for party in item.notify:
            if party == sender or party not in self.parties:
                continue
            message_id = notification_id(item.id, party)
            if message_id in self.channel.messages:
                continue
            text = f"Notification of {kind} {item.id}" + (f" ({item.name})" if item.name else "") + ". Acknowledge receipt."
            message = Message(message_id, sender, party, NOTIFICATION, text, item.id, t, cause=f"cause:{message_id}",
                              extra={"notified": {"item": item.id, "item_kind": kind, **told}}, level=0)
            events += self._emit(t, self.channel.send(t, message))
        return events

    def check_operation(self, op: Operation) -> list[PlanConflict]:
        """Conflicts the operation would have, without declaring it."""
        zones = [self.zones[k] for k in self._zone_boxes.candidates(op.volumes) if k not in self.ended]
        others = [self.operations[k] for k in self._plans.candidates(op.volumes) if k not in self.ended]
        return self._bind(conflicts_with_zones(op, zones)) + conflicts_with_operations(op, others)

    def note_draft(self, t: datetime, party: str, draft: str, draft_kind: str, conflicts: int, hidden: int,
                   told: list[dict], limit: int | None = None) -> list[Event]:
        """A party's draft (a dry run) was checked: ``draft.checked`` for the party (``conflicts``
        with items it may see, ``hidden`` with items it may not), then ``draft.conflict`` for each owner of an
        item it may not see that the draft met: ``told`` holds dicts of party, item, item_kind and
        window (start and end). Nothing else changes.

        ``limit``: RateLimited (nothing changed) if the party's dry runs in the :data:`DRAFT_WINDOW`
        up to ``t`` number ``limit`` already (the count is the log's, so it holds however many
        processes write the log, and across restarts)."""
        if limit is not None:
            self.check_draft_rate(party, t, limit)
        events = self.advance(t)
        mine = self._drafts.setdefault(party, deque())
        mine.append(t)
        while mine[0] <= t - DRAFT_WINDOW:
            mine.popleft()
        events.append(self._event(t, EventType.DRAFT_CHECKED, {
            "party": party, "draft": draft, "draft_kind": draft_kind, "conflicts": conflicts, "hidden": hidden}))
        for n in told:
            events.append(self._event(t, EventType.DRAFT_CONFLICT, {
                "party": n["party"], "by": party, "draft": draft, "draft_kind": draft_kind, "item": n["item"],
                "item_kind": n["item_kind"], "window": dict(n["window"])}))
        return events

    def check_draft_rate(self, party: str, t: datetime, limit: int) -> None:
        """RateLimited, with the whole seconds from ``t`` until the party may make another dry run,
        if the dry runs the log has of it in the :data:`DRAFT_WINDOW` up to ``t`` number ``limit``."""
        recent = [d for d in self._drafts.get(party, ()) if d > t - DRAFT_WINDOW]
        if len(recent) < limit:
            return
        wait_s = max(1, math.ceil((recent[-limit] + DRAFT_WINDOW - t).total_seconds())) if recent else 60
        raise RateLimited(f"at most {limit} dry runs a minute per party; retry in {wait_s} s", wait_s)

    def check_zone(self, zone: Zone) -> list[PlanConflict]:
        """Conflicts a zone would have with the operations declared, without declaring it (through
        the plan index, as :meth:`declare_zone` finds them)."""
        return [c for k in self._plans.candidates([zone.volume]) if k not in self.ended
                for c in conflicts_with_zones(self.operations[k], [zone])]

    def _conflict(self, t: datetime, c: PlanConflict) -> list[Event]:
        """The conflict event, then the warnings it causes: to the operation's party about a zone,
        or to both parties about each other's operation, each with its own deadline."""
        event = self._event(t, EventType.PLAN_CONFLICT, {
            "operation": c.operation, "other": c.other, "other_kind": c.other_kind,
            "parties": list(c.parties), "window": {"start": c.window.start, "end": c.window.end},
            **self._priorities(c),
        })
        out = [event]
        self._rounds[_pair(c)] += 1
        round_ = self._round_part(_pair(c))
        self._open_conflicts[_pair(c)] = {"operation": c.operation, "other": c.other, "other_kind": c.other_kind,
                                          "parties": list(c.parties)}
        for item in (c.operation, c.other):
            self._involved.setdefault(item, set()).update(c.parties)
        op = self.operations.get(c.operation)
        party = op.party if op is not None else c.parties[0]
        cause = {"event": event.seq, "type": str(event.type), "operation": c.operation, "other": c.other}
        if c.other_kind == "zone":
            zone = self.zones[c.other]
            sender = next((p for p in self.bound(zone.id) if p != party), None)
            if sender is not None:
                text = _zone_conflict_text(c.operation, zone)
                out += self._warn(t, message_key(c.operation, zone.id, *round_), sender, party, text, zone.id,
                                  cause, c.window.end)
        else:
            other = self.operations[c.other]
            for mine, theirs in ((op, other), (other, op)):
                text = (f"Operation {theirs.id} of {theirs.party} shares space and time with your operation "
                        f"{mine.id}. Acknowledge.")
                out += self._warn(t, message_key(mine.id, theirs.id, *round_), theirs.party, mine.party, text,
                                  theirs.id, cause, c.window.end)
        return out

    def _round_part(self, pair: tuple[str, str]) -> tuple[int, ...]:
        """What a conflict's warnings add to their ids: nothing the first time it begins
        (``OPERATION/OTHER``), its round after (``OPERATION/OTHER/2`` once an amendment ended it and
        another brought it back), so that a returning conflict is warned again."""
        n = self._rounds[pair]
        return () if n <= 1 else (n,)

    def _priorities(self, c: PlanConflict) -> dict:
        """Both operations' priorities (higher wins), for a conflict between two plans."""
        if c.other_kind != "operation":
            return {}
        ops = (self.operations.get(c.operation), self.operations.get(c.other))
        return {"priorities": {op.id: op.priority for op in ops if op is not None}}

    def _warn(self, t: datetime, message_id: str, sender: str, to: str, text: str, ref: str,
              cause: dict, ends: datetime | None = None) -> list[Event]:
        key = f"cause:{message_id}"
        if self.channel.open_cause(key) or message_id in self.channel.messages:
            return []
        message = Message(message_id, sender, to, self.policy.escalation[0], text, ref, t, cause=key,
                          extra={"cause": cause})
        events = self._emit(t, self.channel.send(t, message))
        if ends is not None:
            self.channel.end_cause_at(ends, key)
        return events

    def _warn_zone(self, t: datetime, event: Event) -> list[Event]:
        """One warning per episode: from the first report near or in the zone until the unit is clear."""
        zone, track, party = self.zones[event.fields["zone"]], event.fields["track"], event.fields["party"]
        episode = message_key(zone.id, track)
        sender = next((p for p in self.bound(zone.id) if p != party), None)
        if sender is None or episode in self._open_episodes:
            return []
        self._open_episodes.add(episode)
        self._episodes[episode] += 1
        text = (f"Your unit {track} {_WARN_ON[event.type]} zone {zone.id} ({zone.name or zone.kind}), where "
                "your party is not on the allowed list. Acknowledge.")
        cause = {"event": event.seq, "type": str(event.type), "track": track}
        return self._warn(t, message_key(zone.id, track, self._episodes[episode]), sender, party, text, zone.id, cause)

    # -- reports ------------------------------------------------------------------------------
    def report(self, t: datetime, reports: Sequence[Report] | ReportBatch) -> list[Event]:
        """Apply position reports at time ``t``; returns the detections they cause.

        Reports that repeat the unit's last one (duplicates), are not later than it (out of order),
        lie farther from it than the unit could have gone (jumps; see :mod:`.hygiene` for when a
        new place is accepted) or name another party than the unit's first report did are held
        back from detection and counted in ``stats`` by kind (``reports.duplicates`` etc.); the
        counts for the batch are also left in its ``held_back``. ``reports`` may be a
        :class:`ReportBatch` (columns).
        """
        out = self.advance(t)
        batch = reports if isinstance(reports, ReportBatch) else ReportBatch.of(reports)
        if not len(batch):
            return out
        table = self.tracks
        rows = table.rows_of(batch)
        party = table.codes(batch.parties)
        screening = screen(batch, rows, party, table, self.policy.max_speed_mps, self.policy.position_noise_m)
        batch.held_back = {kind: screening.counts[kind] for kind in KINDS}
        for kind, n in screening.counts.items():
            if n:
                self.stats[f"reports.{kind}"] += n
        restart = screening.restart
        if not screening.keep.all():
            index = np.flatnonzero(screening.keep)
            batch, rows, party, restart = batch.take(index), rows[index], party[index], restart[index]
        self.stats["reports.applied"] += len(batch)
        if not len(batch):
            return out
        prev = self._previous(batch, rows, restart)
        findings = []
        self._zone_watch.left = []
        if self.zones:
            zones = [self._live(z) for z in self.zones.values()]
            findings += self._zone_watch.update(t, batch, prev, zones, self.index, self._bands(zones))
        ve, vn, vu = plausible(*velocities(batch, prev), self.policy)
        table.put(table.slots(batch.ids, create=True, rows=rows), party, batch.t_us, batch.lon, batch.lat, batch.alt_m,
                  ve, vn, vu)
        findings += self._proximity.update(t, table)
        for kind, fields in findings:
            event = self._event(t, kind, fields)
            out.append(event)
            if kind in _WARN_ON:
                out += self._warn_zone(t, event)
        if self._broadcasts:
            out += self._reach_in_batch(t, batch)
        for track, zone_id in self._zone_watch.left:
            episode = message_key(zone_id, track)
            self._open_episodes.discard(episode)
            reason = f"{track} is clear of zone {zone_id} and its band"
            cause = "cause:" + message_key(zone_id, track, self._episodes[episode])
            out += self._emit(t, self.channel.cause_ended(t, cause, reason))
        return out

    def _previous(self, batch: ReportBatch, rows: np.ndarray, restart: np.ndarray) -> Previous:
        """Each report's unit's last applied report; none for a new unit, or for a jump applied as a
        new start (no path or velocity between the two places is assumed)."""
        table = self.tracks
        known = rows >= 0
        safe = np.where(known, rows, 0)
        return Previous(known & ~restart, table.t_us[safe], table.lon[safe], table.lat[safe], table.alt_m[safe])

    # -- messages, acknowledgements, incidents ---------------------------------------------------
    def send(self, t: datetime, message_id: str, sender: str, to: str, kind: str, text: str = "",
             ref: str | None = None) -> list[Event]:
        """A party sends a message; it is routed over the lines, relayed where needed, and given a deadline."""
        if message_id in self.channel.messages or message_id in self._broadcasts:
            raise Refused(f"message id {message_id!r} is already used")
        out = self.advance(t)
        return out + self._emit(t, self.channel.send(t, Message(message_id, sender, to, kind, text, ref, t)))

    def acknowledge(self, t: datetime, message_id: str, by: str) -> list[Event]:
        """``by`` acknowledges a message (as addressee, or as intermediary for its relaying)."""
        return self.advance(t) + self._emit(t, self.channel.acknowledge(t, message_id, by))

    def disown(self, t: datetime, message_id: str, by: str, reason: str) -> list[Event]:
        """``by`` says the unit or activity a message is about is not theirs; the sender sees it."""
        return self.advance(t) + self._emit(t, self.channel.disown(t, message_id, by, reason))

    def set_channel(self, t: datetime, a: str, b: str, active: bool) -> list[Event]:
        """Suspend or resume the direct line between two parties."""
        return self.advance(t) + self._emit(t, self.channel.set_line(t, a, b, active))

    def broadcast(self, t: datetime, broadcast_id: str, sender: str, shape: Shape, window: TimeWindow, kind: str,
                  text: str = "", ref: str | None = None) -> list[Event]:
        """A message addressed to an area (leaflets, a radio call in the clear): every party other
        than the sender with a unit inside it now (its last report, if not older than the policy's
        ``track_timeout_s``), or reported inside it later while the broadcast stands (within its
        window, from its sending on), receives it once: a copy ``area/ID/PARTY/1`` is sent to that
        party over the lines, and ``broadcast.reached`` records it, ``via`` ``channel``, or
        ``broadcast_only`` when no line, direct or relayed, could ever carry it."""
        if broadcast_id in self._broadcasts or broadcast_id in self.channel.messages:
            raise Refused(f"message id {broadcast_id!r} is already used")
        out = self.advance(t)
        b = _Broadcast(broadcast_id, sender, kind, text, ref, shape, window, t, {})
        self._broadcasts[broadcast_id] = b
        out.append(self._event(t, EventType.BROADCAST_SENT, {
            "broadcast": b.id, "from": sender, "kind": kind, "text": text, "ref": ref,
            "area": shape.to_geojson(), "window": _window(window)}))
        if window.contains(t) and len(self.tracks):
            table = self.tracks
            n = len(table)
            fresh = table.t_us[:n] >= to_us(t) - int(self.policy.track_timeout_s * 1e6)
            inside = fresh & shape.contains(table.lon[:n], table.lat[:n])
            parties = {table.parties[table.party[i]] for i in map(int, inside.nonzero()[0])}
            out += self._reach(t, b, sorted(parties))
        return out

    def _reach_in_batch(self, t: datetime, batch: ReportBatch) -> list[Event]:
        out: list[Event] = []
        for b in self._broadcasts.values():
            if not b.window.contains(t):
                continue
            inside = b.shape.contains(batch.lon, batch.lat)
            out += self._reach(t, b, sorted({batch.parties[i] for i in map(int, inside.nonzero()[0])}))
        return out

    def _reach(self, t: datetime, b: _Broadcast, parties: list[str]) -> list[Event]:
        out: list[Event] = []
        for party in parties:
            if party == b.sender or party in b.reached or party not in self.parties:
                continue
            b.reached[party] = t
            message_id = area_message_id(b.id, party)
            found = self.channel.send(t, Message(message_id, b.sender, party, b.kind, b.text, b.ref, t,
                                                 extra={"broadcast": b.id}))
            via = "broadcast_only" if any(kind == EventType.MESSAGE_UNDELIVERABLE for kind, _ in found) else "channel"
            out.append(self._event(t, EventType.BROADCAST_REACHED, {
                "broadcast": b.id, "from": b.sender, "party": party, "message": message_id, "via": via}))
            out += self._emit(t, found)
        return out

    def report_incident(self, t: datetime, incident: Incident) -> list[Event]:
        """Record an incident with the notification record of every zone and plan covering it."""
        if incident.id in self.incidents:
            raise Refused(f"incident id {incident.id!r} is already used")
        out = self.advance(t)
        self.incidents[incident.id] = incident
        notified = record(t, incident.shape, [z for z in self.zones.values() if z.id not in self.ended],
                          [o for o in self.operations.values() if o.id not in self.ended], self.declared_at,
                          self.channel.messages.values(), self.parties, self._agreements.record)
        fields = {"incident": incident.id, "reporter": incident.reporter, "kind": incident.kind,
                  "geometry": incident.shape.to_geojson(), "text": incident.text, "notified": notified}
        return out + [self._event(t, EventType.INCIDENT_REPORTED, fields)]

    # -- reading: what drivers and views may ask; nothing here changes the engine ------------------
    def next_due(self) -> datetime | None:
        """When the next deadline, window end or change of an operation's state falls due (what
        :meth:`advance` would fire), or None. Drops lapsed changes of state on the way: call it
        where the engine is not being changed (under the ledger's lock, in the service)."""
        due = [d for d in (self.channel.next_due(), self._op_states.next_due()) if d is not None]
        return min(due) if due else None

    def operation_state(self, op_id: str) -> OperationState | None:
        """Where an operation stands, as its events told it (the last of ``operation.declared``,
        ``.amended``, ``.activated``, ``.ended`` and ``.cancelled``); None for an unknown id."""
        return self._op_states.states.get(op_id)

    def message(self, message_id: str) -> MessageRecord | None:
        """A message with its record as it stands, or None for an id never used."""
        m = self.channel.messages.get(message_id)
        return None if m is None else m.record()

    def messages(self) -> list[MessageRecord]:
        """Every message with its record as it stands, in the order they were sent."""
        return [m.record() for m in self.channel.messages.values()]

    def messages_about(self, item: str) -> list[MessageRecord]:
        """The messages referring to the zone or operation ``item``, in the order they were sent."""
        return [self.channel.messages[k].record() for k in self.channel.about.get(item, ())]

    def broadcast_record(self, broadcast_id: str) -> BroadcastRecord | None:
        """An area broadcast and the parties it has reached so far, or None for an id never used."""
        b = self._broadcasts.get(broadcast_id)
        return None if b is None else BroadcastRecord(b.id, b.sender, b.sent_at, tuple(b.reached.items()), b.kind,
                                                      b.text, b.ref, b.shape.to_geojson(), b.window)

    def message_count(self) -> int:
        """How many message ids are used (parties' messages and automatic warnings)."""
        return len(self.channel.messages) + len(self._broadcasts)

    def unit(self, track: str) -> TrackState | None:
        """A unit's last applied report and its velocity, or None for a unit never reported."""
        return self.tracks[track] if track in self.tracks else None

    def unit_count(self) -> int:
        """How many units have had a report applied."""
        return len(self.tracks)

    def units_inside(self) -> list[UnitInside]:
        """Units inside a zone their party is not allowed in (the perimeter band does not count), as
        of each unit's last report: by track id, then in the order the zones were declared."""
        zones = list(self.zones.values())
        out = []
        for track, states in sorted(self._zone_watch.state.items()):
            for z, state in sorted(states.items()):
                if state == INSIDE and z < len(zones) and zones[z].id not in self.ended:
                    unit = self.tracks[track]
                    out.append(UnitInside(track, unit.party, zones[z].id, unit.t))
        return out

    def first_foreign_report(self, batch: ReportBatch, party: str) -> int | None:
        """The index in ``batch`` of the first report of a unit that is another party's than ``party``
        (a unit is the party's of its first applied report), or None. The rows looked up are kept on
        the batch, so :meth:`report` does not look them up again while no unit was added."""
        table = self.tracks
        rows = table.rows_of(batch)
        known = rows >= 0
        others = np.flatnonzero(known)[table.party[rows[known]] != table.code_of(party)]
        return int(others[0]) if len(others) else None

    def _bands(self, zones: list[Zone]) -> np.ndarray:
        return np.array([self.perimeter_m(z) for z in zones])

    @property
    def index(self) -> ZoneIndex:
        """The zone index of every zone, in declaration order; zones declared since it was last asked
        for are added to it (which rebuilds only what they need: see ZoneIndex.extended)."""
        if self._index is None:
            zones = list(self.zones.values())
            self._index = ZoneIndex([z.shape for z in zones], self._bands(zones))
        elif self._unindexed:
            self._index = self._index.extended([z.shape for z in self._unindexed], self._bands(self._unindexed))
        self._unindexed = []
        return self._index
