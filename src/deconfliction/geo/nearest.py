"""Geodesic distance from points to shape skeletons, vectorised over (point, shape) pairs.

Every shape is a *skeleton* in longitude/latitude (a centre point, a polyline or polygon rings)
plus an inflation in metres (a circle's radius, half a corridor's width, zero for an area).
Skeleton edges are straight in longitude/latitude, as GeoJSON (RFC 7946, 3.1.1) defines them.

Method: each pair is first measured in a linear frame centred on the point (metres per degree
at the point's latitude), where straight lon/lat edges stay straight; the nearest skeleton point
``q`` found there defines the answer: the exact geodesic distance from the point to ``q`` (the
distance to an approximately-nearest point errs only to second order in its position, which
keeps it within millimetres of the true distance for zones up to 1,000 km across). Distances
below :data:`SNAP_M` count as zero, so a point on an edge, up to rounding, is on it.

Where only a comparison with 0 or with a threshold is wanted, that answer is first estimated
twice, each time with a bound on its error: by the frame distance itself (the conservative
:func:`approximate_tolerance_m`), then by a mid-latitude estimate of the geodesic distance to
``q`` (errs by under 2 mm at 10 km; its bound is four times the largest error seen against
exact geodesics from 1 m to 1,000 km and up to 89 degrees of latitude). The exact geodesic is
computed only where an estimate is too close to call, so the comparisons are those of the
exact answer.

The kernels are compiled with numba (lazily, on first call, and cached on disk). The zone
index's grid kernels live here as well because numba's cache notices edits only in the file
that defines a kernel, and they inline the helpers below.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from .wgs84 import A_M, E2, geodesic_distance_m

EARTH_RADIUS_M = 6.371e6
SNAP_M = 1e-6
"""Geodesic distances below this (a micrometre) count as zero, so boundaries stay closed under rounding."""
MIXED, INSIDE, BAND, OUT = 0, 1, 2, 3
"""Classes of a (zone, grid cell) pair: to be measured per point, wholly inside, wholly in the band,
wholly beyond the band."""
SUB = 4
"""A mixed cell is split into SUB x SUB sub-cells, each classified too (2 bits each in its code)."""
_UNSURE = 4
_ESTIMATE_MAX_M = 1.0e6
"""Beyond this distance the estimates claim no bound: the exact geodesic decides."""
_ESTIMATE_MAX_LAT_DEG = 89.0
"""Nor closer to a pole than this, where lon/lat frames degenerate."""
_MID_LATITUDE_ERROR = 0.25
"""Bound on the mid-latitude estimate's error in units of d (d/R)^2 / cos^2(lat); at most 0.053 seen."""
_FLOOR_M = 1e-5
"""Added to every bound: covers the snap and floating-point rounding of the estimates."""
_DEG = math.pi / 180.0


@dataclass(frozen=True, slots=True)
class Skeletons:
    """The edges of many skeletons, concatenated; shape ``k`` owns edges ``start[k]:start[k]+count[k]``.

    A point skeleton is one zero-length edge. ``area[k]`` is true when the edges are closed
    rings whose inside belongs to the shape (even-odd rule, so holes and multipolygons work).
    """

    lon0: np.ndarray
    lat0: np.ndarray
    lon1: np.ndarray
    lat1: np.ndarray
    start: np.ndarray
    count: np.ndarray
    area: np.ndarray
    inflation_m: np.ndarray

    @classmethod
    def concat(cls, edges: list[np.ndarray], areas: list[bool], inflations_m: list[float]) -> "Skeletons":
        """Build from one (E, 4) array of edges (lon0, lat0, lon1, lat1) per shape."""
        counts = np.array([len(e) for e in edges], dtype=np.int64)
        start = (np.cumsum(counts) - counts).astype(np.int64)
        all_edges = np.concatenate(edges).astype(float) if edges else np.zeros((0, 4))
        return cls(
            np.ascontiguousarray(all_edges[:, 0]), np.ascontiguousarray(all_edges[:, 1]),
            np.ascontiguousarray(all_edges[:, 2]), np.ascontiguousarray(all_edges[:, 3]),
            start, counts, np.array(areas, dtype=bool).reshape(-1), np.array(inflations_m, dtype=float).reshape(-1),
        )

    def packed(self, bands_m: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The kernels' layout, a cache line per edge or shape: edges (E, 4) float64; per shape
        (start, count, is area) int64; per shape (band, inflation, point lon, point lat) float64,
        the point being NaN unless the skeleton is a single point (a circle's centre).
        """
        n = len(self.start)
        shape_i = np.stack([self.start, self.count, self.area.astype(np.int64)], axis=1).reshape(n, 3)
        point = np.full((n, 2), np.nan)
        single = np.flatnonzero(self.count == 1)
        first = self.start[single]
        is_point = (self.lon0[first] == self.lon1[first]) & (self.lat0[first] == self.lat1[first])
        point[single[is_point]] = np.column_stack([self.lon0[first[is_point]], self.lat0[first[is_point]]])
        bands = np.zeros(n) if bands_m is None else np.asarray(bands_m, dtype=float).reshape(n)
        shape_f = np.column_stack([bands, self.inflation_m, point]).reshape(n, 4)
        edges = np.column_stack([self.lon0, self.lat0, self.lon1, self.lat1]).reshape(-1, 4)
        return np.ascontiguousarray(edges), np.ascontiguousarray(shape_i), np.ascontiguousarray(shape_f)


def approximate_tolerance_m(distance_m: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    """A safe bound on the error of the linear-frame distance (metres); infinite within 1 degree of a pole."""
    lat = np.abs(np.asarray(lat_deg, dtype=float))
    tan = np.tan(np.radians(np.minimum(lat, _ESTIMATE_MAX_LAT_DEG)))
    d = np.abs(distance_m)
    bound = 2.0 * d * (d / EARTH_RADIUS_M) * (2.0 + tan) + 0.01 * d * (d > 2e5) + 1.0
    return np.where(lat > _ESTIMATE_MAX_LAT_DEG, np.inf, bound)


def signed_distances_m(
    lon: np.ndarray, lat: np.ndarray, shape_of_pair: np.ndarray, sk: Skeletons,
    thresholds_m: np.ndarray | None = None,
) -> np.ndarray:
    """Signed distance in metres from each point to its paired shape (negative inside, 0 on the edge).

    ``lon``/``lat`` are per pair. Where ``thresholds_m`` (per pair, e.g. a perimeter band) is
    given, the exact geodesic refinement is done only for pairs whose estimate is within its
    error bound of 0 or of the threshold (elsewhere the estimate is returned, on the right side
    of both); without it every pair is exact.
    """
    lon = np.ascontiguousarray(lon, dtype=float)
    lat = np.ascontiguousarray(lat, dtype=float)
    shape_of_pair = np.ascontiguousarray(shape_of_pair, dtype=np.int64)
    if len(shape_of_pair) == 0:
        return np.zeros(0)
    estimate, tol, qlon, qlat, sign = _pair_estimates(lon, lat, shape_of_pair, *sk.packed())
    if thresholds_m is None:
        refine = np.ones(len(shape_of_pair), dtype=bool)
    else:
        thresholds_m = np.asarray(thresholds_m, dtype=float)
        refine = (np.abs(estimate) <= tol) | (np.abs(estimate - thresholds_m) <= tol)
    if refine.any():
        estimate[refine] = exact_signed_m(
            lon[refine], lat[refine], qlon[refine], qlat[refine], sign[refine],
            sk.inflation_m[shape_of_pair[refine]],
        )
    return estimate


def exact_signed_m(lon, lat, qlon, qlat, sign, inflation_m) -> np.ndarray:
    """``sign`` x geodesic distance from points to their nearest skeleton points, minus the inflation."""
    g = geodesic_distance_m(lon, lat, qlon, qlat)
    g[g < SNAP_M] = 0.0
    return sign * g - inflation_m


# ---- compiled helpers (inlined by the kernels) ----

@njit(cache=True, nogil=True)
def _metres_per_degree(lat_deg):
    phi = lat_deg * _DEG
    s = math.sin(phi)
    w = math.sqrt(1.0 - E2 * s * s)
    return A_M / w * math.cos(phi) * _DEG, A_M * (1.0 - E2) / (w * w * w) * _DEG


@njit(cache=True, nogil=True)
def _wrap_deg(d):
    if -180.0 <= d <= 180.0:
        return d
    return (d + 180.0) % 360.0 - 180.0


@njit(cache=True, nogil=True)
def _frame_slope(abs_lat_deg):
    """The latitude factor of the frame tolerance; infinite near the poles (no bound claimed)."""
    if abs_lat_deg > _ESTIMATE_MAX_LAT_DEG:
        return np.inf
    return 2.0 + math.tan(abs_lat_deg * _DEG)


@njit(cache=True, nogil=True)
def _frame_tolerance_m(d, slope):
    """Bound on |frame distance - geodesic distance| to the same point (as approximate_tolerance_m)."""
    if slope == np.inf:
        return np.inf
    bound = 2.0 * d * (d / EARTH_RADIUS_M) * slope + 1.0
    if d > 2e5:
        bound += 0.01 * d
    return bound


@njit(cache=True, nogil=True)
def _nearest(plon, plat, kx, ky, edges, first, count, is_area):
    """(frame distance m, nearest lon, nearest lat, inside) of a point and one skeleton.

    The first edge wins ties; the nearest point is an edge's end exactly when it is one.
    """
    best = np.inf
    best_t = 0.0
    best_e = first
    crossings = 0
    for e in range(first, first + count):
        x0, y0, x1, y1 = edges[e, 0], edges[e, 1], edges[e, 2], edges[e, 3]
        ax = _wrap_deg(x0 - plon) * kx
        ay = (y0 - plat) * ky
        dx = _wrap_deg(x1 - plon) * kx - ax
        dy = (y1 - plat) * ky - ay
        seg2 = dx * dx + dy * dy
        t = 0.0
        if seg2 > 0.0:
            t = min(max(-(ax * dx + ay * dy) / seg2, 0.0), 1.0)
        ex = ax + t * dx
        ey = ay + t * dy
        d2 = ex * ex + ey * ey
        if d2 < best:
            best, best_t, best_e = d2, t, e
        if is_area and ((y0 > plat) != (y1 > plat)):
            if plon < x0 + (plat - y0) * (x1 - x0) / (y1 - y0):
                crossings += 1
    x0, y0, x1, y1 = edges[best_e, 0], edges[best_e, 1], edges[best_e, 2], edges[best_e, 3]
    if best_t <= 0.0:
        return math.sqrt(best), x0, y0, crossings % 2 == 1
    if best_t >= 1.0:
        return math.sqrt(best), x1, y1, crossings % 2 == 1
    return math.sqrt(best), x0 + best_t * _wrap_deg(x1 - x0), y0 + best_t * (y1 - y0), crossings % 2 == 1


@njit(cache=True, nogil=True)
def _nearest_of_shape(plon, plat, kx, ky, edges, shape_i, shape_f, k):
    """As _nearest, for shape ``k``; a point skeleton (a circle's centre) skips the edge loop."""
    clon = shape_f[k, 2]
    if clon == clon:
        clat = shape_f[k, 3]
        x = _wrap_deg(clon - plon) * kx
        y = (clat - plat) * ky
        return math.sqrt(x * x + y * y), clon, clat, False
    return _nearest(plon, plat, kx, ky, edges, shape_i[k, 0], shape_i[k, 1], shape_i[k, 2] != 0)


@njit(cache=True, nogil=True)
def _geodesic_estimate_m(plon, plat, qlon, qlat):
    """(estimate, bound on its error) of the geodesic distance between two points, metres.

    Metres per degree at the mid-latitude; the error grows as d (d/R)^2 / cos^2(lat), with the
    latitude taken as far poleward as the path can reach.
    """
    kx, ky = _metres_per_degree(0.5 * (plat + qlat))
    x = _wrap_deg(qlon - plon) * kx
    y = (qlat - plat) * ky
    d = math.sqrt(x * x + y * y)
    rho = d / EARTH_RADIUS_M
    lat_reach = max(abs(plat), abs(qlat)) + rho / _DEG
    if d > _ESTIMATE_MAX_M or lat_reach > _ESTIMATE_MAX_LAT_DEG:
        return d, np.inf
    c = math.cos(lat_reach * _DEG)
    return d, _MID_LATITUDE_ERROR * d * rho * rho / (c * c) + 1e-12 * d + _FLOOR_M


@njit(cache=True, nogil=True)
def _verdict(signed, tol, band):
    """OUT, BAND, INSIDE, or _UNSURE of a signed-distance estimate known to within ``tol``."""
    if signed - tol > band:
        return OUT
    if signed + tol <= band:
        if signed + tol < 0.0:
            return INSIDE
        if signed - tol > 0.0:
            return BAND
    return _UNSURE


@njit(cache=True, nogil=True)
def _pair_estimates(lon, lat, shape_of_pair, edges, shape_i, shape_f):
    n = len(shape_of_pair)
    estimate = np.empty(n)
    tol = np.empty(n)
    qlon = np.empty(n)
    qlat = np.empty(n)
    sign = np.empty(n)
    for i in range(n):
        k = shape_of_pair[i]
        kx, ky = _metres_per_degree(lat[i])
        _, qlon[i], qlat[i], inside = _nearest_of_shape(lon[i], lat[i], kx, ky, edges, shape_i, shape_f, k)
        g, tol[i] = _geodesic_estimate_m(lon[i], lat[i], qlon[i], qlat[i])
        sign[i] = -1.0 if inside else 1.0
        estimate[i] = sign[i] * g - shape_f[k, 1]
    return estimate, tol, qlon, qlat, sign


@njit(cache=True, nogil=True)
def _grown(a, cap):
    b = np.empty(cap, a.dtype)
    b[: len(a)] = a
    return b


# ---- the zone index's grid kernels ----

@njit(cache=True, nogil=True)
def _class_at(clon, clat, kx, ky, radius, slope, edges, shape_i, shape_f, z):
    """Class of zone ``z`` over a cell of that centre and radius, whatever the point in it.

    The estimate at the centre is widened by its error bound, the cell's radius (signed
    distance is 1-Lipschitz) and, unless the skeleton is a point, twice the error of taking the
    frame-nearest skeleton point (at the centre and at the point), each at most twice the
    frame tolerance. MIXED when that is not enough to decide.
    """
    _, qlon, qlat, inside = _nearest_of_shape(clon, clat, kx, ky, edges, shape_i, shape_f, z)
    g, tol = _geodesic_estimate_m(clon, clat, qlon, qlat)
    margin = radius + tol
    if shape_f[z, 2] != shape_f[z, 2]:
        margin += 4.0 * _frame_tolerance_m(1.1 * (g + radius + tol) + 10.0, slope)
    verdict = _verdict((-g if inside else g) - shape_f[z, 1], margin, shape_f[z, 0])
    return MIXED if verdict == _UNSURE else verdict


@njit(cache=True, nogil=True)
def classify_cells(box_cells, origin_lon, origin_lat, cell_deg, ny, row_radius_m, sub_radius_m, row_abs_lat,
                   edges, shape_i, shape_f):
    """(cell, code) for each grid cell of each zone's box that may hold hits.

    ``box_cells[z]`` is (ix0, ix1, iy0, iy1), inclusive; ``shape_f[z, 0]`` is the zone's band;
    ``sub_radius_m`` has one radius per row of sub-cells. A code is ``zone << 34 | subclasses
    << 2 | class``, the 2-bit class of sub-cell (sx, sy) at bit 2 + 2 (sy SUB + sx) when the
    class is MIXED.
    """
    cap = 1024
    cells = np.empty(cap, np.int64)
    codes = np.empty(cap, np.int64)
    n = 0
    for z in range(len(box_cells)):
        for iy in range(box_cells[z, 2], box_cells[z, 3] + 1):
            clat = origin_lat + (iy + 0.5) * cell_deg
            kx, ky = _metres_per_degree(clat)
            slope = _frame_slope(row_abs_lat[iy])
            for ix in range(box_cells[z, 0], box_cells[z, 1] + 1):
                clon = origin_lon + (ix + 0.5) * cell_deg
                code = _class_at(clon, clat, kx, ky, row_radius_m[iy], slope, edges, shape_i, shape_f, z)
                if code == MIXED:
                    code = _sub_classes(ix, iy, origin_lon, origin_lat, cell_deg, sub_radius_m, slope,
                                        edges, shape_i, shape_f, z)
                if code == OUT:
                    continue
                if n == cap:
                    cap *= 2
                    cells = _grown(cells, cap)
                    codes = _grown(codes, cap)
                cells[n] = ix * ny + iy
                codes[n] = (z << 34) | code
                n += 1
    return cells[:n], codes[:n]


@njit(cache=True, nogil=True)
def _sub_classes(ix, iy, origin_lon, origin_lat, cell_deg, sub_radius_m, slope, edges, shape_i, shape_f, z):
    """The code bits of a mixed cell: its sub-cells' classes, or one class when they all agree."""
    bits = 0
    first = -1
    agree = True
    for sy in range(SUB):
        clat = origin_lat + (iy + (sy + 0.5) / SUB) * cell_deg
        kx, ky = _metres_per_degree(clat)
        radius = sub_radius_m[iy * SUB + sy]
        for sx in range(SUB):
            clon = origin_lon + (ix + (sx + 0.5) / SUB) * cell_deg
            c = _class_at(clon, clat, kx, ky, radius, slope, edges, shape_i, shape_f, z)
            bits |= c << (2 + 2 * (sy * SUB + sx))
            agree = agree and (first < 0 or c == first)
            first = c
    if agree and first != MIXED:
        return first
    return bits | MIXED


@njit(cache=True, nogil=True)
def group_by_cell(cells, codes, n_cells):
    """CSR layout: cell ``c`` owns ``grouped[offsets[c]:offsets[c + 1]]``, zones in the given order.

    Offsets are int32 (half the cache footprint of int64); the caller keeps the codes below 2**31.
    """
    offsets = np.zeros(n_cells + 1, np.int32)
    for c in cells:
        offsets[c + 1] += 1
    for c in range(n_cells):
        offsets[c + 1] += offsets[c]
    fill = offsets[:-1].copy()
    grouped = np.empty(len(codes), codes.dtype)
    for j in range(len(cells)):
        grouped[fill[cells[j]]] = codes[j]
        fill[cells[j]] += 1
    return offsets, grouped


@njit(cache=True, nogil=True)
def scan_points(lon, lat, origin_lon, origin_lat, cell_deg, nx, ny, occupied, offsets, codes,
                edges, shape_i, shape_f):
    """Hits (point, zone, inside) in point order, then zone order within the point's cell.

    ``codes`` are those of :func:`classify_cells`, grouped by cell.
    ``occupied`` has one bit per cell (little-endian bit order), set where the cell has entries:
    small enough to stay in cache, it spares most points a lookup in ``offsets``. Pairs the
    estimates cannot decide are listed as hits too, with their row in the hits, and the
    nearest skeleton point and sign the exact decision needs.
    """
    cap = 1024 + len(lon) // 2
    hit_point = np.empty(cap, np.int64)
    hit_zone = np.empty(cap, np.int64)
    hit_inside = np.empty(cap, np.bool_)
    ucap = 64
    unsure_row = np.empty(ucap, np.int64)
    unsure_q = np.empty((ucap, 3))
    n = 0
    m = 0
    for i in range(len(lon)):
        plon, plat = lon[i], lat[i]
        fx = (plon - origin_lon) / cell_deg
        fy = (plat - origin_lat) / cell_deg
        if not (fx >= 0.0 and fx < nx and fy >= 0.0 and fy < ny):
            continue
        cell = int(fx) * ny + int(fy)
        if not (occupied[cell >> 3] >> (cell & 7)) & 1:
            continue
        kx = -1.0
        ky = slope = 0.0
        shift = 2 + 2 * (min(int((fy - int(fy)) * SUB), SUB - 1) * SUB + min(int((fx - int(fx)) * SUB), SUB - 1))
        for j in range(offsets[cell], offsets[cell + 1]):
            z = codes[j] >> 34
            verdict = codes[j] & 3
            if verdict == MIXED:
                verdict = (codes[j] >> shift) & 3
                if verdict == OUT:
                    continue
            if verdict == MIXED:
                if kx < 0.0:
                    kx, ky = _metres_per_degree(plat)
                    slope = _frame_slope(abs(plat))
                d, qlon, qlat, inside = _nearest_of_shape(plon, plat, kx, ky, edges, shape_i, shape_f, z)
                sign = -1.0 if inside else 1.0
                band, inflation = shape_f[z, 0], shape_f[z, 1]
                verdict = _verdict(sign * d - inflation, _frame_tolerance_m(d, slope), band)
                if verdict == _UNSURE:
                    g, tol = _geodesic_estimate_m(plon, plat, qlon, qlat)
                    verdict = _verdict(sign * g - inflation, tol, band)
                if verdict == OUT:
                    continue
                if verdict == _UNSURE:
                    if m == ucap:
                        ucap *= 2
                        unsure_row = _grown(unsure_row, ucap)
                        grown_q = np.empty((ucap, 3))
                        grown_q[:m] = unsure_q
                        unsure_q = grown_q
                    unsure_row[m] = n
                    unsure_q[m, 0], unsure_q[m, 1], unsure_q[m, 2] = qlon, qlat, sign
                    m += 1
            if n == cap:
                cap *= 2
                hit_point = _grown(hit_point, cap)
                hit_zone = _grown(hit_zone, cap)
                hit_inside = _grown(hit_inside, cap)
            hit_point[n] = i
            hit_zone[n] = z
            hit_inside[n] = verdict == INSIDE
            n += 1
    return hit_point[:n], hit_zone[:n], hit_inside[:n], unsure_row[:m], unsure_q[:m]
