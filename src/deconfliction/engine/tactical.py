"""Tactical detection: units against zones (approaching, entered, exited, crossed) and against each other."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from ..geo.cpa import closest_approaches
from ..geo.wgs84 import dead_reckoned, geodesic_distance_m, metres_per_degree
from ..geo.zones import ZoneIndex
from .events import EventType
from .model import Policy, Zone
from .tracks import ReportBatch, TrackTable, from_us, to_us

OUT, BAND, INSIDE = 0, 1, 2

Finding = tuple[EventType, dict]

_ROUNDING = 1.0 + 1e-9
"""A speed told at the limit comes back from its east and north components up to rounding."""


@dataclass(slots=True)
class Previous:
    """For each report of a batch, the unit's last applied report (where ``known``)."""

    known: np.ndarray
    t_us: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    alt_m: np.ndarray


def plausible(ve: np.ndarray, vn: np.ndarray, vu: np.ndarray, policy: Policy):
    """The velocities, with motion beyond the policy's limits (or not finite) set to rest: it is never
    predicted, so that no report, told or implied, can carry a prediction off the ellipsoid."""
    fast = ~(np.hypot(ve, vn) <= policy.max_speed_mps * _ROUNDING)
    steep = ~(np.abs(vu) <= policy.max_climb_mps * _ROUNDING)
    if fast.any():
        ve, vn = np.where(fast, 0.0, ve), np.where(fast, 0.0, vn)
    if steep.any():
        vu = np.where(steep, 0.0, vu)
    return ve, vn, vu


def velocities(batch: ReportBatch, prev: Previous) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Velocity (m/s east, north, up) of each report: from its speed and course, else from the unit's
    previous report, else at rest; vertical from its climb rate, else from the last two altitudes."""
    dt = np.where(prev.known, (batch.t_us - prev.t_us) / 1e6, 0.0)
    moving = dt > 0
    told = ~(np.isnan(batch.speed_mps) | np.isnan(batch.course_deg))
    with np.errstate(invalid="ignore", divide="ignore"):
        climb_from_alt = np.where(moving, (batch.alt_m - prev.alt_m) / dt, 0.0)
        v_up = np.where(np.isnan(batch.climb_mps), np.where(np.isnan(climb_from_alt), 0.0, climb_from_alt),
                        batch.climb_mps)
        if not told.all():  # from the displacement where a report does not tell its speed and course
            kx, ky = metres_per_degree((batch.lat + prev.lat) / 2)
            dlon = (batch.lon - prev.lon + 180.0) % 360.0 - 180.0
            ve = np.where(moving, dlon * kx / dt, 0.0)
            vn = np.where(moving, (batch.lat - prev.lat) * ky / dt, 0.0)
    if told.any():
        c = np.radians(batch.course_deg)
        if told.all():
            ve, vn = batch.speed_mps * np.sin(c), batch.speed_mps * np.cos(c)
        else:
            ve = np.where(told, batch.speed_mps * np.sin(c), ve)
            vn = np.where(told, batch.speed_mps * np.cos(c), vn)
    return ve, vn, v_up


class ZoneWatch:
    """Per (unit, zone) state machine with one event per episode."""

    def __init__(self):
        self.state: dict[str, dict[int, int]] = {}
        self.left: list[tuple[str, str]] = []
        """(track, zone id) episodes that the last update ended: the unit is clear of zone and band."""

    def update(self, t: datetime, batch: ReportBatch, prev: Previous, zones: Sequence[Zone], index: ZoneIndex,
               bands_m: np.ndarray) -> list[Finding]:
        """Findings for a batch of reports (at most one per unit), in input order then zone order."""
        if not zones:
            return []
        self.left = []
        new = self._classify(t, batch, zones, index)
        crossed = self._crossings(t, batch, prev, zones, index)
        candidates = set(new) | set(crossed)
        if self.state:
            where = {track: i for i, track in enumerate(batch.ids)}
            candidates.update(i for track in self.state if (i := where.get(track)) is not None)
        findings: list[Finding] = []
        for i in sorted(candidates):
            track = batch.ids[i]
            old = self.state.get(track, {})
            now = new.get(i, {})
            cross = crossed.get(i, set())
            for z in sorted(set(old) | set(now) | cross):
                kind = _transition(old.get(z, OUT), now.get(z, OUT), z in cross)
                if kind is not None:
                    fields = {"zone": zones[z].id, "track": track, "party": batch.parties[i],
                              "lon": round(float(batch.lon[i]), 6), "lat": round(float(batch.lat[i]), 6)}
                    findings.append((kind, fields))
                if now.get(z, OUT) == OUT and (old.get(z, OUT) != OUT or kind == EventType.ZONE_CROSSED):
                    self.left.append((track, zones[z].id))
            if now:
                self.state[track] = now
            else:
                self.state.pop(track, None)
        return findings

    def _classify(self, t, batch: ReportBatch, zones, index) -> dict[int, dict[int, int]]:
        hits = index.query(batch.lon, batch.lat)
        new: dict[int, dict[int, int]] = {}
        for p, z, inside in zip(hits.point.tolist(), hits.zone.tolist(), hits.inside.tolist()):
            zone = zones[z]
            if batch.parties[p] in zone.allowed or not zone.window.contains(t):
                continue
            if not zone.altitude.contains(float(batch.alt_m[p])):
                continue
            new.setdefault(p, {})[z] = INSIDE if inside else BAND
        return new

    def _crossings(self, t, batch: ReportBatch, prev: Previous, zones, index) -> dict[int, set[int]]:
        """Zones whose inside a straight segment between two consecutive reports passes through."""
        moved = np.flatnonzero(prev.known)
        if not len(moved):
            return {}
        owner, ax, ay, bx, by = _segments(prev.lon[moved], prev.lat[moved], batch.lon[moved], batch.lat[moved])
        box_i, zone_i = index.zones_near_boxes(np.minimum(ax, bx), np.minimum(ay, by),
                                               np.maximum(ax, bx), np.maximum(ay, by))
        out: dict[int, set[int]] = {}
        for k, z in zip(box_i.tolist(), zone_i.tolist()):
            i = int(moved[owner[k]])
            zone, track = zones[z], batch.ids[i]
            if batch.parties[i] in zone.allowed:
                continue
            if self.state.get(track, {}).get(z) == INSIDE:
                continue
            if not zone.window.overlaps_span(from_us(prev.t_us[i]), t):
                continue
            if not _altitude_span_meets(zone, float(prev.alt_m[i]), float(batch.alt_m[i])):
                continue
            if zone.shape.segment_min_distance_m(float(ax[k]), float(ay[k]), float(bx[k]), float(by[k])) == 0.0:
                out.setdefault(i, set()).add(z)
        return out


def _segments(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray):
    """(owner, x0, y0, x1, y1): the moves from a to b as segments straight in longitude/latitude,
    the short way round: a move across the antimeridian is two segments, one on each side of it
    (no zone crosses it), where drawn straight it would go round the world; ``owner`` is each
    segment's move."""
    owner = np.arange(len(ax))
    k = np.flatnonzero(np.abs(bx - ax) > 180.0)
    if not len(k):
        return owner, ax, ay, bx, by
    edge = np.where(ax[k] >= 0.0, 180.0, -180.0)  # the antimeridian on a's side
    run = bx[k] + 2.0 * edge - ax[k]  # b's longitude seen from a's side, less a's
    with np.errstate(invalid="ignore", divide="ignore"):
        y = ay[k] + np.where(run != 0.0, (edge - ax[k]) / run, 0.0) * (by[k] - ay[k])
    x1, y1 = bx.copy(), by.copy()
    x1[k], y1[k] = edge, y
    return np.r_[owner, k], np.r_[ax, -edge], np.r_[ay, y], np.r_[x1, bx[k]], np.r_[y1, by[k]]


def _altitude_span_meets(zone: Zone, before_m: float, after_m: float) -> bool:
    alts = [a for a in (before_m, after_m) if not math.isnan(a)]
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

    def update(self, t: datetime, tracks: TrackTable) -> list[Finding]:
        p = self.policy
        horizon = to_us(t - timedelta(seconds=p.track_timeout_s))
        rows = tracks.sorted_rows()
        active = rows[tracks.t_us[rows] >= horizon]
        current: dict[tuple[str, str], tuple[EventType, dict]] = {}
        codes = tracks.party[active]
        if len(active) and codes.min() != codes.max():  # units of one party are never compared
            current = self._conflicts(t, tracks, active)
        findings: list[Finding] = []
        for pair in sorted(current):
            kind, fields = current[pair]
            seen = self.encounters.get(pair)
            if seen is None or (seen == EventType.PROXIMITY_PREDICTED and kind == EventType.SEPARATION_LOST):
                findings.append((kind, fields))
                self.encounters[pair] = kind
        gap = timedelta(seconds=p.encounter_gap_s)

        def live(track: str) -> bool:
            return tracks.t_us[tracks.slot[track]] >= horizon

        for pair in list(self.encounters):
            if pair in current:
                self.clear_since.pop(pair, None)
            elif t - self.clear_since.setdefault(pair, t) >= gap or not live(pair[0]) or not live(pair[1]):
                # clear long enough (noise in one report does not end an encounter)
                del self.encounters[pair]
                del self.clear_since[pair]
        return findings

    def _conflicts(self, t: datetime, tracks: TrackTable, active: np.ndarray) -> dict:
        p = self.policy
        dt = (to_us(t) - tracks.t_us[active]) / 1e6
        lon, lat = tracks.lon[active], tracks.lat[active]
        ve, vn, vu = tracks.v_east[active], tracks.v_north[active], tracks.v_up[active]
        alt = tracks.alt_m[active] + vu * dt
        lon, lat, ve, vn = dead_reckoned(lon, lat, ve, vn, dt)
        enc = closest_approaches(lon, lat, alt, ve, vn, vu, lookahead_s=p.lookahead_s,
                                 separation_m=p.separation_m, vertical_m=p.vertical_m, groups=tracks.party[active])
        out = {}
        for k in range(len(enc)):
            a, b = int(active[int(enc.i[k])]), int(active[int(enc.j[k])])
            names = (tracks.ids[a], tracks.ids[b])
            vnow = float(enc.vertical_now_m[k])
            lost = enc.distance_m[k] < p.separation_m and (math.isnan(vnow) or vnow < p.vertical_m)
            base = {"tracks": list(names), "parties": [tracks.parties[tracks.party[a]], tracks.parties[tracks.party[b]]]}
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

