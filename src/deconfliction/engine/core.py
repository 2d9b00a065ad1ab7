"""The Engine: takes timestamped commands, returns events. No clock, no I/O, no threads."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np

from ..errors import DeconflictionError
from ..geo.zones import ZoneIndex
from .events import Event, EventType
from .model import Operation, Party, Policy, Report, Zone
from .strategic import PlanConflict, conflicts_with_operations, conflicts_with_zones
from .tactical import ProximityWatch, TrackState, ZoneWatch, velocity_from


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
        self.tracks: dict[str, TrackState] = {}
        self.stats: Counter[str] = Counter()
        self._seq = 0
        self._index: ZoneIndex | None = None
        self._zone_watch = ZoneWatch()
        self._proximity = ProximityWatch(policy)

    def _event(self, t: datetime, kind: str, fields: dict) -> Event:
        self._seq += 1
        self.stats[f"events.{kind}"] += 1
        return Event(self._seq, t, kind, fields)

    def band_m(self, zone: Zone) -> float:
        """Width of the zone's warning band in metres."""
        return self.policy.perimeter_m if zone.perimeter_m is None else zone.perimeter_m

    # -- declarations -------------------------------------------------------------------------
    def declare_zone(self, zone: Zone, t: datetime) -> list[Event]:
        """Add a zone; returns its declaration and any conflicts with operations already declared."""
        if zone.id in self.zones or zone.id in self.operations:
            raise DeconflictionError(f"id {zone.id!r} is already declared")
        zone.shape.bounds_deg(self.band_m(zone))  # rejects shapes the index cannot hold
        self.zones[zone.id] = zone
        self._index = None
        events = [self._event(t, EventType.ZONE_DECLARED, {
            "zone": zone.id, "kind": str(zone.kind), "parties": list(zone.parties), "allowed": list(zone.allowed)})]
        for op in self.operations.values():
            events += [self._conflict(t, c) for c in conflicts_with_zones(op, [zone])]
        return events

    def declare_operation(self, op: Operation, t: datetime) -> list[Event]:
        """Add a planned operation; returns its declaration and its conflicts with zones and plans."""
        if op.id in self.operations or op.id in self.zones:
            raise DeconflictionError(f"id {op.id!r} is already declared")
        found = self.check_operation(op)
        self.operations[op.id] = op
        events = [self._event(t, EventType.OPERATION_DECLARED, {"operation": op.id, "party": op.party})]
        return events + [self._conflict(t, c) for c in found]

    def check_operation(self, op: Operation) -> list[PlanConflict]:
        """Conflicts the operation would have, without declaring it."""
        return conflicts_with_zones(op, self.zones.values()) + conflicts_with_operations(
            op, self.operations.values())

    def _conflict(self, t: datetime, c: PlanConflict) -> Event:
        return self._event(t, EventType.PLAN_CONFLICT, {
            "operation": c.operation, "other": c.other, "other_kind": c.other_kind,
            "parties": list(c.parties), "window": {"start": c.window.start, "end": c.window.end},
        })

    # -- reports ------------------------------------------------------------------------------
    def report(self, t: datetime, reports: Sequence[Report]) -> list[Event]:
        """Apply position reports that all carry time ``t``; returns the detections they cause.

        A report not later than the unit's previous one, or naming another party than the
        unit's first report did, is ignored and counted in ``stats`` rather than applied.
        """
        batch: list[Report] = []
        previous: list[TrackState | None] = []
        seen: set[str] = set()
        for r in reports:
            prev = self.tracks.get(r.track)
            if r.track in seen or (prev is not None and r.t <= prev.t):
                self.stats["reports.out_of_order"] += 1
                continue
            if prev is not None and prev.party != r.party:
                self.stats["reports.party_mismatch"] += 1
                continue
            seen.add(r.track)
            batch.append(r)
            previous.append(prev)
        self.stats["reports.applied"] += len(batch)
        findings = []
        if batch and self.zones:
            zones = list(self.zones.values())
            findings += self._zone_watch.update(t, batch, previous, zones, self.index, self._bands(zones))
        for r, prev in zip(batch, previous):
            ve, vn, vu = velocity_from(r, prev)
            alt = math.nan if r.alt_m is None else float(r.alt_m)
            self.tracks[r.track] = TrackState(r.track, r.party, r.t, r.lon, r.lat, alt, ve, vn, vu)
        if batch:
            findings += self._proximity.update(t, self.tracks)
        return [self._event(t, kind, fields) for kind, fields in findings]

    def _bands(self, zones: list[Zone]) -> np.ndarray:
        return np.array([self.band_m(z) for z in zones])

    @property
    def index(self) -> ZoneIndex:
        """The zone index, rebuilt after zones change."""
        if self._index is None:
            zones = list(self.zones.values())
            self._index = ZoneIndex([z.shape for z in zones], self._bands(zones))
        return self._index
