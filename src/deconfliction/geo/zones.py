"""Vectorised zone checks: which points lie inside which zones, or in the perimeter band around them.

The index is a dense longitude/latitude grid over the zones' extent. At build time each
(zone, cell) pair is classified with the exact signed distance at the cell centre and the
cell's radius (signed distance changes by at most the distance moved): the cell is wholly
inside the zone, wholly in its band, or mixed. A query looks up each point's cell and computes
distances only for the mixed pairs, so most points cost a few array operations.
Zones and points are identified by integer positions; the index never knows what it stores.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from .nearest import Skeletons, signed_distances_m
from .shapes import Shape
from .wgs84 import geodesic_distance_m

MAX_CELLS = 16_000_000
MIXED, INSIDE, BAND = 0, 1, 2


@dataclass(frozen=True, slots=True)
class ZoneHits:
    """Pairs of (point, zone) where the point is inside the zone or in its band."""

    point: np.ndarray
    zone: np.ndarray
    inside: np.ndarray
    """True inside the zone (edge included), False in the perimeter band only."""

    def __len__(self) -> int:
        return len(self.point)


class ZoneIndex:
    """Answers "inside or near which zones?" for arrays of positions (degrees)."""

    def __init__(self, shapes: Sequence[Shape], bands_m: Sequence[float], cell_deg: float | None = None):
        self.shapes = list(shapes)
        self.bands_m = np.asarray(bands_m, dtype=float)
        n = len(self.shapes)
        self.skeletons = Skeletons.concat(
            [s.edges() for s in self.shapes], [s.is_area for s in self.shapes], [s.inflation_m for s in self.shapes]
        )
        self.bounds = np.array([s.bounds_deg(b) for s, b in zip(self.shapes, self.bands_m)]).reshape(n, 4)
        self._tree = shapely.STRtree(shapely.box(*self.bounds.T)) if n else None
        self._build_grid(cell_deg)

    def _build_grid(self, cell_deg: float | None) -> None:
        n = len(self.shapes)
        if n == 0:
            self.cell_deg, self.origin, self.shape_cells = 1.0, np.zeros(2), (0, 0)
            self.cell_start = self.cell_count = np.zeros(0, dtype=np.int64)
            self.entry_zone = self.entry_class = np.zeros(0, dtype=np.int64)
            return
        b = self.bounds
        extent = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        lo_lon, lo_lat = b[:, 0].min(), b[:, 1].min()
        hi_lon, hi_lat = b[:, 2].max(), b[:, 3].max()
        cell = cell_deg or float(np.clip(np.median(extent) / 8, 0.002, 1.0))
        while ((hi_lon - lo_lon) / cell + 1) * ((hi_lat - lo_lat) / cell + 1) > MAX_CELLS:
            cell *= 1.5
        self.cell_deg = cell
        self.origin = np.array([lo_lon, lo_lat])
        nx = int(np.floor((hi_lon - lo_lon) / cell)) + 1
        ny = int(np.floor((hi_lat - lo_lat) / cell)) + 1
        self.shape_cells = (nx, ny)
        zone, ix, iy = self._cells_of_boxes(b)
        cx = lo_lon + (ix + 0.5) * cell
        cy = lo_lat + (iy + 0.5) * cell
        sd = signed_distances_m(cx, cy, zone, self.skeletons)
        radius = self._cell_radius_m(iy)
        band = self.bands_m[zone]
        cls = np.full(len(zone), MIXED, dtype=np.int64)
        cls[sd + radius < 0] = INSIDE
        cls[(sd - radius > 0) & (sd + radius <= band)] = BAND
        keep = sd - radius <= band
        zone, cls, flat = zone[keep], cls[keep], (ix * ny + iy)[keep]
        order = np.lexsort((zone, flat))
        flat, self.entry_zone, self.entry_class = flat[order], zone[order], cls[order]
        counts = np.bincount(flat, minlength=nx * ny)
        self.cell_count = counts.astype(np.int32)
        self.cell_start = (np.cumsum(counts) - counts).astype(np.int64)

    def _cells_of_boxes(self, b: np.ndarray):
        cell, (lo_lon, lo_lat) = self.cell_deg, self.origin
        ix0 = np.floor((b[:, 0] - lo_lon) / cell).astype(np.int64)
        ix1 = np.floor((b[:, 2] - lo_lon) / cell).astype(np.int64)
        iy0 = np.floor((b[:, 1] - lo_lat) / cell).astype(np.int64)
        iy1 = np.floor((b[:, 3] - lo_lat) / cell).astype(np.int64)
        wx, wy = ix1 - ix0 + 1, iy1 - iy0 + 1
        per = wx * wy
        zone = np.repeat(np.arange(len(b)), per)
        k = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
        ix = np.repeat(ix0, per) + k // np.repeat(wy, per)
        iy = np.repeat(iy0, per) + k % np.repeat(wy, per)
        return zone, ix, iy

    def _cell_radius_m(self, iy: np.ndarray) -> np.ndarray:
        """Largest distance from a cell's centre to its corners, per latitude row, with a safety margin."""
        rows, inverse = np.unique(iy, return_inverse=True)
        cell, lat0 = self.cell_deg, self.origin[1]
        south = lat0 + rows * cell
        centre_lat = south + cell / 2
        half = cell / 2
        r = np.maximum(
            geodesic_distance_m(0.0, centre_lat, half, centre_lat + half),
            geodesic_distance_m(0.0, centre_lat, half, centre_lat - half),
        )
        return (r * 1.001 + 1.0)[inverse]

    def query(self, lon, lat) -> ZoneHits:
        """Every (point, zone) pair with the point inside the zone or its band (boundaries included)."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        nx, ny = self.shape_cells
        empty = ZoneHits(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool))
        if nx == 0 or len(lon) == 0:
            return empty
        fx = (lon - self.origin[0]) / self.cell_deg
        fy = (lat - self.origin[1]) / self.cell_deg
        ok = (fx >= 0) & (fx < nx) & (fy >= 0) & (fy < ny)
        pts = np.flatnonzero(ok)
        flat = fx[pts].astype(np.int64) * ny + fy[pts].astype(np.int64)
        counts = self.cell_count[flat]
        has = counts > 0
        pts, flat, counts = pts[has], flat[has], counts[has]
        if len(pts) == 0:
            return empty
        point = np.repeat(pts, counts)
        entry = np.repeat(self.cell_start[flat], counts) + (
            np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        zone = self.entry_zone[entry]
        cls = self.entry_class[entry]
        inside = cls == INSIDE
        keep = cls != MIXED
        mixed = np.flatnonzero(~keep)
        if len(mixed):
            mz = zone[mixed]
            sd = signed_distances_m(lon[point[mixed]], lat[point[mixed]], mz, self.skeletons, self.bands_m[mz])
            keep[mixed] = sd <= self.bands_m[mz]
            inside[mixed] = sd <= 0
        return ZoneHits(point[keep], zone[keep], inside[keep])

    def zones_near_boxes(self, min_lon, min_lat, max_lon, max_lat) -> tuple[np.ndarray, np.ndarray]:
        """(box index, zone index) pairs whose box meets the zone's extent with its band."""
        if self._tree is None or len(np.atleast_1d(min_lon)) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        boxes = shapely.box(min_lon, min_lat, max_lon, max_lat)
        box_i, zone_i = self._tree.query(np.atleast_1d(boxes))
        order = np.lexsort((zone_i, box_i))
        return box_i[order], zone_i[order]
