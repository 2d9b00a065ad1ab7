"""Closest point of approach between moving units: conflict windows, exhaustive and indexed search.

Units move in straight lines at constant velocity. A pair is in conflict when at some time
in ``[0, lookahead_s]`` it is closer than ``separation_m`` horizontally and than
``vertical_m`` vertically (both strict). Horizontally, each unit is its earth-centred point
at height 0 with its east/north velocity turned into an earth-centred vector; a pair's
relative position and velocity are projected onto the tangent plane whose normal bisects
the two units' normals (symmetric in the pair, regular at the poles). Vertically, it is the
altitude and climb-rate difference; an unknown (NaN) altitude never hides a conflict.
:func:`closest_approaches` finds candidates with a sweep index, then applies the very test
of :func:`brute_force_closest_approaches`, so both return identical encounters.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deconfliction.errors import GeometryError
from deconfliction.geo.wgs84 import A_M, E2, ecef, enu_basis

__all__ = ["Encounters", "closest_approaches", "brute_force_closest_approaches"]

_MIN_RELATIVE_SPEED2 = 1e-18
"""Relative horizontal speed squared (m²/s²) below which a pair's distance counts as constant."""
_MIN_RELATIVE_CLIMB = 1e-9
"""Relative climb rate (m/s) below which a pair's vertical separation counts as constant."""
_MIN_RADIUS_OF_CURVATURE_M = A_M * (1 - E2)
"""Smallest radius of curvature on the ellipsoid (meridian at the equator)."""
_MAX_REACH_M = 800e3
"""Separation plus twice the longest path beyond which the index margins are not proven."""
_SLACK_M = 1.0
"""Extra box margin covering rounding in the index (its arithmetic differs from the test's)."""
_PAIR_BUDGET = 1 << 21
"""Pairs listed at once by the exhaustive search (bounds its memory)."""
_KEY_BITS = 31
"""Bits of a sort key given to the quantised box start along x; strips take the rest."""
_BLOCK = 1 << 14
"""Pairs handled at once: few enough for the temporaries to stay in cache (a third faster)."""


@dataclass(frozen=True, slots=True)
class Encounters:
    """Conflicting pairs, one row per pair, i < j, sorted by (i, j)."""

    i: np.ndarray  # int64 index of the first unit
    j: np.ndarray  # int64 index of the second unit
    cpa_t_s: np.ndarray  # seconds from now of the closest horizontal approach while in conflict
    cpa_distance_m: np.ndarray  # horizontal distance at cpa_t_s
    vertical_m: np.ndarray  # vertical separation at cpa_t_s (NaN when an altitude is unknown)
    distance_m: np.ndarray  # horizontal distance now
    vertical_now_m: np.ndarray  # vertical separation now (NaN when an altitude is unknown)

    def __len__(self) -> int:
        return int(self.i.shape[0])


def closest_approaches(lon_deg, lat_deg, alt_m, v_east_mps, v_north_mps, v_up_mps,
                       *, lookahead_s: float, separation_m: float, vertical_m: float,
                       groups=None) -> Encounters:
    """Conflicting pairs of units over the look-ahead, found through a spatial index.

    ``lon_deg``, ``lat_deg`` (WGS84 degrees), ``alt_m`` (metres, NaN when unknown) and the
    velocity ``v_east_mps``, ``v_north_mps``, ``v_up_mps`` (m/s, held constant) are 1-D
    arrays of one length. A pair conflicts when at some time in ``[0, lookahead_s]`` seconds
    it is closer than ``separation_m`` horizontally and than ``vertical_m`` vertically.
    With ``groups``, only units of different groups are checked against each other.
    The result is identical to :func:`brute_force_closest_approaches`.

    >>> e = closest_approaches([38.0, 38.01], [33.0, 33.0], [100.0, 100.0],
    ...     [10.0, -10.0], [0.0, 0.0], [0.0, 0.0],
    ...     lookahead_s=300, separation_m=500, vertical_m=300)
    >>> round(float(e.cpa_t_s[0]), 1), round(float(e.cpa_distance_m[0]), 3)
    (46.7, 0.0)
    """
    units = _units(lon_deg, lat_deg, alt_m, v_east_mps, v_north_mps, v_up_mps, groups)
    limits = _Limits(float(lookahead_s), float(separation_m), float(vertical_m))
    boxes = _boxes(units, limits)
    if boxes is None:  # fewer than two units, or paths too long for the proven margins
        return _encounters(units, *_exhaustive(units, limits), limits)
    # Renumber units in sweep order so that every gather below reads nearby memory.
    strip0, _ = _strips(boxes.lo[1], boxes.hi[1])
    order = np.argsort((strip0 << _KEY_BITS) | _quantised(boxes.lo[0], boxes.hi[0])[0])
    a, b = _candidates(_Boxes(*(tuple(c[order] for c in side) for side in (boxes.lo, boxes.hi))))
    i, j = order.take(a), order.take(b)
    swap = i > j
    a, b = np.where(swap, b, a), np.where(swap, a, b)  # keep the exhaustive search's orientation
    kept = np.flatnonzero(_conflicting(_reordered(units, order), a, b, limits))
    i, j = i.take(kept), j.take(kept)
    return _encounters(units, np.minimum(i, j), np.maximum(i, j), limits)


def brute_force_closest_approaches(lon_deg, lat_deg, alt_m, v_east_mps, v_north_mps, v_up_mps,
                                   *, lookahead_s: float, separation_m: float, vertical_m: float,
                                   groups=None) -> Encounters:
    """Conflicting pairs by testing every pair: O(n²), the reference for the indexed search.

    Same arguments and result as :func:`closest_approaches`.

    >>> e = brute_force_closest_approaches([38.0, 38.01], [33.0, 33.0], [100.0, 100.0],
    ...     [10.0, -10.0], [0.0, 0.0], [0.0, 0.0],
    ...     lookahead_s=300, separation_m=500, vertical_m=300)
    >>> len(e), e.i.tolist(), e.j.tolist()
    (1, [0], [1])
    """
    units = _units(lon_deg, lat_deg, alt_m, v_east_mps, v_north_mps, v_up_mps, groups)
    limits = _Limits(float(lookahead_s), float(separation_m), float(vertical_m))
    return _encounters(units, *_exhaustive(units, limits), limits)


@dataclass(frozen=True, slots=True)
class _Limits:
    """Look-ahead (s) and the horizontal and vertical separation minima (m)."""

    lookahead_s: float
    separation_m: float
    vertical_m: float

    def __post_init__(self):
        if not all(np.isfinite(x) and x >= 0 for x in (self.lookahead_s, self.separation_m,
                                                         self.vertical_m)):
            raise GeometryError("lookahead_s, separation_m and vertical_m must be finite, >= 0")


@dataclass(frozen=True, slots=True)
class _Units:
    """Per-unit state in earth-centred axes, one 1-D array per component."""

    p: tuple[np.ndarray, np.ndarray, np.ndarray]  # surface position, m
    v: tuple[np.ndarray, np.ndarray, np.ndarray]  # horizontal velocity, m/s
    up: tuple[np.ndarray, np.ndarray, np.ndarray]  # ellipsoid normal
    alt_m: np.ndarray
    v_up_mps: np.ndarray
    groups: np.ndarray | None

    def __len__(self) -> int:
        return int(self.alt_m.shape[0])


def _units(lon_deg, lat_deg, alt_m, v_east_mps, v_north_mps, v_up_mps, groups) -> _Units:
    """Validated per-unit state; a non-finite altitude is unknown."""
    arrays = [np.asarray(a, dtype=np.float64) for a in
              (lon_deg, lat_deg, alt_m, v_east_mps, v_north_mps, v_up_mps)]
    n = arrays[0].shape[0] if arrays[0].ndim == 1 else -1
    if any(a.ndim != 1 or a.shape[0] != n for a in arrays):
        raise GeometryError("unit arrays must be 1-D and of equal length")
    lon, lat, alt, ve, vn, vu = arrays
    if not all(np.isfinite(a).all() for a in (lon, lat, ve, vn, vu)):
        raise GeometryError("positions and velocities must be finite (only altitude may be NaN)")
    if np.any(np.abs(lat) > 90):
        raise GeometryError("latitude must be within [-90, 90] degrees")
    if groups is not None and np.shape(groups) != (n,):
        raise GeometryError("groups must be 1-D and as long as the unit arrays")
    east, north, up = enu_basis(lon, lat)
    p = ecef(lon, lat)
    v = east * ve[:, None] + north * vn[:, None]
    p, v, up = (tuple(np.ascontiguousarray(a.T)) for a in (p, v, up))
    groups = None if groups is None else np.asarray(groups)
    return _Units(p, v, up, np.where(np.isfinite(alt), alt, np.nan), vu, groups)


def _horizontal(units: _Units, i: np.ndarray, j: np.ndarray):
    """Relative position and velocity of j from i in the pair's bisecting tangent plane."""
    ux, uy, uz = (c.take(i) + c.take(j) for c in units.up)
    # Only antipodal normals cancel, and then any plane is as good as another.
    uu = np.maximum(ux * ux + uy * uy + uz * uz, 1e-300)
    dp = [c.take(j) - c.take(i) for c in units.p]
    dv = [c.take(j) - c.take(i) for c in units.v]
    along_p = (dp[0] * ux + dp[1] * uy + dp[2] * uz) / uu
    along_v = (dv[0] * ux + dv[1] * uy + dv[2] * uz) / uu
    dp = (dp[0] - along_p * ux, dp[1] - along_p * uy, dp[2] - along_p * uz)
    dv = (dv[0] - along_v * ux, dv[1] - along_v * uy, dv[2] - along_v * uz)
    return dp, dv


def _horizontal_window(units: _Units, i: np.ndarray, j: np.ndarray, separation_m: float):
    """Open interval of times when the pair is closer than ``separation_m``, and its CPA."""
    dp, dv = _horizontal(units, i, j)
    dist2 = dp[0] * dp[0] + dp[1] * dp[1] + dp[2] * dp[2]
    dv2 = dv[0] * dv[0] + dv[1] * dv[1] + dv[2] * dv[2]
    dpdv = dp[0] * dv[0] + dp[1] * dv[1] + dp[2] * dv[2]
    moving = dv2 > _MIN_RELATIVE_SPEED2
    safe_dv2 = np.where(moving, dv2, 1.0)
    tcpa = np.where(moving, -dpdv / safe_dv2, 0.0)
    # Cancellation here costs ~1e-16 of dist2: far below any separation worth checking.
    miss2 = np.maximum(dist2 + dpdv * tcpa, 0.0)
    room2 = separation_m * separation_m - miss2
    half = np.sqrt(np.maximum(room2, 0.0) / safe_dv2)
    inside = room2 > 0
    t_in = np.where(inside, np.where(moving, tcpa - half, -np.inf), np.inf)
    t_out = np.where(inside, np.where(moving, tcpa + half, np.inf), -np.inf)
    return t_in, t_out, tcpa, moving, dp, dv, dist2


def _vertical_window(units: _Units, i: np.ndarray, j: np.ndarray, vertical_m: float):
    """Open interval of times when |dz + dvz t| < vertical_m; all times when altitude unknown."""
    dz = units.alt_m.take(j) - units.alt_m.take(i)
    dvz = units.v_up_mps.take(j) - units.v_up_mps.take(i)
    climbing = np.abs(dvz) > _MIN_RELATIVE_CLIMB
    safe = np.where(climbing, dvz, 1.0)
    t_a = (-vertical_m - dz) / safe
    t_b = (vertical_m - dz) / safe
    close = ~(np.abs(dz) >= vertical_m)  # NaN (unknown) counts as close
    v_in = np.where(climbing, np.fmin(t_a, t_b), np.where(close, -np.inf, np.inf))
    v_out = np.where(climbing, np.fmax(t_a, t_b), np.where(close, np.inf, -np.inf))
    unknown = np.isnan(dz)
    return np.where(unknown, -np.inf, v_in), np.where(unknown, np.inf, v_out)


def _meets(t_in, t_out, v_in, v_out, lookahead_s: float):
    """Whether two open intervals share a stretch of time that meets [0, lookahead_s]."""
    a = np.maximum(t_in, v_in)
    b = np.minimum(t_out, v_out)
    return (a < b) & (a < lookahead_s) & (b > 0), a, b


def _conflicting(units: _Units, i: np.ndarray, j: np.ndarray, limits: _Limits) -> np.ndarray:
    """Mask of the pairs (i, j) that are in conflict; the one test both searches share."""
    return np.concatenate([np.zeros(0, dtype=bool)] + [
        _conflicting_block(units, i[k:k + _BLOCK], j[k:k + _BLOCK], limits)
        for k in range(0, i.shape[0], _BLOCK)])


def _conflicting_block(units: _Units, i: np.ndarray, j: np.ndarray, limits: _Limits):
    """Mask of conflicts among pairs (i, j): groups, then horizontal, then vertical window."""
    keep = np.arange(i.shape[0])
    if units.groups is not None:
        keep = np.flatnonzero(units.groups.take(i) != units.groups.take(j))
    t_in, t_out = _horizontal_window(units, i.take(keep), j.take(keep), limits.separation_m)[:2]
    near = np.flatnonzero(_meets(t_in, t_out, -np.inf, np.inf, limits.lookahead_s)[0])
    keep, t_in, t_out = keep.take(near), t_in.take(near), t_out.take(near)
    v_in, v_out = _vertical_window(units, i.take(keep), j.take(keep), limits.vertical_m)
    mask = np.zeros(i.shape[0], dtype=bool)
    mask[keep.take(np.flatnonzero(_meets(t_in, t_out, v_in, v_out, limits.lookahead_s)[0]))] = True
    return mask


def _encounters(units: _Units, i: np.ndarray, j: np.ndarray, limits: _Limits) -> Encounters:
    """Encounter data for conflicting pairs (i < j), sorted by (i, j)."""
    i, j = i.astype(np.int64), j.astype(np.int64)
    order = np.argsort(i * len(units) + j)
    i, j = i.take(order), j.take(order)
    t_in, t_out, tcpa, moving, dp, dv, dist2 = _horizontal_window(units, i, j, limits.separation_m)
    v_in, v_out = _vertical_window(units, i, j, limits.vertical_m)
    _, a, b = _meets(t_in, t_out, v_in, v_out, limits.lookahead_s)
    lo = np.clip(a, 0.0, limits.lookahead_s)
    hi = np.clip(b, 0.0, limits.lookahead_s)
    cpa_t = np.where(moving, np.clip(tcpa, lo, hi), lo)
    at = [dp[k] + dv[k] * cpa_t for k in range(3)]
    dz = units.alt_m.take(j) - units.alt_m.take(i)
    dvz = units.v_up_mps.take(j) - units.v_up_mps.take(i)
    return Encounters(
        i=i, j=j, cpa_t_s=cpa_t,
        cpa_distance_m=np.sqrt(at[0] * at[0] + at[1] * at[1] + at[2] * at[2]),
        vertical_m=np.abs(dz + dvz * cpa_t),
        distance_m=np.sqrt(dist2),
        vertical_now_m=np.abs(dz),
    )


def _exhaustive(units: _Units, limits: _Limits) -> tuple[np.ndarray, np.ndarray]:
    """Every conflicting pair, testing all n(n-1)/2 pairs in blocks of rows."""
    n = len(units)
    step = max(1, _PAIR_BUDGET // max(n, 1))
    found_i, found_j = [], []
    for first in range(0, max(n - 1, 0), step):
        rows = np.arange(first, min(first + step, n - 1), dtype=np.int64)
        i = np.repeat(rows, n - 1 - rows)
        j = _runs_after(rows + 1, n - 1 - rows)
        kept = np.flatnonzero(_conflicting(units, i, j, limits))
        found_i.append(i.take(kept))
        found_j.append(j.take(kept))
    return _concat(found_i), _concat(found_j)


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenated index arrays (int64, possibly empty)."""
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _runs_after(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) for each start s and count c, without a Python loop."""
    total = int(counts.sum())
    offsets = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) + np.repeat(starts - offsets, counts)


def _reordered(units: _Units, order: np.ndarray) -> _Units:
    """The same units renumbered: unit k of the result is unit ``order[k]``."""
    return _Units(
        p=tuple(c[order] for c in units.p), v=tuple(c[order] for c in units.v),
        up=tuple(c[order] for c in units.up), alt_m=units.alt_m[order],
        v_up_mps=units.v_up_mps[order],
        groups=None if units.groups is None else units.groups[order],
    )


@dataclass(frozen=True, slots=True)
class _Boxes:
    """Axis-aligned boxes swept by each unit over the look-ahead, in a rotated earth frame."""

    lo: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x, y, z (m) and altitude (m)
    hi: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _boxes(units: _Units, limits: _Limits) -> _Boxes | None:
    """Boxes that overlap for every pair the exact test can find in conflict.

    The test measures in the pair's tangent plane, but the straight earth-centred paths can
    be further apart in space: out of that plane by at most 0.57 (R + s_i + s_j)² / ρ_min
    (R the separation, s the path lengths, ρ_min the smallest radius of curvature; the normal
    turns by at most 1/ρ_min per metre), valid while R + 2 s <= _MAX_REACH_M. The per-unit
    term 1.2 (R/2 + s)² / ρ_min covers it, as (a + b)² <= 2 a² + 2 b².
    """
    if len(units) < 2:
        return None
    reach_m = np.sqrt(sum(c * c for c in units.v)) * limits.lookahead_s
    if limits.separation_m + 2 * float(reach_m.max()) > _MAX_REACH_M:
        return None
    half_r = limits.separation_m / 2
    margin = half_r + 1.2 * (half_r + reach_m) ** 2 / _MIN_RADIUS_OF_CURVATURE_M + _SLACK_M
    lo, hi = [], []
    for axis in _frame(units):
        start = sum(a * c for a, c in zip(axis, units.p))
        end = start + sum(a * c for a, c in zip(axis, units.v)) * limits.lookahead_s
        lo.append(np.minimum(start, end) - margin)
        hi.append(np.maximum(start, end) + margin)
    climb = units.alt_m + units.v_up_mps * limits.lookahead_s
    half_v = limits.vertical_m / 2 + _SLACK_M
    known = ~np.isnan(units.alt_m)
    lo.append(np.where(known, np.fmin(units.alt_m, climb) - half_v, -np.inf))
    hi.append(np.where(known, np.fmax(units.alt_m, climb) + half_v, np.inf))
    return _Boxes(lo=tuple(lo), hi=tuple(hi))


def _frame(units: _Units) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """East, north and up axes above the units' mean position (any orthonormal axes would do).

    For a regional set the surface is then nearly level in the first two axes, so strips
    along the second axis cut the traffic like a map grid would.
    """
    x, y, z = (float(c.mean()) for c in units.p)
    return enu_basis(np.degrees(np.arctan2(y, x)), np.degrees(np.arctan2(z, np.hypot(x, y))))


def _candidates(boxes: _Boxes) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose boxes overlap: strips along y, a sweep along x within each strip."""
    (xlo, ylo, _, _), (xhi, yhi, _, _) = boxes.lo, boxes.hi
    strip0, strip1 = _strips(ylo, yhi)
    counts = strip1 - strip0 + 1
    unit = np.repeat(np.arange(xlo.shape[0], dtype=np.int64), counts)
    strip = _runs_after(strip0, counts)
    qlo, qhi = _quantised(xlo, xhi)
    key_lo = (strip << _KEY_BITS) | qlo.take(unit)
    order = np.argsort(key_lo)
    key_lo, unit, strip = key_lo.take(order), unit.take(order), strip.take(order)
    key_hi = (strip << _KEY_BITS) | qhi.take(unit)
    starts_here = strip == strip0.take(unit)
    # Each box pairs with the boxes after it in its strip that start before it ends along x.
    positions = np.arange(unit.shape[0], dtype=np.int64)
    later = np.searchsorted(key_lo, key_hi, side="right") - positions - 1
    cuts = np.searchsorted(np.cumsum(later), np.arange(_BLOCK, int(later.sum()), _BLOCK))
    cuts = np.unique(np.concatenate([[0], cuts, [positions.shape[0]]]))
    pairs = [_overlapping(boxes, unit, starts_here, positions[s:e], later[s:e])
             for s, e in zip(cuts[:-1], cuts[1:])]
    return _concat([p[0] for p in pairs]), _concat([p[1] for p in pairs])


def _overlapping(boxes: _Boxes, unit, starts_here, positions, later):
    """Overlapping pairs among sorted insertions at ``positions`` and their ``later`` successors."""
    pa = np.repeat(positions, later)
    pb = _runs_after(positions + 1, later)
    # A pair sharing several strips is kept only in the strip where the later box starts.
    kept = np.flatnonzero(np.repeat(starts_here.take(positions), later) | starts_here.take(pb))
    a, b = unit.take(pa.take(kept)), unit.take(pb.take(kept))
    for axis in (1, 3, 2):  # y, altitude, z: the most selective first
        lo, hi = boxes.lo[axis], boxes.hi[axis]
        kept = np.flatnonzero((lo.take(a) <= hi.take(b)) & (lo.take(b) <= hi.take(a)))
        a, b = a.take(kept), b.take(kept)
    return a, b


def _strips(ylo: np.ndarray, yhi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last strip index of each box.

    Strips 1.5 times the median box height balance boxes spanning several strips against
    pairs that meet in a strip without overlapping (measured on mixed traffic).
    """
    origin = float(ylo.min())
    span = float(yhi.max()) - origin
    height = max(1.5 * float(np.median(yhi - ylo)), span / 2.0 ** (62 - _KEY_BITS), 1e-3)
    first = np.floor((ylo - origin) / height).astype(np.int64)
    last = np.floor((yhi - origin) / height).astype(np.int64)
    return first, last


def _quantised(xlo: np.ndarray, xhi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Box ends along x as integers, rounded outwards so overlaps are never lost."""
    origin = float(xlo.min())
    step = max((float(xhi.max()) - origin) / 2.0 ** (_KEY_BITS - 1), 1e-9)
    qlo = np.floor((xlo - origin) / step).astype(np.int64)
    qhi = np.ceil((xhi - origin) / step).astype(np.int64)
    return qlo, np.minimum(qhi, (1 << _KEY_BITS) - 1)
