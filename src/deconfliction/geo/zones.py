"""Vectorised zone checks: which points lie inside which zones, or in the perimeter band around them.

The index is a dense longitude/latitude grid over the zones' extent. At build time each
(zone, cell) pair is classified from the signed distance at the cell centre, widened by the
error bounds of its estimate and by the cell's radius (distance changes by at most the
distance moved; an area's side cannot change in a cell none of its edges meets): the cell is
wholly inside the zone, wholly in its band, or mixed. A zone's box is classified as one block
first and split only while mixed, so the work follows the perimeters; a mixed cell's 4 x 4
sub-cells are classified too, and for a shape of many edges it keeps just the edges its
points need. A query looks up each point's cell (a bitmap of occupied cells first, small
enough to stay in cache); pairs still mixed are measured for that point with estimates whose
error is bounded, and with an exact geodesic only where those are too close to a boundary to
call. The answers are therefore those of each shape's exact signed distance
(:meth:`Shape.signed_distance_m`), boundaries included. Zones and points are identified by
integer positions; the index never knows what it stores.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from ..errors import GeometryError
from .nearest import SUB, Skeletons, classify_cells, exact_signed_m, group_by_cell, scan_points
from .shapes import Shape
from .wgs84 import geodesic_distance_m, metres_per_degree

__all__ = ["ZoneHits", "ZoneIndex"]

MAX_CELLS = 16_000_000
_TARGET_CELL_M = 2_000.0
"""Preferred cell side. Mixed cells are split in sub-cells a quarter as wide, so cells can be
coarse: fewer (zone, cell) entries to build and to bring into cache per query."""


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
    """Answers "inside or near which zones?" for arrays of positions (degrees).

    ``bands_m[z]`` is the width in metres of the perimeter band of zone ``z`` (0 for none).
    """

    def __init__(self, shapes: Sequence[Shape], bands_m: Sequence[float], cell_deg: float | None = None):
        self.shapes = list(shapes)
        self.bands_m = np.ascontiguousarray(bands_m, dtype=float).reshape(-1)
        if len(self.bands_m) != len(self.shapes):
            raise ValueError("bands_m needs one band per shape")
        n = len(self.shapes)
        self.skeletons = Skeletons.concat(
            [s.edges() for s in self.shapes], [s.is_area for s in self.shapes], [s.inflation_m for s in self.shapes]
        )
        self._packed = self.skeletons.packed(self.bands_m)
        self.bounds = np.array([s.bounds_deg(b) for s, b in zip(self.shapes, self.bands_m)]).reshape(n, 4)
        self._tree = shapely.STRtree(shapely.box(*self.bounds.T)) if n else None
        self._build_grid(cell_deg)

    def _build_grid(self, cell_deg: float | None) -> None:
        if len(self.shapes) == 0:
            self.cell_deg, self.origin, self.shape_cells, self._grid = 1.0, np.zeros(2), (0, 0), (0.0, 0.0, 1.0, 0)
            self.cell_offsets, self.cell_codes = np.zeros(1, dtype=np.int32), np.zeros(0, dtype=np.int64)
            self.cell_ranges, self.cell_occupied = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
            return
        b = self.bounds
        lo_lon, lo_lat = b[:, 0].min(), b[:, 1].min()
        hi_lon, hi_lat = b[:, 2].max(), b[:, 3].max()
        cell = cell_deg or self._default_cell_deg()
        while ((hi_lon - lo_lon) / cell + 1) * ((hi_lat - lo_lat) / cell + 1) > MAX_CELLS:
            cell *= 1.5
        self.cell_deg = cell
        self.origin = np.array([lo_lon, lo_lat])
        nx = int(np.floor((hi_lon - lo_lon) / cell)) + 1
        ny = int(np.floor((hi_lat - lo_lat) / cell)) + 1
        self.shape_cells = (nx, ny)
        box_cells = np.stack([
            np.floor((b[:, 0] - lo_lon) / cell), np.floor((b[:, 2] - lo_lon) / cell),
            np.floor((b[:, 1] - lo_lat) / cell), np.floor((b[:, 3] - lo_lat) / cell),
        ], axis=1).astype(np.int64)
        box_cells[:, :2] = np.clip(box_cells[:, :2], 0, nx - 1)
        box_cells[:, 2:] = np.clip(box_cells[:, 2:], 0, ny - 1)
        cell_radius_m = self._row_radius_m(cell, ny)
        sub_radius_m = self._row_radius_m(cell / SUB, ny * SUB)
        abs_lat = np.maximum(np.abs(lo_lat + np.arange(ny) * cell), np.abs(lo_lat + np.arange(1, ny + 1) * cell))
        self._grid = (float(lo_lon), float(lo_lat), float(cell), ny)
        cells, codes, ranges, edge_index = classify_cells(
            box_cells, self._grid, cell_radius_m, sub_radius_m, abs_lat, self._packed,
        )
        if len(codes) >= 2**31:
            raise GeometryError("too many (zone, cell) pairs for the index; pass a coarser cell_deg")
        offsets, order = group_by_cell(cells, nx * ny)
        self.cell_offsets, self.cell_codes, self.cell_ranges = offsets, codes[order], ranges[order]
        self.cell_occupied = np.packbits(np.diff(offsets) > 0, bitorder="little")
        self._packed = (self._packed[0], edge_index, *self._packed[2:])

    def _default_cell_deg(self) -> float:
        """About :data:`_TARGET_CELL_M`, or a quarter of the typical zone's extent when that is less.

        Large zones need no coarser cells: their boxes are classified block by block.
        """
        b = self.bounds
        extent = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        _, m_per_deg_lat = metres_per_degree(np.median((b[:, 1] + b[:, 3]) / 2))
        target = _TARGET_CELL_M / float(m_per_deg_lat)
        return float(np.clip(min(target, np.median(extent) / 4), 0.001, 1.0))

    def _row_radius_m(self, cell: float, rows: int) -> np.ndarray:
        """Per row of cells ``cell`` degrees a side from the grid's origin: the largest distance from a
        cell's centre to its corners, with a safety margin."""
        centre_lat = self.origin[1] + (np.arange(rows) + 0.5) * cell
        half = cell / 2
        r = np.maximum(
            geodesic_distance_m(0.0, centre_lat, half, centre_lat + half),
            geodesic_distance_m(0.0, centre_lat, half, centre_lat - half),
        )
        return np.ascontiguousarray(r * 1.001 + 1.0)

    def query(self, lon, lat) -> ZoneHits:
        """Every (point, zone) pair with the point inside the zone or its band (boundaries included).

        Hits come in point order. ``inside`` is true where the point is inside the zone proper.
        """
        lon = np.ascontiguousarray(lon, dtype=float).reshape(-1)
        lat = np.ascontiguousarray(lat, dtype=float).reshape(-1)
        if len(lon) != len(lat):
            raise ValueError("lon and lat must have the same length")
        nx, ny = self.shape_cells
        if nx == 0 or len(lon) == 0:
            return ZoneHits(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool))
        point, zone, inside, unsure_row, unsure_q = scan_points(
            lon, lat, self._grid, nx, self.cell_occupied, self.cell_offsets, self.cell_codes, self.cell_ranges,
            self._packed,
        )
        if len(unsure_row) == 0:
            return ZoneHits(point, zone, inside)
        p, z = point[unsure_row], zone[unsure_row]
        signed = exact_signed_m(lon[p], lat[p], unsure_q[:, 0], unsure_q[:, 1], unsure_q[:, 2],
                                self.skeletons.inflation_m[z])
        inside[unsure_row] = signed <= 0.0
        keep = np.ones(len(point), dtype=bool)
        keep[unsure_row] = signed <= self.bands_m[z]
        return ZoneHits(point[keep], zone[keep], inside[keep])

    def zones_near_boxes(self, min_lon, min_lat, max_lon, max_lat) -> tuple[np.ndarray, np.ndarray]:
        """(box index, zone index) pairs whose box meets the zone's extent with its band, in box then zone order."""
        min_lon, min_lat, max_lon, max_lat = (np.atleast_1d(np.asarray(a, dtype=float))
                                              for a in (min_lon, min_lat, max_lon, max_lat))
        if self._tree is None or len(min_lon) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        b = self.bounds
        # boxes clear of the extent of all zones together meet none (most boxes, most of the time)
        near = np.flatnonzero((max_lon >= b[:, 0].min()) & (min_lon <= b[:, 2].max())
                              & (max_lat >= b[:, 1].min()) & (min_lat <= b[:, 3].max()))
        if len(near) * len(b) <= 1_000_000:  # few enough pairs to test every one at once
            meets = ((max_lon[near, None] >= b[None, :, 0]) & (min_lon[near, None] <= b[None, :, 2])
                     & (max_lat[near, None] >= b[None, :, 1]) & (min_lat[near, None] <= b[None, :, 3]))
            box_i, zone_i = np.nonzero(meets)  # row-major: box then zone order
            return near[box_i].astype(np.int64), zone_i.astype(np.int64)
        boxes = shapely.box(min_lon[near], min_lat[near], max_lon[near], max_lat[near])
        box_i, zone_i = self._tree.query(boxes)
        order = np.lexsort((zone_i, box_i))
        return near[box_i[order]].astype(np.int64), zone_i[order].astype(np.int64)
