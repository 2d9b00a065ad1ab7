"""Geodesic distance from points to shape skeletons, vectorised over (point, shape) pairs.

Every shape is a *skeleton* in longitude/latitude (a centre point, a polyline or polygon rings)
plus an inflation in metres (a circle's radius, half a corridor's width, zero for an area).
Skeleton edges are straight in longitude/latitude, as GeoJSON (RFC 7946, 3.1.1) defines them.

Method: each pair is first measured in a linear frame centred on the point (metres per degree
at the point's latitude), where straight lon/lat edges stay straight; the nearest skeleton point
``q`` found there defines the answer: the exact geodesic distance from the point to ``q``. Where
one part of the skeleton is nearest, that errs only to second order in the position of ``q``
(millimetres for zones up to 1,000 km across); where two parts are almost equally near, by at
most their difference in the frame's distortion. Distances below :data:`SNAP_M` count as zero,
so a point on an edge, up to rounding, is on it.

Where only a comparison with 0 or with a threshold is wanted, that answer is first estimated
twice, each time with a bound on its error: by the frame distance itself (the conservative
bound of :func:`_frame_tolerance_m`), then by a mid-latitude estimate of the geodesic distance
to ``q`` (errs by about a millimetre at 10 km in mid-latitudes; its bound is over four times
the largest error seen against exact geodesics from 1 cm to 1,000 km, up to 89 degrees of
latitude). Beyond 1,000 km, or near the poles, the estimate is Lambert's formula for long lines
on the ellipsoid, whose bound is four times the largest error seen against exact geodesics from
millimetres to the antipode (see :func:`_lambert_m`). The exact geodesic is computed only where
an estimate is too close to call, so the comparisons are those of the exact answer.

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
SUBSET_MIN_EDGES = 32
"""A mixed cell of a shape with more edges keeps the subset of them its points need."""
_UNSURE = 4
_ESTIMATE_MAX_M = 1.0e6
"""Beyond this distance the estimates claim no bound: the exact geodesic decides."""
_ESTIMATE_MAX_LAT_DEG = 89.0
"""Nor closer to a pole than this, where lon/lat frames degenerate."""
_MID_LATITUDE_ERROR = 0.25
"""Bound on the mid-latitude estimate's error in units of d (d/R)^2 / cos^2(lat); at most 0.053 seen."""
_LAMBERT_ERROR = 0.5
"""Bound on Lambert's error in units of f^2 d / cos^2(sigma / 2); at most 0.1254 seen (2 million pairs)."""
_F = 1.0 - math.sqrt(1.0 - E2)
"""The flattening."""
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

    def packed(self, bands_m: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The kernels' skeleton view, a cache line per edge or shape: edges (E, 4) float64; an
        edge index (0..E-1, int64); per shape (start, count, is area) int64; per shape (band,
        inflation, point lon, point lat) float64, the point NaN unless the skeleton is one point.
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
        return (np.ascontiguousarray(edges), np.arange(len(edges), dtype=np.int64),
                np.ascontiguousarray(shape_i), np.ascontiguousarray(shape_f))


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
    estimate, tol, qlon, qlat, sign = _pair_estimates(lon, lat, shape_of_pair, sk.packed())
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
# A skeleton view ``sk`` is the tuple of Skeletons.packed(): (edges, edge_index, shape_i, shape_f).
# The edges of shape z measured for a point are edge_index[first:first + count], in increasing
# order: all of them (first = start, count = count), or a grid cell's subset.

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
    """Bound on |frame distance - geodesic distance| to the same point, d metres away.

    About ten times the largest error seen; ``slope`` is :func:`_frame_slope` of the point's latitude.
    """
    if slope == np.inf or d > _ESTIMATE_MAX_M:
        return np.inf
    bound = 2.0 * d * (d / EARTH_RADIUS_M) * slope + 1.0
    if d > 2e5:
        bound += 0.01 * d
    return bound


@njit(cache=True, nogil=True)
def _edge_d2(plon, plat, kx, ky, edges, e):
    """(squared frame distance, parameter t of the nearest point) from a point to edge ``e``."""
    ax = _wrap_deg(edges[e, 0] - plon) * kx
    ay = (edges[e, 1] - plat) * ky
    dx = _wrap_deg(edges[e, 2] - plon) * kx - ax
    dy = (edges[e, 3] - plat) * ky - ay
    seg2 = dx * dx + dy * dy
    t = 0.0
    if seg2 > 0.0:
        t = min(max(-(ax * dx + ay * dy) / seg2, 0.0), 1.0)
    ex = ax + t * dx
    ey = ay + t * dy
    return ex * ex + ey * ey, t


@njit(cache=True, nogil=True)
def _nearest(plon, plat, kx, ky, sk, first, count, parity, is_area):
    """(frame distance m, nearest lon, nearest lat, inside) of a point and a skeleton's edges.

    The first edge wins ties; the nearest point is an edge's end exactly when it is one.
    ``parity`` is the number of ray crossings (mod 2) of the edges left out.
    """
    edges, index = sk[0], sk[1]
    best = np.inf
    best_t = 0.0
    best_e = index[first]
    crossings = parity
    for k in range(first, first + count):
        e = index[k]
        d2, t = _edge_d2(plon, plat, kx, ky, edges, e)
        if d2 < best:
            best, best_t, best_e = d2, t, e
        x0, y0, x1, y1 = edges[e, 0], edges[e, 1], edges[e, 2], edges[e, 3]
        if is_area and ((y0 > plat) != (y1 > plat)):
            if plon < x0 + (plat - y0) * (x1 - x0) / (y1 - y0):
                crossings += 1
    inside = is_area and crossings % 2 == 1
    x0, y0, x1, y1 = edges[best_e, 0], edges[best_e, 1], edges[best_e, 2], edges[best_e, 3]
    if best_t <= 0.0:
        return math.sqrt(best), x0, y0, inside
    if best_t >= 1.0:
        return math.sqrt(best), x1, y1, inside
    return math.sqrt(best), x0 + best_t * _wrap_deg(x1 - x0), y0 + best_t * (y1 - y0), inside


@njit(cache=True, nogil=True)
def _measure(plon, plat, kx, ky, sk, z, first, count, parity):
    """As _nearest, for shape ``z``; a point skeleton (a circle's centre) skips the edge loop."""
    clon = sk[3][z, 2]
    if clon == clon:
        clat = sk[3][z, 3]
        x = _wrap_deg(clon - plon) * kx
        y = (clat - plat) * ky
        return math.sqrt(x * x + y * y), clon, clat, False
    return _nearest(plon, plat, kx, ky, sk, first, count, parity, sk[2][z, 2] != 0)


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
        return _lambert_m(plon, plat, qlon, qlat)
    c = math.cos(lat_reach * _DEG)
    return d, _MID_LATITUDE_ERROR * d * rho * rho / (c * c) + 1e-12 * d + _FLOOR_M


@njit(cache=True, nogil=True)
def _lambert_m(plon, plat, qlon, qlat):
    """(estimate, bound on its error) of the geodesic distance between two points, metres, at any
    distance and latitude: Lambert's formula (the great-circle arc sigma between the reduced
    latitudes, corrected to first order in the flattening f). Its error grows as f^2 d, and as
    1 / cos^2(sigma / 2) towards the antipode, where the bound grows without limit.
    """
    b1 = math.atan((1.0 - _F) * math.tan(min(max(plat, -90.0), 90.0) * _DEG))
    b2 = math.atan((1.0 - _F) * math.tan(min(max(qlat, -90.0), 90.0) * _DEG))
    s_lat = math.sin(0.5 * (b2 - b1))
    s_lon = math.sin(0.5 * _wrap_deg(qlon - plon) * _DEG)
    h = min(s_lat * s_lat + math.cos(b1) * math.cos(b2) * s_lon * s_lon, 1.0)
    sigma = 2.0 * math.atan2(math.sqrt(h), math.sqrt(1.0 - h))
    half_sin, half_cos = math.sin(0.5 * sigma), math.cos(0.5 * sigma)
    if half_sin == 0.0 or half_cos == 0.0:
        return A_M * sigma, (0.0 if half_sin == 0.0 else np.inf) + _FLOOR_M
    p, q = 0.5 * (b1 + b2), 0.5 * (b2 - b1)
    x = (sigma - math.sin(sigma)) * (math.sin(p) * math.cos(q)) ** 2 / (half_cos * half_cos)
    y = (sigma + math.sin(sigma)) * (math.cos(p) * math.sin(q)) ** 2 / (half_sin * half_sin)
    d = A_M * (sigma - 0.5 * _F * (x + y))
    return d, _LAMBERT_ERROR * _F * _F * d / (half_cos * half_cos) + 1e-12 * d + _FLOOR_M


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
def _pair_estimates(lon, lat, shape_of_pair, sk):
    n = len(shape_of_pair)
    estimate = np.empty(n)
    tol = np.empty(n)
    qlon = np.empty(n)
    qlat = np.empty(n)
    sign = np.empty(n)
    for i in range(n):
        k = shape_of_pair[i]
        kx, ky = _metres_per_degree(lat[i])
        _, qlon[i], qlat[i], inside = _measure(lon[i], lat[i], kx, ky, sk, k, sk[2][k, 0], sk[2][k, 1], 0)
        g, tol[i] = _geodesic_estimate_m(lon[i], lat[i], qlon[i], qlat[i])
        sign[i] = -1.0 if inside else 1.0
        estimate[i] = sign[i] * g - sk[3][k, 1]
    return estimate, tol, qlon, qlat, sign


@njit(cache=True, nogil=True)
def _grown(a, cap):
    b = np.empty(cap, a.dtype)
    b[: len(a)] = a
    return b


# ---- the zone index's grid kernels ----
# A grid is (origin lon, origin lat, cell side in degrees, rows); cell (ix, iy) is number ix rows + iy.
# A (zone, cell) entry has a code, zone << 35 | parity << 34 | sub-cell classes << 2 | class, and
# an edge range, first << 20 | count (fewer than 2**20 edges per shape).

@njit(cache=True, nogil=True)
def _class_at(box, radius, slope, sk, z, first, count, parity):
    """Class of zone ``z`` over a cell (west, east, south, north) of that radius, whatever its point p.

    An area's side is its centre's side when no edge meets the cell (the boundary is its
    edges in lon/lat). The answer at p, C(p) = geodesic distance to p's frame-nearest
    skeleton point q_p, is bounded from the centre c's frame distance d_c, nearest point q_c
    and estimate g_c of C(c), with frame tolerance t (distance is 1-Lipschitz, D is the true one):
    C(p) >= D(p) >= D(c) - radius >= d_c - t - radius, and
    C(p) <= L_p(q_p) + t <= L_p(q_c) + t <= G(p, q_c) + 2 t <= g_c + its error + radius + 2 t,
    t taken at the farthest of these distances (a point skeleton needs no t).
    MIXED when the bounds do not decide.
    """
    clon, clat = 0.5 * (box[0] + box[1]), 0.5 * (box[2] + box[3])
    if sk[2][z, 2] != 0 and _meets_box(sk, first, count, box):
        return MIXED
    kx, ky = _metres_per_degree(clat)
    d, qlon, qlat, inside = _measure(clon, clat, kx, ky, sk, z, first, count, parity)
    if inside:
        return INSIDE
    g, tol = _geodesic_estimate_m(clon, clat, qlon, qlat)
    if sk[3][z, 2] == sk[3][z, 2]:
        low, high = g - tol - radius, g + tol + radius
    else:
        low = d - _frame_tolerance_m(d, slope) - radius
        high = g + tol + radius
        t = _frame_tolerance_m(high, slope)
        t_far = _frame_tolerance_m(high + 4.0 * t, slope)
        high += 2.0 * t_far if t_far <= 2.0 * t else np.inf  # else the distances may outrun t_far
    low, high = low - sk[3][z, 1], high - sk[3][z, 1]
    band = sk[3][z, 0]
    if low > band:
        return OUT
    if high < 0.0:
        return INSIDE
    if (low > 0.0 or sk[2][z, 2] != 0) and high <= band:
        return BAND
    return MIXED


@njit(cache=True, nogil=True)
def _meets_box(sk, first, count, box):
    """Whether an edge may meet the box (west, east, south, north), padded past any rounding."""
    edges, index = sk[0], sk[1]
    pad = 1e-9
    west, east, south, north = box[0] - pad, box[1] + pad, box[2] - pad, box[3] + pad
    for k in range(first, first + count):
        e = index[k]
        x0, y0, x1, y1 = edges[e, 0], edges[e, 1], edges[e, 2], edges[e, 3]
        if max(x0, x1) < west or min(x0, x1) > east or max(y0, y1) < south or min(y0, y1) > north:
            continue
        dx, dy = x1 - x0, y1 - y0
        slack = 4e-16 * (abs(dx) + abs(dy)) * (abs(east - x0) + abs(west - x0) + abs(north - y0) + abs(south - y0))
        above = below = False
        for cx, cy in ((west, south), (east, south), (west, north), (east, north)):
            f = dx * (cy - y0) - dy * (cx - x0)
            above = above or f >= -slack
            below = below or f <= slack
        if above and below:
            return True
    return False


@njit(cache=True, nogil=True)
def classify_cells(box_cells, grid, row_radius_m, sub_radius_m, row_abs_lat, sk):
    """(cells, codes, edge ranges, edge index) of the (zone, cell) entries that may hold hits.

    ``box_cells[z]`` is (ix0, ix1, iy0, iy1), inclusive; ``sk[3][z, 0]`` is the zone's band;
    ``sub_radius_m`` has one radius per row of sub-cells; the sub-cell (sx, sy) class is at bit
    2 + 2 (sy SUB + sx) of a MIXED code. A zone's box is classified as one block, split in
    halves while mixed, so the work grows with the zones' perimeters rather than their areas.
    The edge index returned extends ``sk[1]`` with the mixed cells' edge subsets.
    """
    cells = np.empty(1024, np.int64)
    codes = np.empty(1024, np.int64)
    ranges = np.empty(1024, np.int64)
    n = 0
    used = len(sk[1])  # of the edge index, which has spare room at its end
    stack = np.empty((256, 4), np.int64)  # depth-first: never deeper than 3 x log2(cells) + 1
    for z in range(len(box_cells)):
        stack[0] = box_cells[z]
        top = 1
        while top > 0:
            top -= 1
            ix0, ix1, iy0, iy1 = stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3]
            first, count, parity = sk[2][z, 0], sk[2][z, 1], 0
            if ix0 == ix1 and iy0 == iy1:
                code, sk, used, first, count, parity = _cell_code(ix0, iy0, grid, row_radius_m, sub_radius_m,
                                                                  row_abs_lat, sk, used, z)
            else:
                code = _block_class(ix0, ix1, iy0, iy1, grid, sk, z)
                if code == MIXED:
                    mx, my = (ix0 + ix1) // 2, (iy0 + iy1) // 2
                    for bx0, bx1 in ((ix0, mx), (mx + 1, ix1)):
                        for by0, by1 in ((iy0, my), (my + 1, iy1)):
                            if bx0 <= bx1 and by0 <= by1:  # a half is empty along an axis one cell wide
                                stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3] = bx0, bx1, by0, by1
                                top += 1
                    continue
            if code == OUT:
                continue
            while n + (ix1 - ix0 + 1) * (iy1 - iy0 + 1) > len(cells):
                cells, codes, ranges = _grown(cells, 2 * n), _grown(codes, 2 * n), _grown(ranges, 2 * n)
            for ix in range(ix0, ix1 + 1):
                for iy in range(iy0, iy1 + 1):
                    cells[n] = ix * grid[3] + iy
                    codes[n] = (z << 35) | (parity << 34) | code
                    ranges[n] = (first << 20) | count
                    n += 1
    return cells[:n], codes[:n], ranges[:n], sk[1][:used]


@njit(cache=True, nogil=True)
def _block_class(ix0, ix1, iy0, iy1, grid, sk, z):
    """Class of zone ``z`` over a block of cells; its radius is the farthest corner or edge middle
    by the estimate plus its error bound (distance from the centre peaks on the boundary, at corners)."""
    west, east = grid[0] + ix0 * grid[2], grid[0] + (ix1 + 1) * grid[2]
    south, north = grid[1] + iy0 * grid[2], grid[1] + (iy1 + 1) * grid[2]
    clon, clat = 0.5 * (west + east), 0.5 * (south + north)
    radius = 0.0
    for x, y in ((west, south), (east, south), (west, north), (east, north),
                 (clon, south), (clon, north), (west, clat), (east, clat)):
        g, tol = _geodesic_estimate_m(clon, clat, x, y)
        radius = max(radius, g + tol)
    slope = _frame_slope(max(abs(south), abs(north)))
    return _class_at((west, east, south, north), radius * 1.001 + 1.0, slope, sk, z, sk[2][z, 0], sk[2][z, 1], 0)


@njit(cache=True, nogil=True)
def _cell_code(ix, iy, grid, row_radius_m, sub_radius_m, row_abs_lat, sk, used, z):
    """(code bits, skeleton view, index used, first, count, parity) of one cell: its class, or when
    mixed its sub-cells' classes and, for a shape of many edges, the subset of edges its points need."""
    clat = grid[1] + (iy + 0.5) * grid[2]
    clon = grid[0] + (ix + 0.5) * grid[2]
    kx, ky = _metres_per_degree(clat)
    slope = _frame_slope(row_abs_lat[iy])
    first, count, parity = sk[2][z, 0], sk[2][z, 1], 0
    box = (grid[0] + ix * grid[2], grid[0] + (ix + 1) * grid[2], grid[1] + iy * grid[2], grid[1] + (iy + 1) * grid[2])
    code = _class_at(box, row_radius_m[iy], slope, sk, z, first, count, parity)
    if code != MIXED:
        return code, sk, used, first, count, parity
    if count > SUBSET_MIN_EDGES:
        sk, used, first, count, parity = _edge_subset(ix, iy, clon, clat, kx, ky, row_radius_m[iy], slope, grid,
                                                      sk, used, z)
    bits = 0
    agree = True
    for sy in range(SUB):
        for sx in range(SUB):
            box = (grid[0] + (ix + sx / SUB) * grid[2], grid[0] + (ix + (sx + 1) / SUB) * grid[2],
                   grid[1] + (iy + sy / SUB) * grid[2], grid[1] + (iy + (sy + 1) / SUB) * grid[2])
            c = _class_at(box, sub_radius_m[iy * SUB + sy], slope, sk, z, first, count, parity)
            bits |= c << (2 + 2 * (sy * SUB + sx))
            agree = agree and c == (bits >> 2) & 3
    if agree and (bits >> 2) & 3 != MIXED:
        return (bits >> 2) & 3, sk, used, first, count, parity
    return bits | MIXED, sk, used, first, count, parity


@njit(cache=True, nogil=True)
def _edge_subset(ix, iy, clon, clat, kx, ky, radius, slope, grid, sk, used, z):
    """Appends to the edge index (``used`` long) the edges of shape ``z`` that matter to some
    point of the cell; returns (skeleton view, index used, first, count, parity).

    An edge matters when it can be the frame-nearest (its frame distance from the centre is
    within 2 radius + 4 frame tolerances of the least: each point's frame distances differ from
    the centre's by at most radius + 2 tolerances) or when a point's eastward ray may or may
    not cross it; an edge every such ray crosses is left out and counted in the parity.
    """
    edges, index = sk[0], sk[1]
    start, count = sk[2][z, 0], sk[2][z, 1]
    least = np.inf
    for e in range(start, start + count):
        least = min(least, _edge_d2(clon, clat, kx, ky, edges, e)[0])
    least = math.sqrt(least)
    t = _frame_tolerance_m(least + 2.0 * radius, slope)
    t_far = _frame_tolerance_m(least + 3.0 * radius + 8.0 * t, slope)  # the farthest distance in play
    reach = least + 2.0 * radius + 4.0 * t_far + 1.0 if t_far <= 2.0 * t else np.inf
    pad = 1e-9  # degrees: more than the rounding of a point's cell or of a crossing's longitude
    west, east = grid[0] + ix * grid[2] - pad, grid[0] + (ix + 1) * grid[2] + pad
    south, north = grid[1] + iy * grid[2] - pad, grid[1] + (iy + 1) * grid[2] + pad
    if used + count > len(index):
        index = _grown(index, 2 * (used + count))
    is_area = sk[2][z, 2] != 0
    kept = parity = 0
    for e in range(start, start + count):
        x0, y0, x1, y1 = edges[e, 0], edges[e, 1], edges[e, 2], edges[e, 3]
        never = not is_area or max(y0, y1) <= south or min(y0, y1) > north or max(x0, x1) < west
        always = not never and min(y0, y1) <= south and max(y0, y1) > north and min(x0, x1) > east
        if math.sqrt(_edge_d2(clon, clat, kx, ky, edges, e)[0]) <= reach or not (never or always):
            index[used + kept] = e
            kept += 1
        elif always:
            parity ^= 1
    return (edges, index, sk[2], sk[3]), used + kept, used, kept, parity


@njit(cache=True, nogil=True)
def group_by_cell(cells, n_cells):
    """(offsets, order): entry ``order[k]`` for k in ``offsets[c]:offsets[c + 1]`` is in cell ``c``,
    in their given order (a stable counting sort). Offsets are int32, half the cache footprint of
    int64; the caller keeps the entries below 2**31."""
    offsets = np.zeros(n_cells + 1, np.int32)
    for c in cells:
        offsets[c + 1] += 1
    for c in range(n_cells):
        offsets[c + 1] += offsets[c]
    fill = offsets[:-1].copy()
    order = np.empty(len(cells), np.int64)
    for j in range(len(cells)):
        order[fill[cells[j]]] = j
        fill[cells[j]] += 1
    return offsets, order


@njit(cache=True, nogil=True)
def scan_points(lon, lat, grid, nx, occupied, offsets, codes, ranges, sk):
    """Hits (point, zone, inside) in point order, then zone order within the point's cell.

    ``codes`` and ``ranges`` are those of :func:`classify_cells`, grouped by cell. ``occupied``
    has one bit per cell (little-endian bit order), set where the cell has entries: small
    enough to stay in cache, it spares most points a lookup in ``offsets``. Pairs the estimates
    cannot decide are listed as hits too, with their row in the hits, and the nearest skeleton
    point and sign the exact decision needs.
    """
    origin_lon, origin_lat, cell_deg, ny = grid
    cap = 1024 + len(lon) // 2
    hit_point = np.empty(cap, np.int64)
    hit_zone = np.empty(cap, np.int64)
    hit_inside = np.empty(cap, np.bool_)
    unsure_row = np.empty(64, np.int64)
    unsure_q = np.empty((64, 3))
    n = m = 0
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
            code = codes[j]
            z = code >> 35
            verdict = code & 3
            if verdict == MIXED:
                verdict = (code >> shift) & 3
                if verdict == OUT:
                    continue
            if verdict == MIXED:
                if kx < 0.0:
                    kx, ky = _metres_per_degree(plat)
                    slope = _frame_slope(abs(plat))
                d, qlon, qlat, inside = _measure(plon, plat, kx, ky, sk, z, ranges[j] >> 20, ranges[j] & 0xFFFFF,
                                                 (code >> 34) & 1)
                sign = -1.0 if inside else 1.0
                band, inflation = sk[3][z, 0], sk[3][z, 1]
                verdict = _verdict(sign * d - inflation, _frame_tolerance_m(d, slope), band)
                if verdict == _UNSURE:
                    g, tol = _geodesic_estimate_m(plon, plat, qlon, qlat)
                    verdict = _verdict(sign * g - inflation, tol, band)
                if verdict == OUT:
                    continue
                if verdict == _UNSURE:
                    if m == len(unsure_row):
                        unsure_row = _grown(unsure_row, 2 * m)
                        grown_q = np.empty((2 * m, 3))
                        grown_q[:m] = unsure_q
                        unsure_q = grown_q
                    unsure_row[m] = n
                    unsure_q[m, 0], unsure_q[m, 1], unsure_q[m, 2] = qlon, qlat, sign
                    m += 1
            if n == len(hit_point):
                hit_point, hit_zone = _grown(hit_point, 2 * n), _grown(hit_zone, 2 * n)
                hit_inside = _grown(hit_inside, 2 * n)
            hit_point[n] = i
            hit_zone[n] = z
            hit_inside[n] = verdict == INSIDE
            n += 1
    return hit_point[:n], hit_zone[:n], hit_inside[:n], unsure_row[:m], unsure_q[:m]
