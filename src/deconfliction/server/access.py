"""Need-to-know: the one place that decides what a party may see, and what of it.

A party sees its own items; the zones it agreed, may be in, or was told about; another party's
plan only where it conflicts with one of its own, and only what the conflict needs; another
party's unit only while it concerns the party's zones or units; the messages it sent, received
or relayed; and of the log, the events about these. A coordinator also reads every message,
zone, line and notification record. Every answer of the service that reveals anything goes
through :class:`Access`; the units view folds the log with :class:`Concern` and
:func:`unit_concerns` from here.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..engine.core import NOTIFICATION, Engine
from ..engine.events import Event, EventType
from ..engine.model import Zone
from ..engine.strategic import PlanConflict
from ..times import format_time
from . import render

if TYPE_CHECKING:
    from .units import UnitView


@dataclass(frozen=True, slots=True)
class Viewer:
    """The calling party and whether it is a coordinator (reads every message and notification record)."""

    party: str
    coordinator: bool = False


_ZONE_TRACKING = frozenset({"zone.approaching", "zone.entered", "zone.exited", "zone.crossed"})
_BETWEEN_UNITS = frozenset({"plan.conflict", "proximity.predicted", "separation.lost", "plan.conflict_ended",
                            "plan.conflict_bound"})
_CHANGES = frozenset({"zone.amended", "zone.withdrawn", "operation.amended", "operation.cancelled",
                      "operation.activated", "operation.ended"})
"""Changes of a zone or an operation (by its owner, or by the clock), for the parties told of it then."""
_DRAFTS = frozenset({"draft.checked", "draft.conflict"})
"""A dry run's record, for the party that checked its draft; the owner told of a hidden item it met."""


@dataclass(frozen=True, slots=True)
class References:
    """What a viewer's message may refer to: zone ids, and (id, party) of operations."""

    zones: list[str]
    operations: list[tuple[str, str]]


class Access:
    """What one viewer may see of an engine's state and of the log, and what of it. Lists read the
    engine as it is: call them under the ledger's lock."""

    def __init__(self, engine: Engine, viewer: Viewer):
        self.engine, self.viewer = engine, viewer

    # -- events ----------------------------------------------------------------------------------
    def sees(self, event: dict) -> bool:
        """Need-to-know for one event of the log."""
        kind, p, coordinator = event["type"], self.viewer.party, self.viewer.coordinator
        if kind.startswith("message."):
            m = self.engine.message(event.get("message", ""))
            route = m.route if m is not None else ()
            return coordinator or p in (event.get("from"), event.get("to"), event.get("by")) or p in route
        if kind == "broadcast.sent":
            b = self.engine.broadcast_record(event["broadcast"])
            return coordinator or p == event["from"] or (b is not None and p in dict(b.reached))
        if kind == "broadcast.reached":
            return coordinator or p in (event["from"], event["party"])
        if kind in _ZONE_TRACKING:
            # the zone's parties that had agreed it when the unit was seen (not those that agreed later)
            return p == event["party"] or p in self.engine.bound(event["zone"], event.get("seq"))
        if kind in ("zone.declared", "zone.agreed", "zone.declined"):
            return self.sees_zone(event["zone"])
        if kind == "operation.declared":
            return p == event["party"] or self.notified_of(event["operation"])
        if kind in _CHANGES:  # the parties told of the item when it changed, as the engine listed them
            return p in event["parties"] or (coordinator and kind.startswith("zone."))
        if kind in _BETWEEN_UNITS:
            return p in event["parties"]
        if kind.startswith("channel."):
            return coordinator or p in event["between"]
        if kind in _DRAFTS:
            return p == event["party"]
        if kind == "incident.reported":
            return coordinator or p == event["reporter"] or any(p in n["declared_by"] for n in event["notified"])
        return coordinator

    def view(self, event: dict) -> dict:
        """An event as the viewer may see it (call after :meth:`sees`): see :func:`event_view`."""
        return event_view(event, self.viewer, self.engine)

    def caused(self, events: Iterable[Event]) -> list[dict]:
        """The events a command caused that the party that sent it may see, in the answer to it:
        deadlines of other parties' messages that fell due before the command fire with it, and
        their events are the others' business."""
        return [self.view(d) for d in (e.to_dict() for e in events) if self.sees(d)]

    def conflicts(self, events: Iterable[Event]) -> list[dict]:
        """The plan.conflict events of a declaration, in the answer to the party that declared it."""
        found = (e.to_dict() for e in events if e.type == EventType.PLAN_CONFLICT)
        return [e for e in found if self.sees(e)]

    def dry_conflicts(self, found: Iterable[PlanConflict]) -> list[dict]:
        """The conflicts a declaration would have (a dry run), as its plan.conflict events would show them."""
        return [render.dry_conflict(c) for c in found if self.viewer.party in c.parties]

    def draft_conflicts(self, found: Iterable[PlanConflict], draft_kind: str) -> tuple[list[dict], int, list[dict]]:
        """A dry run's conflicts split by need-to-know: those with items the viewer may see (whole, as
        :meth:`dry_conflicts`), and for each of the others, whom to tell: ``{party, item, item_kind,
        window}`` for every owner of the item met (the item's party, or the zone's parties) but the
        viewer; and how many those are. Of the others the viewer learns only how many there are."""
        shown, hidden, told = [], 0, []
        for c in found:
            if draft_kind == "operation":
                item, item_kind = c.other, c.other_kind
            else:  # a draft zone meets declared operations
                item, item_kind = c.operation, "operation"
            visible = self.sees_zone(item) if item_kind == "zone" else self.sees_operation(item)
            if visible:
                shown.append(render.dry_conflict(c))
                continue
            hidden += 1
            owners = self.engine.zones[item].parties if item_kind == "zone" else (self.engine.operations[item].party,)
            told += [{"party": owner, "item": item, "item_kind": item_kind, "window": render.window(c.window)}
                     for owner in owners if owner != self.viewer.party]
        return shown, hidden, told

    def sees_operation(self, op_id: str) -> bool:
        """Operations the viewer declared or was told about (a delivered warning or notification)."""
        op = self.engine.operations.get(op_id)
        return op is not None and (op.party == self.viewer.party or self.told_about(op_id))

    # -- zones -----------------------------------------------------------------------------------
    def told_about(self, item: str) -> bool:
        """The viewer received (or relayed) a delivered message about the item; sending one proves nothing."""
        party = self.viewer.party
        return any(m.delivered_at is not None and party in m.route[1:] for m in self.engine.messages_about(item))

    def notified_of(self, item: str) -> bool:
        """The viewer received (or relayed) the delivered notification of the item that its declaring
        party sent (``notify``); a message another party wrote about it is not one."""
        party = self.viewer.party
        return any(m.delivered_at is not None and m.warning and m.kind == NOTIFICATION and party in m.route[1:]
                   for m in self.engine.messages_about(item))

    def sees_zone(self, zone_id: str) -> bool:
        """Zones the viewer agreed, may be in, or has been told about (warnings, notifications)."""
        zone = self.engine.zones.get(zone_id)
        if zone is None:
            return False
        v = self.viewer
        return v.coordinator or v.party in zone.parties or v.party in zone.allowed or self.told_about(zone_id)

    def zones(self) -> list[dict]:
        """The zones the viewer may see, whole."""
        return [render.zone(z, self.engine.perimeter_m(z), self.engine.agreement(z.id), self.engine.versions.get(z.id),
                            self.engine.ended.get(z.id)) for z in self._zones()]

    def _zones(self) -> Iterator[Zone]:
        return (z for z in self.engine.zones.values() if self.sees_zone(z.id))

    # -- operations ------------------------------------------------------------------------------
    def operations(self, log: Iterable[dict]) -> list[dict]:
        """The viewer's operations, whole (with their version, and their state as their events told
        it); another party's that notified the viewer of it (``notify``), with what the notification told (name and
        volumes, ``notified: true``) and what the operation's events since told it (version, state,
        cancellation: it is among their ``parties``); and another party's where the log has a plan.conflict between
        it and one of the viewer's, and only what the conflict needs: with which, and when."""
        engine, party = self.engine, self.viewer.party
        out = [{"id": op.id, "party": op.party, "priority": op.priority, "volumes": [render.volume(v) for v in op.volumes],
                "version": engine.versions.get(op.id),
                **render.operation_state(engine.operation_state(op.id), engine.ended.get(op.id))}
               for op in engine.operations.values() if op.party == party]
        out += [{"id": op.id, "party": op.party, "name": op.name, "notified": True,
                 "volumes": [render.volume(v) for v in op.volumes], "version": engine.versions.get(op.id),
                 **render.operation_state(engine.operation_state(op.id), engine.ended.get(op.id))}
                for op in engine.operations.values() if op.party != party and self.notified_of(op.id)]
        mine_all = {o["id"] for o in out if o["party"] == party}
        for e in log:
            if e["type"] != "plan.conflict" or e["other_kind"] != "operation":
                continue
            pair = {e["operation"], e["other"]}
            mine = pair & mine_all
            for theirs in pair - mine if mine else ():
                other = engine.operations[theirs]
                seen = next((o for o in out if o["id"] == theirs), None)
                if seen is None:
                    out.append({"id": other.id, "party": other.party, "conflicts_with": sorted(mine),
                                "window": e["window"]})
                else:
                    seen["conflicts_with"] = sorted(set(seen.get("conflicts_with", [])) | mine)
        return out

    # -- messages and parties --------------------------------------------------------------------
    def references(self) -> References:
        """The zones and operations the viewer may see, which are the ones its messages may refer to."""
        party = self.viewer.party
        ops = [(o.id, o.party) for o in self.engine.operations.values()
               if o.party == party or self.told_about(o.id)]
        return References([z.id for z in self._zones()], ops)

    def me(self) -> dict:
        """The viewer's own party: id, name, its lines (both ways), and whether it is a coordinator."""
        parties, party = self.engine.parties, self.viewer.party
        me = parties.get(party)
        lines = set(me.channels if me else ()) | {p.id for p in parties.values() if party in p.channels}
        return {"party": party, "name": me.name if me else "", "coordinator": self.viewer.coordinator,
                "channels": sorted(lines)}

    # -- units -----------------------------------------------------------------------------------
    def units(self, view: UnitView, now: datetime) -> list[dict]:
        """The viewer's units, and another party's unit while it concerns the viewer (an open
        :class:`Concern`): of that one only the reports made meanwhile, and why. By track id."""
        party = self.viewer.party
        with view.folded() as (trails, concerns):
            out = [render.unit(track, t.party, t.points, t.last, True) for track, t in trails.items()
                   if t.party == party and t.points]
            for (concerned, track), concern in concerns.items():
                trail = trails.get(track)
                if concerned != party or trail is None or trail.party == party:
                    continue
                if concern.open(now) and concern.points:
                    unit = render.unit(track, trail.party, concern.points, concern.last, False)
                    unit["concerns"] = concern.reasons(now)
                    out.append(unit)
        return sorted(out, key=lambda u: u["id"])


def event_visible(event: dict, viewer: Viewer, engine: Engine) -> bool:
    """Need-to-know for one event of the log (:meth:`Access.sees`)."""
    return Access(engine, viewer).sees(event)


def event_view(event: dict, viewer: Viewer, engine: Engine) -> dict:
    """An event as the viewer may see it (call after :func:`event_visible`).

    A ``broadcast.reached`` carries what the broadcast said (``sent``: its ``broadcast.sent``'s t,
    kind, text, ref, area and window): whoever sees it may see that event too, and a party reached
    later than the broadcast was sent need not read the log again from before it.

    An incident's notification record is given whole only to a coordinator and, item by item, to
    the parties that declared the zone or plan; anyone else sees of an item only the entries
    about itself (and nothing of items it was not told about), marked ``partial``.
    """
    if event.get("type") == "broadcast.reached" and (b := engine.broadcast_record(event["broadcast"])) is not None:
        return {**event, "sent": {"t": format_time(b.sent_at), "kind": b.kind, "text": b.text, "ref": b.ref,
                                  "area": b.area, "window": render.window(b.window)}}
    if event.get("type") != "incident.reported" or viewer.coordinator:
        return event
    notified = []
    for n in event["notified"]:
        if viewer.party in n["declared_by"]:
            notified.append(n)
            continue
        mine = [t for t in n["told"] if t["party"] == viewer.party]
        if mine:
            notified.append({k: v for k, v in n.items() if k != "not_told"} | {"told": mine, "partial": True})
    return {**event, "notified": notified}


# -- units of other parties -----------------------------------------------------------------------
ZONE_OPENS = frozenset({"zone.approaching", "zone.entered"})
ZONE_CLOSES = frozenset({"zone.exited"})
NEAR = frozenset({"proximity.predicted", "separation.lost"})


@dataclass(slots=True)
class Concern:
    """Why another party's unit concerns a party: the zones of the party it is approaching or in,
    and the party's units it is near (each until a time); with the unit's reports made meanwhile."""

    zones: set[str] = field(default_factory=set)
    near: dict[str, datetime] = field(default_factory=dict)
    points: deque = field(default_factory=lambda: deque(maxlen=render.TRAIL_POINTS))
    """The unit's reports made while it concerned the party (and the one that ended it)."""
    last: dict = field(default_factory=dict)

    def open(self, now: datetime) -> bool:
        return bool(self.zones) or any(until > now for until in self.near.values())

    def reasons(self, now: datetime) -> dict:
        """What the viewer is shown of why: the zones, and its units still near."""
        return {"zones": sorted(self.zones), "units": sorted(o for o, until in self.near.items() if until > now)}


def unit_concerns(event: dict, bound: Callable[[str, int | None], Sequence[str]]) -> list[tuple[str, str, str]]:
    """Whom an event makes another party's unit concern: (party, track, why), ``why`` being the
    zone (a zone event: the zone's parties that had agreed it then, other than the unit's; ``bound``
    is :meth:`Engine.bound`) or the party's own unit near it (a closest approach or loss of
    separation: each party, about the other's unit)."""
    kind = event.get("type")
    if kind in ZONE_OPENS or kind in ZONE_CLOSES:
        return [(party, event["track"], event["zone"]) for party in bound(event["zone"], event.get("seq"))
                if party != event["party"]]
    if kind in NEAR:
        (a, b), (pa, pb) = event["tracks"], event["parties"]
        return [(pb, a, b), (pa, b, a)]
    return []
