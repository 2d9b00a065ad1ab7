"""Geodesic distance from points to shape skeletons, vectorised over (point, shape) pairs.

Every shape is a *skeleton* in longitude/latitude (a centre point, a polyline or polygon rings)
plus an inflation in metres (a circle's radius, half a corridor's width, zero for an area).
Skeleton edges are straight in longitude/latitude, as GeoJSON (RFC 7946, 3.1.1) defines them.

Method: each pair is first measured in a linear frame centred on the point (metres per degree
at the point's latitude), where straight lon/lat edges stay straight; the nearest skeleton point
found there is then measured again with an exact geodesic, wherever the answer is close enough
to a threshold for the approximation to matter. The distance to the approximately-nearest point
errs only to second order in its position, which keeps results within millimetres of the true
geodesic distance for bands and zones up to 1,000 km across.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .wgs84 import geodesic_distance_m, metres_per_degree

EARTH_RADIUS_M = 6.371e6


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
        allE = np.concatenate(edges) if edges else np.zeros((0, 4))
        return cls(
            allE[:, 0].copy(), allE[:, 1].copy(), allE[:, 2].copy(), allE[:, 3].copy(),
            start, counts, np.array(areas, dtype=bool), np.array(inflations_m, dtype=float),
        )


def _wrap_deg(d: np.ndarray) -> np.ndarray:
    return (d + 180.0) % 360.0 - 180.0


def approximate_tolerance_m(distance_m: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    """A safe bound on the error of the linear-frame distance (metres); beyond it no refinement is needed."""
    tan = np.tan(np.radians(np.minimum(np.abs(lat_deg), 89.0)))
    d = np.abs(distance_m)
    return 2.0 * d * (d / EARTH_RADIUS_M) * (2.0 + tan) + 0.01 * d * (d > 2e5) + 1.0


def _expand(shape_of_pair: np.ndarray, sk: Skeletons) -> tuple[np.ndarray, np.ndarray]:
    """For each pair, the indices of its shape's edges: (pair index per edge row, edge index)."""
    counts = sk.count[shape_of_pair]
    pair_row = np.repeat(np.arange(len(shape_of_pair)), counts)
    first = np.repeat(sk.start[shape_of_pair], counts)
    offsets = np.arange(len(pair_row)) - np.repeat(np.cumsum(counts) - counts, counts)
    return pair_row, first + offsets


def signed_distances_m(
    lon: np.ndarray, lat: np.ndarray, shape_of_pair: np.ndarray, sk: Skeletons,
    thresholds_m: np.ndarray | None = None,
) -> np.ndarray:
    """Signed distance in metres from each point to its paired shape (negative inside, 0 on the edge).

    ``lon``/``lat`` are per pair. Where ``thresholds_m`` (per pair, e.g. a perimeter band) is
    given, the exact geodesic refinement is done only for pairs whose approximate answer is
    within the error bound of 0 or of the threshold; elsewhere every pair is refined.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    n = len(shape_of_pair)
    if n == 0:
        return np.zeros(0)
    row, edge = _expand(shape_of_pair, sk)
    plon, plat = lon[row], lat[row]
    kx, ky = metres_per_degree(plat)
    ax = _wrap_deg(sk.lon0[edge] - plon) * kx
    ay = (sk.lat0[edge] - plat) * ky
    bx = _wrap_deg(sk.lon1[edge] - plon) * kx
    by = (sk.lat1[edge] - plat) * ky
    dx, dy = bx - ax, by - ay
    seg2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(seg2 > 0, -(ax * dx + ay * dy) / seg2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    d2 = (ax + t * dx) ** 2 + (ay + t * dy) ** 2
    # best edge per pair: rows are grouped by pair, so a lexsort on (d2, row) picks the minimum
    order = np.lexsort((d2, row))
    first_of_row = np.concatenate([[True], row[order][1:] != row[order][:-1]])
    best = order[first_of_row]
    approx = np.sqrt(d2[best])
    be = edge[best]
    tb = t[best]
    nlon = sk.lon0[be] + tb * _wrap_deg(sk.lon1[be] - sk.lon0[be])
    nlat = sk.lat0[be] + tb * (sk.lat1[be] - sk.lat0[be])
    infl = sk.inflation_m[shape_of_pair]
    inside_area = _inside_areas(lon, lat, shape_of_pair, sk, row, edge)
    sign = np.where(inside_area, -1.0, 1.0)
    signed = sign * approx - infl
    tol = approximate_tolerance_m(approx, lat)
    refine = np.ones(n, dtype=bool) if thresholds_m is None else (
        (np.abs(signed) <= tol) | (np.abs(signed - thresholds_m) <= tol)
    )
    if refine.any():
        exact = geodesic_distance_m(lon[refine], lat[refine], nlon[refine], nlat[refine])
        signed[refine] = sign[refine] * exact - infl[refine]
    return signed


def _inside_areas(lon, lat, shape_of_pair, sk, row, edge) -> np.ndarray:
    """Even-odd ray test in longitude/latitude for pairs whose shape is an area."""
    inside = np.zeros(len(shape_of_pair), dtype=bool)
    is_area_row = sk.area[shape_of_pair][row]
    if not is_area_row.any():
        return inside
    r, e = row[is_area_row], edge[is_area_row]
    x, y = lon[r], lat[r]
    x0, y0, x1, y1 = sk.lon0[e], sk.lat0[e], sk.lon1[e], sk.lat1[e]
    straddles = (y0 > y) != (y1 > y)
    with np.errstate(invalid="ignore", divide="ignore"):
        x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    crossings = straddles & (x < x_cross)
    counts = np.bincount(r, weights=crossings, minlength=len(shape_of_pair))
    return (counts.astype(np.int64) % 2) == 1
