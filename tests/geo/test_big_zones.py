"""Zones up to a hemisphere: answered correctly, and at a cost that does not grow with their size.

The references are independent of the index: geographiclib's geodesics for circles, shapely in
longitude/latitude for the inside of polygons (their edges are straight there), and points placed
by geographiclib at known distances from a polygon's edge, along its normal in the local
east/north frame, for the perimeter band. The cost is checked by what the index holds (its
(zone, cell) entries), never by timing: the figures are in benchmarks/bench_big_zone.py.
"""
from __future__ import annotations

import numpy as np
import pytest
import shapely
from geographiclib.geodesic import Geodesic
from shapely.geometry import Polygon

from deconfliction.engine.strategic import VolumeIndex
from deconfliction.geo.nearest import _geodesic_estimate_m
from deconfliction.geo.shapes import Area, Circle
from deconfliction.geo.volumes import Volume4D
from deconfliction.geo.wgs84 import geodesic_distance_m
from deconfliction.geo.zones import ZoneIndex
from tests.geo.test_zones import assert_same_hits

WGS84 = Geodesic.WGS84
HEMISPHERE_CIRCLE = Circle(20.0, 0.0, 9_000_000.0)
"""81 degrees of arc around a point of the equator: about as large as a circle can be and still
keep clear of the poles, 84% of a hemisphere."""
BIG_POLYGON = Area(Polygon([(-60, -75), (0, -80), (60, -75), (80, 0), (60, 75), (0, 80), (-60, 75), (-80, 0)]))
"""An octagon 160 degrees across, its edges straight in longitude/latitude."""
BAND_M = 50_000.0


def ordinary_zones(n: int = 300, seed: int = 5) -> list[tuple]:
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(35, 50, n), rng.uniform(28, 40, n)
    return [(Circle(float(x), float(y), float(rng.uniform(100, 3000))), 3000.0) for x, y in zip(lon, lat)]


def global_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points spread evenly over the globe, within 89 degrees of latitude."""
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-np.sin(np.radians(89)), np.sin(np.radians(89)), n)))
    return rng.uniform(-180, 180, n), lat


def test_a_circle_up_to_a_hemisphere_is_accepted_with_a_tight_extent():
    x0, y0, x1, y1 = HEMISPHERE_CIRCLE.bounds_deg(BAND_M)
    ring = [WGS84.Direct(0.0, 20.0, azimuth, 9_000_000.0 + BAND_M) for azimuth in np.arange(0, 360, 0.25)]
    lons, lats = [p["lon2"] for p in ring], [p["lat2"] for p in ring]
    assert x0 <= min(lons) and x1 >= max(lons) and y0 <= min(lats) and y1 >= max(lats)
    assert min(lons) - x0 < 0.5 and x1 - max(lons) < 0.5 and -180 < x0 and x1 < 180


def circle_references(circle: Circle, band_m: float, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """(inside, in zone or band) by geographiclib's geodesic distance from the centre."""
    d = np.array([WGS84.Inverse(circle.lat, circle.lon, y, x)["s12"] for x, y in zip(lon, lat)])
    return d <= circle.radius_m, d <= circle.radius_m + band_m


def points_near_the_circle(circle: Circle, band_m: float, per_edge: int) -> tuple[np.ndarray, np.ndarray]:
    """Points by geographiclib at 1 m, 1 cm and 0 from the circle's edge and its band's edge."""
    lons, lats = [], []
    for azimuth in np.linspace(0, 360, per_edge, endpoint=False):
        for edge in (circle.radius_m, circle.radius_m + band_m):
            for offset in (-1.0, -0.01, 0.0, 0.01, 1.0):
                p = WGS84.Direct(circle.lat, circle.lon, azimuth, edge + offset)
                lons.append(p["lon2"])
                lats.append(p["lat2"])
    return np.array(lons), np.array(lats)


def test_a_hemisphere_sized_circle_among_ordinary_zones_matches_geographiclib():
    zones = ordinary_zones() + [(HEMISPHERE_CIRCLE, BAND_M)]
    big = len(zones) - 1
    lon, lat = global_points(6_000, seed=1)
    near_lon, near_lat = points_near_the_circle(HEMISPHERE_CIRCLE, BAND_M, per_edge=72)
    lon, lat = np.r_[lon, near_lon], np.r_[lat, near_lat]
    hits = ZoneIndex([s for s, _ in zones], [b for _, b in zones]).query(lon, lat)
    mine = hits.zone == big
    found_inside = np.zeros(len(lon), bool)
    found_near = np.zeros(len(lon), bool)
    found_near[hits.point[mine]] = True
    found_inside[hits.point[mine]] = hits.inside[mine]
    inside, near = circle_references(HEMISPHERE_CIRCLE, BAND_M, lon, lat)
    exact = np.abs(np.r_[np.zeros(6_000), np.tile([1.0, 0.01, 0.0, 0.01, 1.0], 144)])
    sure = exact != 0.0  # exactly on an edge, rounding in the references decides: not compared
    np.testing.assert_array_equal(found_inside[sure], inside[sure])
    np.testing.assert_array_equal(found_near[sure], near[sure])
    assert inside.sum() > 1_000 and (near & ~inside).sum() > 100


def test_a_hemisphere_sized_circle_agrees_with_its_exact_signed_distances():
    zones = [(HEMISPHERE_CIRCLE, BAND_M), (Circle(40.0, 30.0, 2_000.0), 1_000.0)]
    lon, lat = global_points(20_000, seed=2)
    near_lon, near_lat = points_near_the_circle(HEMISPHERE_CIRCLE, BAND_M, per_edge=36)
    assert_same_hits(zones, np.r_[lon, near_lon], np.r_[lat, near_lat])


def points_beside_the_polygon_edges(polygon: Area, offsets_m, per_edge: int, seed: int):
    """(lon, lat, offset): points by geographiclib at each offset from a point of an edge, along the
    edge's outward normal in the local east/north frame (negative offsets inside). An edge straight
    in lon/lat bends by far less than the offsets' spacing over these distances, so the point's
    distance to the boundary is the offset to well within that spacing."""
    rng = np.random.default_rng(seed)
    ring = np.asarray(polygon.geometry.exterior.coords)
    clockwise = not shapely.is_ccw(polygon.geometry.exterior)
    out = []
    for (x0, y0), (x1, y1) in zip(ring[:-1], ring[1:]):
        for t in rng.uniform(0.1, 0.9, per_edge):  # away from the vertices
            x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            east, north = (x1 - x0) * np.cos(np.radians(y)), y1 - y0
            # the inside is on the left of an anticlockwise ring's edges: outward is to the right
            outward = np.degrees(np.arctan2(north, -east) if not clockwise else np.arctan2(-north, east)) % 360
            for offset in offsets_m:
                p = WGS84.Direct(y, x, outward if offset > 0 else (outward + 180) % 360, abs(offset))
                out.append((p["lon2"], p["lat2"], offset))
    lon, lat, offset = (np.array(c) for c in zip(*out))
    return lon, lat, offset


def test_a_polygon_of_similar_size_matches_shapely_and_distances_beside_its_edges():
    zones = ordinary_zones() + [(BIG_POLYGON, BAND_M)]
    big = len(zones) - 1
    lon, lat = global_points(20_000, seed=3)
    spacing = 2_000.0
    offsets = [-spacing, spacing, BAND_M - spacing, BAND_M + spacing]
    side_lon, side_lat, offset = points_beside_the_polygon_edges(BIG_POLYGON, offsets, per_edge=25, seed=4)
    lon, lat = np.r_[lon, side_lon], np.r_[lat, side_lat]
    hits = ZoneIndex([s for s, _ in zones], [b for _, b in zones]).query(lon, lat)
    mine = hits.zone == big
    found_inside = np.zeros(len(lon), bool)
    found_near = np.zeros(len(lon), bool)
    found_near[hits.point[mine]] = True
    found_inside[hits.point[mine]] = hits.inside[mine]
    within = shapely.contains_xy(BIG_POLYGON.geometry, lon, lat)
    np.testing.assert_array_equal(found_inside, within)
    beside = slice(20_000, None)
    np.testing.assert_array_equal(found_inside[beside], offset < 0)
    np.testing.assert_array_equal(found_near[beside], offset <= BAND_M)
    assert within.sum() > 1_000


def test_a_polygon_of_similar_size_agrees_with_its_exact_signed_distances():
    zones = [(BIG_POLYGON, BAND_M), (Circle(40.0, 30.0, 2_000.0), 1_000.0)]
    lon, lat = global_points(20_000, seed=5)
    side_lon, side_lat, _ = points_beside_the_polygon_edges(BIG_POLYGON, [-1.0, 1.0, BAND_M - 1, BAND_M + 1], 10, 6)
    assert_same_hits(zones, np.r_[lon, side_lon], np.r_[lat, side_lat])


@pytest.mark.parametrize("big", [Circle(42.0, 0.0, 5_000_000.0), HEMISPHERE_CIRCLE, BIG_POLYGON],
                         ids=["5000-km-circle", "hemisphere-circle", "hemisphere-polygon"])
def test_a_big_zone_costs_the_index_a_bounded_number_of_entries_and_leaves_the_others_as_they_were(big):
    """BUG: a 5,000 km circle was rasterised into the one grid of 2 km cells (16 million (zone, cell)
    entries after the grid had been coarsened to fit, 18 s to build); every other zone's cells
    were coarsened with it."""
    zones = ordinary_zones()
    alone = ZoneIndex([s for s, _ in zones], [b for _, b in zones]).entries_per_zone()
    both = ZoneIndex([s for s, _ in zones] + [big], [b for _, b in zones] + [BAND_M]).entries_per_zone()
    np.testing.assert_array_equal(both[:-1], alone)
    assert both[-1] <= 4 * 33 * 33


def test_the_estimates_bound_their_error_against_exact_geodesics_at_any_distance():
    """The distance estimate the classification uses, from millimetres to the antipode and up to the
    poles, is within its claimed bound of the exact geodesic (Karney's algorithm, in pyproj), and
    claims one for nearly every pair (else the exact geodesic is computed: slower, never wrong)."""
    rng = np.random.default_rng(7)
    n = 60_000
    lon1, lat1 = np.zeros(n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lat1[: n // 10] = rng.uniform(85, 90, n // 10) * rng.choice([-1, 1], n // 10)
    lon2, lat2 = rng.uniform(-180, 180, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    short = slice(n // 2, n // 2 + n // 5)  # from millimetres to hundreds of kilometres
    scale = 10 ** rng.uniform(-8, 0.5, n // 5)
    lon2[short], lat2[short] = rng.normal(0, 1, n // 5) * scale, lat1[short] + rng.normal(0, 1, n // 5) * scale
    lat2 = np.clip(lat2, -90, 90)
    estimated = np.array([_geodesic_estimate_m(*args) for args in zip(lon1, lat1, lon2, lat2)])
    exact = geodesic_distance_m(lon1, lat1, lon2, lat2)
    bounded = np.isfinite(estimated[:, 1])
    assert (np.abs(estimated[bounded, 0] - exact[bounded]) <= estimated[bounded, 1]).all()
    assert bounded.mean() > 0.99


def test_a_big_volume_costs_the_plan_index_a_bounded_number_of_cells_and_is_still_found():
    """BUG: a 5,000 km zone was listed in each of the 130,000 cells of 0.25 degrees its box covers
    (a hemisphere: 460,000), one Python list each, at its declaration."""
    index = VolumeIndex()
    index.add("big", [Volume4D(HEMISPHERE_CIRCLE)])
    index.add("small", [Volume4D(Circle(40.0, 30.0, 2_000.0))])
    assert sum(map(len, index.cells.values())) <= 4
    assert index.candidates([Volume4D(Circle(10.0, 10.0, 1_000.0))]) == ["big"]
    assert index.candidates([Volume4D(Circle(40.0, 30.0, 1_000.0))]) == ["big", "small"]
    assert index.candidates([Volume4D(BIG_POLYGON)]) == ["big", "small"]
    assert index.candidates([Volume4D(Circle(-170.0, 60.0, 1_000.0))]) == []
