"""Tactical detection: units against zones (approaching, entered, exited, crossed) and against each other."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from ..geo.cpa import closest_approaches
from ..geo.wgs84 import metres_per_degree
from ..geo.zones import ZoneIndex
from .events import EventType
from .model import Policy, Report, Zone

OUT, BAND, INSIDE = 0, 1, 2

Finding = tuple[EventType, dict]


@dataclass(slots=True)
class TrackState:
    """The last applied report of a unit, with its velocity (m/s east, north, up)."""

    track: str
    party: str
    t: datetime
    lon: float
    lat: float
    alt_m: float
    v_east_mps: float = 0.0
    v_north_mps: float = 0.0
    v_up_mps: float = 0.0


def velocity_from(report: Report, previous: TrackState | None) -> tuple[float, float, float]:
    """Velocity from the report's speed and course, else from the previous report, else at rest."""
    alt = math.nan if report.alt_m is None else report.alt_m
    dt = (report.t - previous.t).total_seconds() if previous is not None else 0.0
    if report.climb_mps is not None:
        v_up = report.climb_mps
    else:
        v_up = (alt - previous.alt_m) / dt if dt > 0 and not math.isnan(alt - previous.alt_m) else 0.0
    if report.speed_mps is not None and report.course_deg is not None:
        c = math.radians(report.course_deg)
        return report.speed_mps * math.sin(c), report.speed_mps * math.cos(c), v_up
    if previous is None or dt <= 0:
        return 0.0, 0.0, v_up
    kx, ky = metres_per_degree((report.lat + previous.lat) / 2)
    dlon = (report.lon - previous.lon + 180.0) % 360.0 - 180.0
    return float(dlon * kx / dt), float((report.lat - previous.lat) * ky / dt), v_up


class ZoneWatch:
    """Per (unit, zone) state machine with one event per episode."""

    def __init__(self):
        self.state: dict[str, dict[int, int]] = {}
        self.left: list[tuple[str, str]] = []
        """(track, zone id) episodes that the last update ended: the unit is clear of zone and band."""

    def update(
        self, t: datetime, batch: Sequence[Report], previous: Sequence[TrackState | None],
        zones: Sequence[Zone], index: ZoneIndex, bands_m: np.ndarray,
    ) -> list[Finding]:
        """Findings for a batch of reports, all at time ``t``, in input order then zone order."""
        if not zones:
            return []
        self.left = []
        new = self._classify(t, batch, zones, index)
        crossed = self._crossings(t, batch, previous, zones, index)
        findings: list[Finding] = []
        for i, report in enumerate(batch):
            old = self.state.get(report.track, {})
            now = new.get(i, {})
            for z in sorted(set(old) | set(now) | crossed.get(i, set())):
                kind = _transition(old.get(z, OUT), now.get(z, OUT), z in crossed.get(i, set()))
                if kind is not None:
                    fields = {"zone": zones[z].id, "track": report.track, "party": report.party,
                              "lon": round(report.lon, 6), "lat": round(report.lat, 6)}
                    findings.append((kind, fields))
                if now.get(z, OUT) == OUT and (old.get(z, OUT) != OUT or kind == EventType.ZONE_CROSSED):
                    self.left.append((report.track, zones[z].id))
            if now:
                self.state[report.track] = now
            else:
                self.state.pop(report.track, None)
        return findings

    def _classify(self, t, batch, zones, index) -> dict[int, dict[int, int]]:
        lon = np.array([r.lon for r in batch])
        lat = np.array([r.lat for r in batch])
        hits = index.query(lon, lat)
        new: dict[int, dict[int, int]] = {}
        for p, z, inside in zip(hits.point.tolist(), hits.zone.tolist(), hits.inside.tolist()):
            zone, report = zones[z], batch[p]
            if report.party in zone.allowed or not zone.window.contains(t):
                continue
            if not zone.altitude.contains(report.alt_m):
                continue
            new.setdefault(p, {})[z] = INSIDE if inside else BAND
        return new

    def _crossings(self, t, batch, previous, zones, index) -> dict[int, set[int]]:
        """Zones whose inside a straight segment between two consecutive reports passes through."""
        moved = [i for i, prev in enumerate(previous) if prev is not None]
        if not moved:
            return {}
        a = np.array([[previous[i].lon, previous[i].lat] for i in moved])
        b = np.array([[batch[i].lon, batch[i].lat] for i in moved])
        box_i, zone_i = index.zones_near_boxes(
            np.minimum(a[:, 0], b[:, 0]), np.minimum(a[:, 1], b[:, 1]),
            np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1]),
        )
        out: dict[int, set[int]] = {}
        for k, z in zip(box_i.tolist(), zone_i.tolist()):
            i = moved[k]
            report, prev, zone = batch[i], previous[i], zones[z]
            if report.party in zone.allowed:
                continue
            if self.state.get(report.track, {}).get(z) == INSIDE:
                continue
            if not zone.window.overlaps_span(prev.t, t) or not _altitude_span_meets(zone, prev, report):
                continue
            if zone.shape.segment_min_distance_m(prev.lon, prev.lat, report.lon, report.lat) == 0.0:
                out.setdefault(i, set()).add(z)
        return out


def _altitude_span_meets(zone: Zone, prev: TrackState, report: Report) -> bool:
    alts = [a for a in (prev.alt_m, report.alt_m) if a is not None and not math.isnan(a)]
    if len(alts) < 2:
        return True
    return zone.altitude.contains(min(alts)) or zone.altitude.contains(max(alts)) or (
        min(alts) <= zone.altitude.lower_m <= max(alts)
    )


def _transition(old: int, now: int, crossed: bool) -> EventType | None:
    if now == INSIDE and old != INSIDE:
        return EventType.ZONE_ENTERED
    if old == INSIDE and now != INSIDE:
        return EventType.ZONE_EXITED
    if crossed:
        return EventType.ZONE_CROSSED
    if now == BAND and old == OUT:
        return EventType.ZONE_APPROACHING
    return None


class ProximityWatch:
    """Unit against unit: predicted closest approach and actual loss of separation, once per encounter."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self.encounters: dict[tuple[str, str], EventType] = {}
        self.clear_since: dict[tuple[str, str], datetime] = {}

    def update(self, t: datetime, tracks: dict[str, TrackState]) -> list[Finding]:
        p = self.policy
        horizon = t - timedelta(seconds=p.track_timeout_s)
        active = sorted((s for s in tracks.values() if s.t >= horizon), key=lambda s: s.track)
        live = {s.track for s in active}
        current: dict[tuple[str, str], tuple[EventType, dict]] = {}
        if len({s.party for s in active}) >= 2:  # units of one party are never compared
            current = self._conflicts(t, active)
        findings: list[Finding] = []
        for pair in sorted(current):
            kind, fields = current[pair]
            seen = self.encounters.get(pair)
            if seen is None or (seen == EventType.PROXIMITY_PREDICTED and kind == EventType.SEPARATION_LOST):
                findings.append((kind, fields))
                self.encounters[pair] = kind
        gap = timedelta(seconds=p.encounter_gap_s)
        for pair in list(self.encounters):
            if pair in current:
                self.clear_since.pop(pair, None)
            elif t - self.clear_since.setdefault(pair, t) >= gap or pair[0] not in live or pair[1] not in live:
                # clear long enough (noise in one report does not end an encounter)
                del self.encounters[pair]
                del self.clear_since[pair]
        return findings

    def _conflicts(self, t: datetime, active: list[TrackState]) -> dict:
        p = self.policy
        dt = np.array([(t - s.t).total_seconds() for s in active])
        lon = np.array([s.lon for s in active])
        lat = np.array([s.lat for s in active])
        ve = np.array([s.v_east_mps for s in active])
        vn = np.array([s.v_north_mps for s in active])
        vu = np.array([s.v_up_mps for s in active])
        alt = np.array([s.alt_m for s in active]) + vu * dt
        kx, ky = metres_per_degree(lat)
        lon, lat = lon + ve * dt / kx, lat + vn * dt / ky
        parties = sorted({s.party for s in active})
        groups = np.array([parties.index(s.party) for s in active])
        enc = closest_approaches(lon, lat, alt, ve, vn, vu, lookahead_s=p.lookahead_s,
                                 separation_m=p.separation_m, vertical_m=p.vertical_m, groups=groups)
        out = {}
        for k in range(len(enc)):
            a, b = active[int(enc.i[k])], active[int(enc.j[k])]
            names = (a.track, b.track)
            vnow = float(enc.vertical_now_m[k])
            lost = enc.distance_m[k] < p.separation_m and (math.isnan(vnow) or vnow < p.vertical_m)
            base = {"tracks": list(names), "parties": [a.party, b.party]}
            if lost:
                out[names] = (EventType.SEPARATION_LOST, {**base, "distance_m": _m(enc.distance_m[k]),
                                                           "vertical_m": _m(vnow)})
            else:
                cpa_t = t + timedelta(seconds=round(float(enc.cpa_t_s[k]), 3))
                out[names] = (EventType.PROXIMITY_PREDICTED, {
                    **base, "cpa_t": cpa_t, "cpa_distance_m": _m(enc.cpa_distance_m[k]),
                    "vertical_m": _m(enc.vertical_m[k]), "distance_m": _m(enc.distance_m[k]),
                })
        return out


def _m(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else round(x, 1)

