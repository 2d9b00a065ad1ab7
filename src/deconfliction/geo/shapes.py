"""Footprints on the ellipsoid: geodesic circles, areas (polygons, holes allowed) and corridors.

All coordinates are WGS84 longitude/latitude in degrees, in that order. Circles are geodesic
(every boundary point is ``radius_m`` from the centre along the ellipsoid); polygon and corridor
edges are straight lines in longitude/latitude, as GeoJSON defines them. Shapes whose extent
(with any band around them) crosses the antimeridian or comes within 0.5 degrees of a pole are
rejected with a :class:`GeometryError` rather than handled wrongly.
"""
from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, mapping

from ..errors import GeometryError
from .nearest import Skeletons, signed_distances_m
from .wgs84 import geodesic_destination, geodesic_distance_m, metres_per_degree

MAX_VERTICES = 10_000
POLE_MARGIN_DEG = 0.5
_MIN_M_PER_DEG_LAT = 110_574.0  # at the equator, the smallest
_RING_SAMPLES = 3600
"""Points of a large circle's edge measured for its extent in longitude (every 0.1 degree of azimuth)."""
_LARGE_CIRCLE_M = 100_000.0
"""Circles (with their band) larger than this get that measured extent: the bound from the
latitude's worst metres per degree of longitude is loose by then, and for a circle thousands of
kilometres across it reaches around the world."""


@dataclass(frozen=True, slots=True)
class Shape:
    """Common behaviour: a skeleton in lon/lat degrees inflated by ``inflation_m`` metres."""

    def skeleton(self):  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def inflation_m(self) -> float:
        return 0.0

    @property
    def is_area(self) -> bool:
        return False

    def edges(self) -> np.ndarray:
        """Skeleton edges as an (E, 4) array of lon0, lat0, lon1, lat1 degrees."""
        raise NotImplementedError  # pragma: no cover

    def bounds_deg(self, margin_m: float = 0.0) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) in degrees enclosing the shape and ``margin_m`` around it.

        Raises GeometryError when that extent crosses the antimeridian or nears a pole.
        """
        return _bounds_deg(self, float(margin_m))

    def _compute_bounds_deg(self, margin_m: float) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = self.skeleton().bounds
        grow_m = self.inflation_m + margin_m
        lat_lo, lat_hi = _latitudes(y0, y1, grow_m)
        kx, _ = metres_per_degree(max(abs(lat_lo), abs(lat_hi)))
        dlon = grow_m / float(kx) * 1.001
        lon_lo, lon_hi = _within_longitudes(x0 - dlon, x1 + dlon)
        return (lon_lo, lat_lo, lon_hi, lat_hi)

    def signed_distance_m(self, lon, lat) -> np.ndarray:
        """Geodesic signed distance (metres) from points to the shape's edge: negative inside, 0 on it."""
        lon = np.atleast_1d(np.asarray(lon, dtype=float))
        lat = np.atleast_1d(np.asarray(lat, dtype=float))
        sk = Skeletons.concat([self.edges()], [self.is_area], [self.inflation_m])
        return signed_distances_m(lon, lat, np.zeros(len(lon), dtype=np.int64), sk)

    def contains(self, lon, lat) -> np.ndarray:
        """True for points inside or on the edge (closed)."""
        return self.signed_distance_m(lon, lat) <= 0.0

    def distance_to_m(self, other: "Shape") -> float:
        """Geodesic distance in metres between the two shapes; 0 when they touch or overlap."""
        gap = skeleton_distance_m(self.skeleton(), other.skeleton())
        return max(0.0, gap - self.inflation_m - other.inflation_m)

    def overlaps(self, other: "Shape") -> bool:
        """True when the shapes share at least one point (touching counts)."""
        gap = skeleton_distance_m(self.skeleton(), other.skeleton())
        return gap <= self.inflation_m + other.inflation_m

    def segment_min_distance_m(self, lon0: float, lat0: float, lon1: float, lat1: float) -> float:
        """Smallest distance (metres, 0 if it touches or enters) from a lon/lat-straight segment to the shape."""
        seg = LineString([(lon0, lat0), (lon1, lat1)]) if (lon0, lat0) != (lon1, lat1) else Point(lon0, lat0)
        return max(0.0, skeleton_distance_m(seg, self.skeleton()) - self.inflation_m)


@dataclass(frozen=True, slots=True)
class Circle(Shape):
    """A geodesic circle: centre ``lon``, ``lat`` (degrees) and ``radius_m`` (metres, > 0)."""

    lon: float
    lat: float
    radius_m: float

    def __post_init__(self):
        _check_lon_lat(self.lon, self.lat)
        if not (math.isfinite(self.radius_m) and self.radius_m > 0):
            raise GeometryError("radius_m must be a positive number of metres")

    def skeleton(self):
        return Point(self.lon, self.lat)

    @property
    def inflation_m(self) -> float:
        return self.radius_m

    def edges(self) -> np.ndarray:
        return np.array([[self.lon, self.lat, self.lon, self.lat]])

    def distance_to_m(self, other: Shape) -> float:
        if isinstance(other, Circle):
            gap = float(geodesic_distance_m(self.lon, self.lat, other.lon, other.lat))
            return max(0.0, gap - self.radius_m - other.radius_m)
        return Shape.distance_to_m(self, other)

    def overlaps(self, other: Shape) -> bool:
        if isinstance(other, Circle):
            gap = float(geodesic_distance_m(self.lon, self.lat, other.lon, other.lat))
            return gap <= self.radius_m + other.radius_m
        return Shape.overlaps(self, other)

    def to_geojson(self) -> dict:
        return {"type": "Point", "coordinates": [self.lon, self.lat], "radius_m": self.radius_m}

    def _compute_bounds_deg(self, margin_m: float) -> tuple[float, float, float, float]:
        """A large circle's extent in longitude is measured on its edge: its points every 0.1 degree
        of azimuth, each widened by the most the edge between two of them can stray from them (half
        of it: at most 2 pi 6,400 km / 3,600 / 2 = 5.6 km, the reduced length of a geodesic being at
        most the largest radius of curvature, a^2 / b; in degrees of longitude there)."""
        grow_m = self.radius_m + margin_m
        if grow_m <= _LARGE_CIRCLE_M:
            return Shape._compute_bounds_deg(self, margin_m)
        lat_lo, lat_hi = _latitudes(self.lat, self.lat, grow_m)
        azimuths = np.arange(_RING_SAMPLES) * (360.0 / _RING_SAMPLES)
        lon, lat = geodesic_destination(np.full(_RING_SAMPLES, self.lon), np.full(_RING_SAMPLES, self.lat), azimuths,
                                        np.full(_RING_SAMPLES, grow_m))
        east = (np.asarray(lon) - self.lon + 180.0) % 360.0 - 180.0  # from the centre, continuously around
        bulge_m = np.pi * 6_400_000.0 / _RING_SAMPLES
        kx, _ = metres_per_degree(np.minimum(np.abs(lat) + bulge_m / _MIN_M_PER_DEG_LAT, 90.0 - POLE_MARGIN_DEG))
        dlon = bulge_m / kx * 1.001
        lon_lo, lon_hi = _within_longitudes(self.lon + float((east - dlon).min()),
                                            self.lon + float((east + dlon).max()))
        return (lon_lo, lat_lo, lon_hi, lat_hi)


@dataclass(frozen=True, slots=True)
class Area(Shape):
    """A polygon or multipolygon (holes allowed), edges straight in lon/lat; either winding accepted."""

    geometry: Polygon | MultiPolygon = field(compare=False)
    _key: bytes = field(init=False, repr=False)

    def __post_init__(self):
        g = self.geometry
        if not isinstance(g, (Polygon, MultiPolygon)):
            raise GeometryError("an area must be a Polygon or MultiPolygon")
        polys = g.geoms if isinstance(g, MultiPolygon) else [g]
        rings = [r for p in polys for r in (p.exterior, *p.interiors)]
        n = sum(len(r.coords) - 1 for r in rings)  # a ring repeats its first position at the end
        if n > MAX_VERTICES:
            raise GeometryError(f"the polygon has {n} vertices; at most {MAX_VERTICES} are allowed")
        reason = shapely.is_valid_reason(g)
        if g.is_empty or g.convex_hull.area == 0:
            raise GeometryError("the polygon has zero area")
        if "Self-intersection" in reason:
            raise GeometryError(f"the polygon intersects itself ({reason}); it is not valid")
        if g.is_empty or g.area == 0:
            raise GeometryError("the polygon has zero area")
        if not g.is_valid:
            raise GeometryError(f"the polygon is not valid ({reason})")
        x0, y0, x1, y1 = g.bounds
        _check_lon_lat(x0, y0)
        _check_lon_lat(x1, y1)
        if x1 - x0 > 180.0:
            raise GeometryError("spans more than 180 degrees of longitude (does it cross the antimeridian?); split it")
        object.__setattr__(self, "_key", shapely.to_wkb(shapely.normalize(g)))

    def __eq__(self, other):
        return isinstance(other, Area) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    def skeleton(self):
        return self.geometry

    @property
    def is_area(self) -> bool:
        return True

    def edges(self) -> np.ndarray:
        rings = []
        polys = self.geometry.geoms if isinstance(self.geometry, MultiPolygon) else [self.geometry]
        for poly in polys:
            for ring in [poly.exterior, *poly.interiors]:
                c = np.asarray(ring.coords)[:, :2]
                rings.append(np.hstack([c[:-1], c[1:]]))
        return np.vstack(rings)

    def to_geojson(self) -> dict:
        return dict(mapping(self.geometry))


@dataclass(frozen=True, slots=True)
class Corridor(Shape):
    """Points within ``width_m / 2`` metres of a polyline (a route with its width)."""

    coordinates: tuple[tuple[float, float], ...]
    width_m: float

    def __post_init__(self):
        coords = tuple((float(x), float(y)) for x, y in self.coordinates)
        object.__setattr__(self, "coordinates", coords)
        if len(coords) < 2:
            raise GeometryError("a corridor needs at least two positions")
        if len(coords) > MAX_VERTICES:
            raise GeometryError(f"the corridor has {len(coords)} vertices; at most {MAX_VERTICES} are allowed")
        for x, y in coords:
            _check_lon_lat(x, y)
        if not (math.isfinite(self.width_m) and self.width_m > 0):
            raise GeometryError("width_m must be a positive number of metres")
        if LineString(coords).length == 0:
            raise GeometryError("the corridor's line has zero length")

    def skeleton(self):
        return LineString(self.coordinates)

    @property
    def inflation_m(self) -> float:
        return self.width_m / 2

    def edges(self) -> np.ndarray:
        c = np.asarray(self.coordinates)
        return np.hstack([c[:-1], c[1:]])

    def to_geojson(self) -> dict:
        return {"type": "LineString", "coordinates": [list(p) for p in self.coordinates], "width_m": self.width_m}


def _latitudes(y0: float, y1: float, grow_m: float) -> tuple[float, float]:
    """The latitudes within ``grow_m`` of [y0, y1]; GeometryError when they near a pole."""
    dlat = grow_m / _MIN_M_PER_DEG_LAT * 1.001
    lat_lo, lat_hi = y0 - dlat, y1 + dlat
    if max(abs(lat_lo), abs(lat_hi)) > 90.0 - POLE_MARGIN_DEG:
        raise GeometryError(
            "reaches within 0.5 degrees of a pole, where longitude/latitude edges are ill-defined; "
            "polar shapes are not supported"
        )
    return lat_lo, lat_hi


def _within_longitudes(lon_lo: float, lon_hi: float) -> tuple[float, float]:
    """(lon_lo, lon_hi), or GeometryError when they cross the antimeridian."""
    if lon_lo < -180.0 or lon_hi > 180.0:
        raise GeometryError(
            "crosses the antimeridian (longitude +/-180); split it into two shapes, one on each side"
        )
    return lon_lo, lon_hi


@lru_cache(maxsize=1 << 18)
def _bounds_deg(shape: Shape, margin_m: float) -> tuple[float, float, float, float]:
    """Bounds are asked for again and again (indexes, strategic checks); shapes are immutable."""
    return shape._compute_bounds_deg(margin_m)


def _check_lon_lat(lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise GeometryError("coordinates must be finite numbers")
    if not -180.0 <= lon <= 180.0:
        raise GeometryError(f"longitude {lon} is outside -180..180")
    if not -90.0 <= lat <= 90.0:
        raise GeometryError(f"latitude {lat} is outside -90..90")


def skeleton_distance_m(a, b) -> float:
    """Geodesic distance (metres) between two lon/lat geometries; 0 when they intersect.

    Nearest points are found with shapely in a linear metric frame, re-centred once on the
    nearest pair, then measured with an exact geodesic; the distance errs only to second order
    in their position.
    """
    ca, cb = a.centroid, b.centroid
    if cb.x - ca.x > 180:
        b = shapely.transform(b, lambda c: c - np.array([360.0, 0.0]))
    elif ca.x - cb.x > 180:
        b = shapely.transform(b, lambda c: c + np.array([360.0, 0.0]))
    if a.intersects(b):
        return 0.0
    lon0, lat0 = (ca.x + cb.x) / 2, (ca.y + cb.y) / 2
    for _ in range(2):
        kx, ky = (float(v) for v in metres_per_degree(lat0))
        scale = np.array([kx, ky])
        origin = np.array([lon0, lat0])
        fa = shapely.transform(a, lambda c: (c - origin) * scale)
        fb = shapely.transform(b, lambda c: (c - origin) * scale)
        (xa, ya), (xb, yb) = shapely.shortest_line(fa, fb).coords
        pa = (lon0 + xa / kx, lat0 + ya / ky)
        pb = (lon0 + xb / kx, lat0 + yb / ky)
        lon0, lat0 = (pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2
    return float(geodesic_distance_m(pa[0], pa[1], pb[0], pb[1]))
