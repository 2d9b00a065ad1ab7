"""Vectorised zone checks: which points lie inside which zones, or in the perimeter band around them.

The index is a dense longitude/latitude grid over the zones' extent, one per size of zone (a
level): a zone goes to the finest level whose cells it spans at most :data:`LEVEL_SPAN` of, so
what a zone costs the index (its (zone, cell) entries, and the work to find them) is bounded
whatever its size, up to a hemisphere, and a big zone neither coarsens the cells of the small
ones nor is rasterised into them. Within a level, at build time each
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

import math
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
LEVEL_SPAN = 64
"""A zone goes to the finest level on which its extent (with its band) spans at most this many
cells, so it has at most (LEVEL_SPAN + 1)^2 entries there; the zones of one region, with the
default cells of about 2 km, are all on the first level (up to about 120 km across)."""
LEVEL_FACTOR = 8
"""Each level's cells are this many times as wide as the previous level's: a zone on level k > 0
spans more than LEVEL_SPAN / LEVEL_FACTOR of its cells, so few of its points need measuring."""
REBUILD_FRACTION = 1 / 8
"""An extended index is built again in full once the zones added since it was are more than this
fraction of all its zones."""


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
    ``cell_deg`` is the cell side of the first level (default: about 2 km, or less for small zones).
    """

    def __init__(self, shapes: Sequence[Shape], bands_m: Sequence[float], cell_deg: float | None = None,
                 *, keep: "ZoneIndex | None" = None):
        self.shapes = list(shapes)
        self.bands_m = np.ascontiguousarray(bands_m, dtype=float).reshape(-1)
        if len(self.bands_m) != len(self.shapes):
            raise ValueError("bands_m needs one band per shape")
        n = len(self.shapes)
        if keep is None:
            self.bounds = np.array([s.bounds_deg(b) for s, b in zip(self.shapes, self.bands_m)]).reshape(n, 4)
        else:
            added = [s.bounds_deg(b) for s, b in zip(self.shapes[len(keep.shapes):], self.bands_m[len(keep.shapes):])]
            self.bounds = np.vstack([keep.bounds, np.reshape(added, (-1, 4))])
        self._tree = shapely.STRtree(shapely.box(*self.bounds.T)) if n else None
        self._cell_deg = cell_deg
        if keep is None:
            self._base, self._built = cell_deg or self._default_cell_deg(), n
            self._main = self._levels_of(np.arange(n))
        else:  # the levels of the zones it had when it was built in full; those since get their own
            self._base, self._built, self._main = keep._base, keep._built, keep._main
        self.levels = self._main + self._levels_of(np.arange(self._built, n))
        first = self.levels[0]
        self.cell_deg, self.shape_cells = first.cell_deg, first.shape_cells

    def extended(self, shapes: Sequence[Shape], bands_m: Sequence[float]) -> "ZoneIndex":
        """This index with more zones, numbered after the others.

        The zones it was built with keep their levels; those added since get levels of their own,
        built again at each extension, until they are more than :data:`REBUILD_FRACTION` of all
        zones, when all are built again at once. So adding a zone costs a build of the zones
        added lately, not of all (a fraction of it, on average), and there are few levels to query.
        """
        shapes, bands = [*self.shapes, *shapes], np.r_[self.bands_m, np.asarray(bands_m, dtype=float).reshape(-1)]
        if (len(shapes) - self._built) > REBUILD_FRACTION * len(shapes):
            return ZoneIndex(shapes, bands, self._cell_deg)
        return ZoneIndex(shapes, bands, self._cell_deg, keep=self)

    def _levels_of(self, zones: np.ndarray) -> list["_Level"]:
        """The levels of ``zones``: each on the finest on which it spans at most LEVEL_SPAN cells."""
        if not len(zones):
            return [] if self._built else [_Level(self, zones, self._base)]
        b = self.bounds[zones]
        extent = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        level = np.zeros(len(zones), dtype=np.int64)
        big = extent > self._base * LEVEL_SPAN
        level[big] = np.ceil(np.log(extent[big] / (self._base * LEVEL_SPAN)) / np.log(LEVEL_FACTOR) - 1e-12)
        return [_Level(self, zones[level == k], self._base * LEVEL_FACTOR ** k) for k in np.unique(level).tolist()]

    def _default_cell_deg(self) -> float:
        """About :data:`_TARGET_CELL_M`, or a quarter of the typical zone's extent when that is less.

        Larger zones go to coarser levels (and their boxes are classified block by block).
        """
        b = self.bounds
        if not len(b):
            return 1.0
        extent = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        _, m_per_deg_lat = metres_per_degree(np.median((b[:, 1] + b[:, 3]) / 2))
        target = _TARGET_CELL_M / float(m_per_deg_lat)
        return float(np.clip(min(target, np.median(extent) / 4), 0.001, 1.0))

    def entries_per_zone(self) -> np.ndarray:
        """How many (zone, grid cell) entries the index holds for each zone: what a zone costs it."""
        counts = np.zeros(len(self.shapes), dtype=np.int64)
        for level in self.levels:
            counts[level.zones] += np.bincount(level.cell_codes >> 35, minlength=len(level.zones))
        return counts

    def query(self, lon, lat) -> ZoneHits:
        """Every (point, zone) pair with the point inside the zone or its band (boundaries included).

        Hits come in point order (then level by level, in zone order on each). ``inside`` is true where
        the point is inside the zone proper.
        """
        lon = np.ascontiguousarray(lon, dtype=float).reshape(-1)
        lat = np.ascontiguousarray(lat, dtype=float).reshape(-1)
        if len(lon) != len(lat):
            raise ValueError("lon and lat must have the same length")
        found = [hits for level in self.levels if len(hits := level.query(lon, lat))]
        if not found:
            return ZoneHits(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool))
        if len(found) == 1:
            return found[0]
        point, zone, inside = (np.concatenate(c) for c in zip(*((h.point, h.zone, h.inside) for h in found)))
        order = np.argsort(point, kind="stable")  # each level's hits are in point order already
        return ZoneHits(point[order], zone[order], inside[order])

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


class _Level:
    """The grid of one level: the zones ``zones`` (indexes into the index's shapes, ascending), cells
    ``cell_deg`` wide unless too many cells are needed over their extent."""

    def __init__(self, index: ZoneIndex, zones: np.ndarray, cell_deg: float):
        self.zones = zones
        self.bands_m = index.bands_m[zones]
        shapes = [index.shapes[z] for z in zones.tolist()]
        self.inflation_m = np.array([s.inflation_m for s in shapes], dtype=float)
        skeletons = Skeletons.concat([s.edges() for s in shapes], [s.is_area for s in shapes],
                                     [s.inflation_m for s in shapes])
        self._packed = skeletons.packed(self.bands_m)
        self.bounds = index.bounds[zones]
        self._build_grid(cell_deg)

    def _build_grid(self, cell: float) -> None:
        if len(self.zones) == 0:
            self.cell_deg, self.origin, self.shape_cells, self._grid = 1.0, np.zeros(2), (0, 0), (0.0, 0.0, 1.0, 0)
            self.cell_offsets, self.cell_codes = np.zeros(1, dtype=np.int32), np.zeros(0, dtype=np.int64)
            self.cell_ranges, self.cell_occupied = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
            return
        b = self.bounds
        lo_lon, lo_lat = b[:, 0].min(), b[:, 1].min()
        hi_lon, hi_lat = b[:, 2].max(), b[:, 3].max()
        cell = _tiling(cell)
        while ((hi_lon - lo_lon) / cell + 1) * ((hi_lat - lo_lat) / cell + 1) > MAX_CELLS:
            cell = _tiling(cell * 1.5)
        lo_lat = -90.0 + math.floor((lo_lat + 90.0) / cell) * cell  # rows on the tiling: none reaches past a pole
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

    def _row_radius_m(self, cell: float, rows: int) -> np.ndarray:
        """Per row of cells ``cell`` degrees a side from the grid's origin: the largest distance from a
        cell's centre to its corners, with a safety margin."""
        centre_lat = self.origin[1] + (np.arange(rows) + 0.5) * cell
        half = cell / 2
        r = np.maximum(
            geodesic_distance_m(0.0, centre_lat, half, np.minimum(centre_lat + half, 90.0)),
            geodesic_distance_m(0.0, centre_lat, half, np.maximum(centre_lat - half, -90.0)),
        )
        return np.ascontiguousarray(r * 1.001 + 1.0)

    def query(self, lon: np.ndarray, lat: np.ndarray) -> ZoneHits:
        """The level's hits, its zones numbered as in the index."""
        nx, _ = self.shape_cells
        if nx == 0 or len(lon) == 0:
            return ZoneHits(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool))
        point, zone, inside, unsure_row, unsure_q = scan_points(
            lon, lat, self._grid, nx, self.cell_occupied, self.cell_offsets, self.cell_codes, self.cell_ranges,
            self._packed,
        )
        zone = self.zones[zone]
        if len(unsure_row) == 0:
            return ZoneHits(point, zone, inside)
        p, z = point[unsure_row], zone[unsure_row]
        local = np.searchsorted(self.zones, z)
        signed = exact_signed_m(lon[p], lat[p], unsure_q[:, 0], unsure_q[:, 1], unsure_q[:, 2], self.inflation_m[local])
        inside[unsure_row] = signed <= 0.0
        keep = np.ones(len(point), dtype=bool)
        keep[unsure_row] = signed <= self.bands_m[local]
        return ZoneHits(point[keep], zone[keep], inside[keep])


def _tiling(cell_deg: float) -> float:
    """The nearest cell side at least ``cell_deg`` whose rows tile [-90, 90] exactly."""
    return 180.0 / max(1, math.floor(180.0 / cell_deg))
