"""Zone index: which positions are inside which zones or their perimeter bands, exactly."""
import numpy as np
import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from deconfliction.geo.nearest import Skeletons, signed_distances_m
from deconfliction.geo.shapes import Area, Circle, Corridor
from deconfliction.geo.wgs84 import geodesic_distance_m
from deconfliction.geo.zones import ZoneIndex
from tests.shapes import DONUT, HIGHWAY, ISLANDS, TANF

WGS84 = Geodesic.WGS84

NOTCH = Area(Polygon([(38.30, 33.30), (38.40, 33.30), (38.40, 33.40), (38.35, 33.34), (38.30, 33.40)]))
"""A concave pentagon (a notch cut into the top of a square) near 33 N."""
CLOSE_CIRCLE = Circle(38.36, 33.36, 4_000)
"""A circle overlapping the notch, so points hit several zones."""
ARCTIC_RING = Area(Polygon([(25.0, 70.0), (25.6, 70.05), (25.5, 70.3), (24.9, 70.25)],
                           [[(25.2, 70.1), (25.35, 70.12), (25.3, 70.2)]]))
"""A quadrilateral with a triangular hole at 70 N."""
ARCTIC_CIRCLE = Circle(25.3, 70.15, 6_000)
ARCTIC_ROUTE = Corridor(((24.8, 69.9), (25.4, 70.0), (25.9, 70.35)), width_m=1_500)

TOOTH = ((0, 45.3), (0.01, 45.3), (0.01, 45.05), (0.02, 45.05))
TEETH = [(30.0 + 0.02 * k + dx, y) for k in range(30) for dx, y in TOOTH]
COMB = Area(Polygon([(30.0, 45.0), *TEETH, (30.6, 45.0)]))
"""122 edges, 30 teeth 800 m wide: rays from its west cross many edges."""
THETA = np.linspace(0, 2 * np.pi, 400, endpoint=False)
STAR = Area(Polygon(np.c_[32 + (0.5 + 0.1 * np.sin(13 * THETA)) * np.cos(THETA) * 1.3,
                          40 + (0.5 + 0.1 * np.sin(13 * THETA)) * np.sin(THETA)],
                    [np.c_[32 + 0.15 * np.cos(THETA[::2]) * 1.3, 40 + 0.15 * np.sin(THETA[::2])]]))
"""A 13-pointed star 100 km across with a round hole: 600 edges."""
WAVE = Corridor(tuple((33 + 0.004 * k, 41 + 0.02 * np.sin(k / 6)) for k in range(150)), width_m=1_000)
"""A winding 50 km route of 149 legs."""
MANY_EDGES = [(COMB, 300.0), (STAR, 2_000.0), (WAVE, 700.0)]
PHI = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
REGION = Area(Polygon(np.c_[42.5 + (4.0 + 0.3 * np.sin(7 * PHI)) * np.cos(PHI) * 1.2,
                            34.0 + (4.0 + 0.3 * np.sin(7 * PHI)) * np.sin(PHI)]))
"""A region 900 km across with 2,000 edges."""

MID_LATITUDE = [(CLOSE_CIRCLE, 2_000.0), (NOTCH, 0.0), (HIGHWAY, 1_500.0),
                (Circle(38.42, 33.42, 250), 3_000.0), (DONUT, 1_000.0), (ISLANDS, 500.0)]
HIGH_LATITUDE = [(ARCTIC_RING, 3_000.0), (ARCTIC_CIRCLE, 1_000.0), (ARCTIC_ROUTE, 800.0)]


def exact_hits(zones, lon, lat):
    """(point, zone, inside) from each shape's exact signed distance, sorted by point then zone."""
    rows = []
    for z, (shape, band) in enumerate(zones):
        sd = shape.signed_distance_m(lon, lat)
        p = np.flatnonzero(sd <= band)
        rows.append((p, np.full(len(p), z), sd[p] <= 0.0))
    point, zone, inside = (np.concatenate(c) for c in zip(*rows))
    order = np.lexsort((zone, point))
    return point[order], zone[order], inside[order]


def index_hits(zones, lon, lat, **kwargs):
    index = ZoneIndex([s for s, _ in zones], [b for _, b in zones], **kwargs)
    hits = index.query(lon, lat)
    assert np.all(np.diff(hits.point) >= 0), "hits come in point order"
    order = np.lexsort((hits.zone, hits.point))
    return hits.point[order], hits.zone[order], hits.inside[order]


def assert_same_hits(zones, lon, lat, **kwargs):
    expected = exact_hits(zones, lon, lat)
    found = index_hits(zones, lon, lat, **kwargs)
    for name, e, f in zip(("point", "zone", "inside"), expected, found):
        np.testing.assert_array_equal(f, e, err_msg=name)
    return expected


def around(zones, n, seed, margin=0.2):
    """Random points over each zone's extent with its band, and ``margin`` of that extent around it."""
    rng = np.random.default_rng(seed)
    lons, lats = [], []
    for shape, band in zones:
        x0, y0, x1, y1 = shape.bounds_deg(band)
        dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
        lons.append(rng.uniform(x0 - dx, x1 + dx, n // len(zones)))
        lats.append(rng.uniform(y0 - dy, y1 + dy, n // len(zones)))
    return np.concatenate(lons), np.concatenate(lats)


def near_thresholds(zones, per_zone, seed):
    """Points within a millimetre to a metre of each zone's edge and band edge, on both sides.

    Found by bisection along rays from inside each shape on its exact signed distance.
    """
    rng = np.random.default_rng(seed)
    lons, lats = [], []
    for shape, band in zones:
        cx, cy = shape.skeleton().representative_point().coords[0]
        theta = rng.uniform(0, 2 * np.pi, per_zone)
        reach = np.ptp(np.reshape(shape.bounds_deg(band), (2, 2)), axis=0).max() * 1.5
        dx, dy = np.cos(theta) / np.cos(np.radians(cy)), np.sin(theta)
        for target in {0.0, band}:
            lo, hi = np.zeros(per_zone), np.full(per_zone, reach)
            for _ in range(60):
                mid = (lo + hi) / 2
                outside = shape.signed_distance_m(cx + mid * dx, cy + mid * dy) > target
                hi, lo = np.where(outside, mid, hi), np.where(outside, lo, mid)
            m_per_deg = 111_000.0
            for offset_m in (-1.0, -0.01, -0.001, 0.0, 0.001, 0.01, 1.0):
                s = hi + offset_m / m_per_deg
                lons.append(cx + s * dx)
                lats.append(cy + s * dy)
    return np.concatenate(lons), np.concatenate(lats)


@pytest.mark.parametrize("zones", [MID_LATITUDE, HIGH_LATITUDE], ids=["33N", "70N"])
def test_index_agrees_with_exact_signed_distances_on_random_points(zones):
    lon, lat = around(zones, 40_000, seed=1)
    point, _, inside = assert_same_hits(zones, lon, lat)
    assert len(point) > 2_000 and inside.any() and not inside.all()


@pytest.mark.parametrize("zones", [MID_LATITUDE, HIGH_LATITUDE], ids=["33N", "70N"])
@pytest.mark.parametrize("cell_deg", [None, 0.001, 0.3])
def test_index_agrees_with_exact_signed_distances_at_the_boundaries(zones, cell_deg):
    lon, lat = near_thresholds(zones, per_zone=60, seed=2)
    point, _, inside = assert_same_hits(zones, lon, lat, cell_deg=cell_deg)
    assert inside.any() and not inside.all()


@pytest.mark.parametrize("cell_deg", [None, 0.002, 0.05])
def test_shapes_of_many_edges_agree_with_exact_signed_distances(cell_deg):
    lon, lat = around(MANY_EDGES, 30_000, seed=10)
    near_lon, near_lat = near_thresholds(MANY_EDGES, per_zone=40, seed=11)
    point, _, inside = assert_same_hits(MANY_EDGES, np.r_[lon, near_lon], np.r_[lat, near_lat], cell_deg=cell_deg)
    assert inside.any() and not inside.all()


@pytest.mark.parametrize("cell_deg", [None, 0.1])
def test_a_region_hundreds_of_km_across_agrees_with_exact_signed_distances(cell_deg):
    zones = [(REGION, 10_000.0), (Circle(42.5, 34.0, 2_000), 1_000.0)]
    lon, lat = around(zones[:1], 6_000, seed=12)
    near_lon, near_lat = near_thresholds(zones, per_zone=20, seed=13)
    point, zone, inside = assert_same_hits(zones, np.r_[lon, near_lon], np.r_[lat, near_lat], cell_deg=cell_deg)
    assert inside[zone == 0].any() and not inside[zone == 0].all()


def test_many_overlapping_zones_agree_with_exact_signed_distances():
    rng = np.random.default_rng(3)
    zones = []
    for _ in range(200):
        lon, lat = rng.uniform(44, 45), rng.uniform(40, 41)
        if rng.random() < 0.7:
            zones.append((Circle(lon, lat, rng.uniform(100, 3000)), rng.uniform(0, 3000)))
        else:
            angle = (np.arange(10) + rng.uniform(0, 0.8, 10)) * 2 * np.pi / 10
            r = rng.uniform(0.005, 0.04) * rng.uniform(0.4, 1.0, 10)
            ring = np.c_[lon + r * np.cos(angle) / np.cos(np.radians(lat)), lat + r * np.sin(angle)]
            zones.append((Area(Polygon(ring)), 5000.0))
    lon, lat = around(zones, 10_000, seed=4, margin=0.0)
    near_lon, near_lat = near_thresholds(zones[:40], per_zone=10, seed=5)
    point, _, _ = assert_same_hits(zones, np.r_[lon, near_lon], np.r_[lat, near_lat])
    assert np.bincount(point).max() >= 3


@settings(max_examples=40, deadline=None)
@given(lat=st.floats(-80, 80), radius_m=st.floats(1.0, 200_000.0), band_m=st.floats(0.0, 50_000.0),
       seed=st.integers(0, 2**32 - 1))
def test_circles_anywhere_agree_with_exact_signed_distances(lat, radius_m, band_m, seed):
    zones = [(Circle(10.0, lat, radius_m), band_m)]
    lon, lat_ = around(zones, 300, seed, margin=0.0)
    near_lon, near_lat = near_thresholds(zones, per_zone=5, seed=seed)
    assert_same_hits(zones, np.r_[lon, near_lon], np.r_[lat_, near_lat])


def geographiclib_ring(circle, distance_m):
    points = [WGS84.Direct(circle.lat, circle.lon, azimuth, distance_m) for azimuth in range(360)]
    return np.array([p["lon2"] for p in points]), np.array([p["lat2"] for p in points])


def test_55_km_circle_and_its_band_match_geographiclib_in_every_direction():
    band_m = 10_000.0
    index = ZoneIndex([TANF], [band_m])
    for distance_m, hit, inside in [(55_000 - 20, True, True), (55_000 + 20, True, False),
                                    (65_000 - 20, True, False), (65_000 + 20, False, False)]:
        hits = index.query(*geographiclib_ring(TANF, distance_m))
        assert len(hits) == (360 if hit else 0), distance_m
        assert hits.inside.tolist() == [inside] * len(hits), distance_m
    lon, lat = geographiclib_ring(TANF, 55_000 + 600)
    expected = [WGS84.Inverse(TANF.lat, TANF.lon, y, x)["s12"] - 55_000 for x, y in zip(lon, lat)]
    assert np.abs(TANF.signed_distance_m(lon, lat) - expected).max() < 1e-6


def test_points_on_edges_and_vertices_are_inside():
    square = Area(Polygon([(38.0, 33.0), (38.1, 33.0), (38.1, 33.1), (38.0, 33.1)]))
    triangle = Area(Polygon([(39.0, 33.0), (39.25, 33.0), (39.0, 33.5)]))
    index = ZoneIndex([square, triangle], [0.0, 0.0])
    lon = [38.0, 38.1, 38.1, 38.0, 38.05, 38.1, 38.05, 38.0, 39.0, 39.25, 39.0, 39.125, 39.0, 39.125]
    lat = [33.0, 33.0, 33.1, 33.1, 33.0, 33.05, 33.1, 33.05, 33.0, 33.0, 33.5, 33.25, 33.25, 33.0]
    hits = index.query(lon, lat)
    assert hits.point.tolist() == list(range(len(lon)))
    assert hits.zone.tolist() == [0] * 8 + [1] * 6
    assert hits.inside.all()
    assert not index.query([38.05], [33.1 + 1e-6]).inside.any()  # 11 cm north: outside, no band


def test_points_on_sloping_edges_are_inside_up_to_rounding():
    rng = np.random.default_rng(9)
    lon, lat = [], []
    for x0, y0, x1, y1 in NOTCH.edges():
        t = rng.uniform(0, 1, 200)
        lon.append(x0 + t * (x1 - x0))
        lat.append(y0 + t * (y1 - y0))
    lon, lat = np.concatenate(lon), np.concatenate(lat)
    hits = ZoneIndex([NOTCH], [0.0]).query(lon, lat)
    assert hits.point.tolist() == list(range(len(lon))) and hits.inside.all()
    assert NOTCH.contains(lon, lat).all()


def test_the_centre_of_a_circle_and_its_band_edge_are_hits():
    circle = Circle(38.0, 33.0, 500.0)
    lon, lat = [38.0], [33.0]
    for distance_m in (500.0 + 800.0 - 0.001, 500.0 + 800.0 + 0.001):
        edge = WGS84.Direct(33.0, 38.0, 30.0, distance_m)
        lon.append(edge["lon2"])
        lat.append(edge["lat2"])
    hits = ZoneIndex([circle], [800.0]).query(lon, lat)
    assert hits.point.tolist() == [0, 1] and hits.inside.tolist() == [True, False]


def test_an_empty_index_and_an_empty_query_answer_nothing():
    empty = ZoneIndex([], [])
    for index, lon in [(empty, [38.0, 39.0]), (ZoneIndex([TANF], [1000.0]), [])]:
        hits = index.query(lon, [33.0] * len(lon))
        assert len(hits) == 0
        assert hits.point.dtype == hits.zone.dtype == np.int64 and hits.inside.dtype == bool
    assert [len(a) for a in empty.zones_near_boxes([38.0], [33.0], [39.0], [34.0])] == [0, 0]


def test_points_beyond_the_grid_or_not_numbers_are_in_no_zone():
    index = ZoneIndex([TANF, DONUT], [5_000.0, 500.0])
    lon = np.array([-179.9, 179.9, 0.0, 38.6178, np.nan, 38.6178, 10.05, np.inf])
    lat = np.array([-89.9, 89.9, 0.0, np.nan, 33.5058, 33.5058, 50.01, 50.0])
    hits = index.query(lon, lat)
    assert hits.point.tolist() == [5, 6] and hits.zone.tolist() == [0, 1]


def test_answers_do_not_depend_on_batching():
    zones = MID_LATITUDE
    index = ZoneIndex([s for s, _ in zones], [b for _, b in zones])
    lon, lat = around(zones, 5_000, seed=6)
    whole = index.query(lon, lat)
    parts = [index.query(lon[i:i + 777], lat[i:i + 777]) for i in range(0, len(lon), 777)]
    np.testing.assert_array_equal(whole.point, np.concatenate([p.point + i * 777 for i, p in enumerate(parts)]))
    np.testing.assert_array_equal(whole.zone, np.concatenate([p.zone for p in parts]))
    np.testing.assert_array_equal(whole.inside, np.concatenate([p.inside for p in parts]))


@pytest.mark.parametrize("shape", [TANF, NOTCH, ARCTIC_RING, ARCTIC_ROUTE, HIGHWAY],
                         ids=["tanf", "notch", "arctic_ring", "arctic_route", "highway"])
def test_estimated_distances_are_on_the_same_side_of_thresholds_as_exact_ones(shape):
    lon, lat = around([(shape, 20_000.0)], 20_000, seed=7)
    sk = Skeletons.concat([shape.edges()], [shape.is_area], [shape.inflation_m])
    pairs = np.zeros(len(lon), dtype=np.int64)
    exact = signed_distances_m(lon, lat, pairs, sk)
    rng = np.random.default_rng(8)
    threshold = exact + rng.choice([-1, 1], len(lon)) * 10 ** rng.uniform(-4, 1, len(lon))
    estimate = signed_distances_m(lon, lat, pairs, sk, threshold)
    assert np.array_equal(estimate <= threshold, exact <= threshold)
    assert np.array_equal(estimate <= 0, exact <= 0)


def test_polygon_distances_match_a_dense_geodesic_search():
    lon = np.array([38.25, 38.45, 38.35, 38.36, 38.2, 38.35])
    lat = np.array([33.35, 33.45, 33.25, 33.345, 33.2, 33.3399])
    t = np.linspace(0, 1, 20_001)  # about every half metre along each edge
    nearest = np.full(len(lon), np.inf)
    for x0, y0, x1, y1 in NOTCH.edges():
        for i in range(len(lon)):
            d = geodesic_distance_m(lon[i], lat[i], x0 + t * (x1 - x0), y0 + t * (y1 - y0))
            nearest[i] = min(nearest[i], d.min())
    measured = NOTCH.signed_distance_m(lon, lat)
    assert np.abs(np.abs(measured) - nearest).max() < 0.01
    assert (measured < 0).tolist() == [False, False, False, True, False, True]


def test_an_index_extended_zone_by_zone_answers_as_one_built_at_once():
    """Zones added one at a time (the engine's declarations) give the answers of an index built
    with all of them, through the extensions and the full rebuilds they lead to."""
    rng = np.random.default_rng(21)
    zones = []
    for k in range(120):
        lon, lat = rng.uniform(44, 45), rng.uniform(40, 41)
        if k == 50:
            zones.append((Circle(44.5, 40.5, 800_000), 5_000.0))  # a big one, on a level of its own
        elif rng.random() < 0.7:
            zones.append((Circle(lon, lat, rng.uniform(100, 3000)), rng.uniform(0, 3000)))
        else:
            zones.append((Area(Polygon(np.c_[lon + rng.uniform(0, 0.05, 6), lat + rng.uniform(0, 0.05, 6)]
                                       ).convex_hull), 5000.0))
    lon, lat = around(zones[:60], 12_000, seed=22, margin=0.0)
    index = ZoneIndex([s for s, _ in zones[:40]], [b for _, b in zones[:40]])
    rebuilt = 0
    for k in range(40, len(zones)):
        index = index.extended([zones[k][0]], [zones[k][1]])
        rebuilt += index._built == k + 1
        if k % 10 == 9:
            whole = ZoneIndex([s for s, _ in zones[:k + 1]], [b for _, b in zones[:k + 1]]).query(lon, lat)
            part = index.query(lon, lat)
            got = sorted(zip(part.point.tolist(), part.zone.tolist(), part.inside.tolist()))
            assert got == sorted(zip(whole.point.tolist(), whole.zone.tolist(), whole.inside.tolist()))
            assert np.all(np.diff(part.point) >= 0)
    assert 1 <= rebuilt < 40 and len(index.levels) >= 2
