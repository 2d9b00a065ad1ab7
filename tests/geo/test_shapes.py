"""Shapes: geodesic circles, areas and corridors, measured on the ellipsoid."""
import math

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from deconfliction import AltitudeBand, Area, Circle, Corridor, GeometryError, TimeWindow, Volume4D
from tests.shapes import DONUT, HIGHWAY, ISLANDS, SQUARE, SQUARE_CW, TANF

WGS84 = Geodesic.WGS84
M_PER_DEG_LON_EQ = 111_319.49


def ring_at(circle, distance_m, step_deg=1.0):
    lons, lats = [], []
    for azimuth in np.arange(0, 360, step_deg):
        g = WGS84.Direct(circle.lat, circle.lon, azimuth, distance_m)
        lons.append(g["lon2"])
        lats.append(g["lat2"])
    return np.array(lons), np.array(lats)


def test_55_km_circle_matches_geographiclib_in_every_direction():
    inside = TANF.contains(*ring_at(TANF, 55_000 - 20))
    outside = TANF.contains(*ring_at(TANF, 55_000 + 20))
    assert inside.all() and not outside.any()
    sd = TANF.signed_distance_m(*ring_at(TANF, 56_000))
    assert np.allclose(sd, 1000, atol=0.01)


@pytest.mark.parametrize("lat", [0.0, 45.0, 70.0, -60.0])
def test_large_circles_are_geodesic_to_a_metre(lat):
    circle = Circle(10.0, lat, 500_000)  # a zone 1,000 km across
    assert circle.contains(*ring_at(circle, 499_999)).all()
    assert not circle.contains(*ring_at(circle, 500_001)).any()


def test_polygons_5_m_apart_do_not_conflict_and_1_cm_overlap_does():
    east = 0.01 * M_PER_DEG_LON_EQ
    apart = Area(Polygon([(0.01 + 5 / M_PER_DEG_LON_EQ, 0), (0.02, 0), (0.02, 0.01), (0.01 + 5 / M_PER_DEG_LON_EQ, 0.01)]))
    overlap = Area(Polygon([(0.01 - 0.01 / M_PER_DEG_LON_EQ, 0), (0.02, 0), (0.02, 0.01), (0.01 - 0.01 / M_PER_DEG_LON_EQ, 0.01)]))
    assert not SQUARE.overlaps(apart)
    assert SQUARE.distance_to_m(apart) == pytest.approx(5.0, abs=0.01)
    assert SQUARE.overlaps(overlap) and SQUARE_CW.overlaps(overlap)
    assert east > 1000


def test_both_windings_are_the_same_area():
    assert SQUARE == SQUARE_CW
    pts = (np.array([0.005, 0.02]), np.array([0.005, 0.005]))
    assert np.array_equal(SQUARE.contains(*pts), SQUARE_CW.contains(*pts))


def test_edges_and_vertices_are_inside():
    assert SQUARE.contains([0.0, 0.005, 0.01], [0.0, 0.0, 0.01]).all()


def test_holes_and_multipolygons():
    assert not DONUT.contains([10.05], [50.05])[0]
    assert DONUT.contains([10.01], [50.05])[0]
    assert ISLANDS.contains([20.04, 20.14], [60.01, 60.01]).all()
    assert not ISLANDS.contains([20.07], [60.01])[0]


def test_corridor_is_half_its_width_either_side():
    g = WGS84.Direct(33.40, 38.70, 0, 249)
    assert HIGHWAY.contains([g["lon2"]], [g["lat2"]])[0]
    g = WGS84.Direct(33.40, 38.70, 0, 251)
    assert not HIGHWAY.contains([g["lon2"]], [g["lat2"]])[0]


def test_circle_against_polygon_and_corridor():
    assert HIGHWAY.overlaps(Circle(38.70, 33.41, 1200))
    assert not HIGHWAY.overlaps(Circle(38.70, 33.43, 1200))
    # the square's east edge is 0.01 degrees (1,113.2 m) from the centre
    assert Circle(0.02, 0.005, 1114).overlaps(SQUARE)
    assert not Circle(0.02, 0.005, 1112).overlaps(SQUARE)


@pytest.mark.parametrize("make, reason", [
    (lambda: Circle(179.99, 0, 5000), "antimeridian"),
    (lambda: Circle(0, 89.9, 1000), "pole"),
    (lambda: Area(Polygon([(170, 0), (-170, 0), (-170, 1), (170, 1)])), "180"),
    (lambda: Circle(0, 0, 0), "radius_m"),
    (lambda: Corridor(((0, 0), (1, 0)), -1), "width_m"),
    (lambda: Area(Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])), "not valid"),
])
def test_shapes_that_would_be_wrong_are_rejected(make, reason):
    with pytest.raises(GeometryError, match=reason):
        make().bounds_deg(0)


def test_segment_through_circle_is_detected_even_when_both_ends_are_outside():
    west = WGS84.Direct(TANF.lat, TANF.lon, 270, 60_000)
    east = WGS84.Direct(TANF.lat, TANF.lon, 90, 60_000)
    assert TANF.segment_min_distance_m(west["lon2"], west["lat2"], east["lon2"], east["lat2"]) == 0
    north = WGS84.Direct(TANF.lat, TANF.lon, 0, 60_000)
    assert TANF.segment_min_distance_m(north["lon2"], north["lat2"], north["lon2"] + 0.1, north["lat2"]) > 4000


def test_time_windows_are_half_open_and_altitude_closed():
    from datetime import datetime, timezone
    t = lambda h: datetime(2017, 6, 6, h, tzinfo=timezone.utc)  # noqa: E731
    assert TimeWindow(t(6), t(9)).intersection(TimeWindow(t(9), t(10))) is None
    assert TimeWindow(t(6), t(9)).intersection(TimeWindow(t(8), t(10))) == TimeWindow(t(8), t(9))
    assert AltitudeBand(0, 50).overlaps(AltitudeBand(50, 60))
    assert not AltitudeBand(0, 50).overlaps(AltitudeBand(50.01, 60))
    with pytest.raises(GeometryError):
        TimeWindow(t(9), t(6))


coords = st.floats(-0.02, 0.02)
sizes = st.floats(0.001, 0.01)
hours = st.integers(0, 10)


@st.composite
def volumes(draw):
    from datetime import datetime, timedelta, timezone
    x, y, w, h = draw(coords), draw(coords), draw(sizes), draw(sizes)
    lo, thick = draw(st.integers(0, 100)), draw(st.integers(1, 100))
    start, length = draw(hours), draw(st.integers(1, 5))
    t0 = datetime(2017, 6, 6, tzinfo=timezone.utc) + timedelta(hours=start)
    return Volume4D(Area(Polygon([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])),
                    AltitudeBand(lo, lo + thick), TimeWindow(t0, t0 + timedelta(hours=length)))


@settings(max_examples=150, deadline=None)
@given(volumes(), volumes())
def test_conflict_iff_time_altitude_and_footprint_all_overlap(a, b):
    fp = a.shape.geometry.intersects(b.shape.geometry)
    alt = a.altitude.lower_m <= b.altitude.upper_m and b.altitude.lower_m <= a.altitude.upper_m
    time = a.window.start < b.window.end and b.window.start < a.window.end
    assert (a.conflict_window(b) is not None) == (fp and alt and time)
    assert (a.conflict_window(b) is None) == (b.conflict_window(a) is None)


@settings(max_examples=100, deadline=None)
@given(st.floats(-60, 60), st.floats(-170, 170), st.floats(100, 200_000), st.floats(0, 360), st.floats(0.1, 3))
def test_circle_distance_is_geodesic_anywhere(lat, lon, radius, azimuth, factor):
    circle = Circle(lon, lat, radius)
    g = WGS84.Direct(lat, lon, azimuth, radius * factor)
    sd = circle.signed_distance_m([g["lon2"]], [g["lat2"]])[0]
    assert math.isclose(sd, radius * factor - radius, abs_tol=0.01)
