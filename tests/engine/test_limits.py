"""Physical plausibility in the engine: what one party reports never makes another party's report fail.

The parsers refuse reports outside the policy's limits; the engine, which library users call
directly, stays robust whatever it is given: a velocity beyond the limits (told, or implied by a
jump between two reports) is kept out of the prediction, and a prediction never leaves valid
coordinates (across a pole or the antimeridian it follows the geodesic).
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings, strategies as st

from deconfliction import Circle, Engine, Party, Policy, Report, Zone
from deconfliction.errors import GeometryError
from deconfliction.engine.hygiene import JUMP_CONFIRMATIONS

T0 = datetime(2017, 6, 6, tzinfo=timezone.utc)
LIMITS = Policy()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def engine(**policy) -> Engine:
    return Engine(Policy(**policy), [Party("a"), Party("b")])


def kinds(events) -> list[str]:
    return [e.type for e in events]


def test_a_velocity_beyond_the_limits_given_to_the_engine_is_kept_out_of_the_prediction():
    """BUG: a report at 1e8 m/s (the engine takes what a library user gives it) made every later
    report of every party raise "latitude must be within [-90, 90] degrees"."""
    e = engine()
    e.report(at(0), [Report(at(0), "a1", "a", 38.0, 33.0, speed_mps=1e8, course_deg=0)])
    events = e.report(at(600), [Report(at(600), "b1", "b", 38.0, 33.0)])
    assert "separation.lost" in kinds(events)  # a1 is compared where it was reported, not predicted
    assert (e.tracks["a1"].v_east_mps, e.tracks["a1"].v_north_mps) == (0.0, 0.0)


def test_a_jump_between_two_reports_is_kept_out_of_the_prediction_and_crosses_nothing():
    """Two reports of a unit one second and 200 km apart: the implied 200 km/s is neither predicted
    nor a path through zones. The new place is held back until reports confirm it (a party must be
    able to correct a wrong position); then it is applied as a new start, at rest."""
    e = engine()
    e.declare_zone(Zone("z", Circle(39.0, 33.0, 5_000), ("b",), ("b",)), at(0))
    e.report(at(0), [Report(at(0), "a1", "a", 38.0, 33.0)])
    jumped = []
    for s in range(1, 1 + JUMP_CONFIRMATIONS):
        jumped += e.report(at(s), [Report(at(s), "a1", "a", 40.15, 33.0)])
    assert "zone.crossed" not in kinds(jumped)
    assert e.stats["reports.jumps"] == JUMP_CONFIRMATIONS - 1
    assert (e.tracks["a1"].v_east_mps, e.tracks["a1"].v_north_mps) == (0.0, 0.0)
    events = e.report(at(300), [Report(at(300), "b1", "b", 40.15, 33.0)])
    assert "separation.lost" in kinds(events)


def test_a_plausible_move_between_two_reports_is_still_predicted_and_crossing():
    e = engine()
    e.declare_zone(Zone("z", Circle(38.5, 33.0, 5_000), ("b",), ("b",)), at(0))
    e.report(at(0), [Report(at(0), "a1", "a", 38.0, 33.0)])
    moved = e.report(at(600), [Report(at(600), "a1", "a", 39.0, 33.0)])  # 93 km in 10 minutes: 155 m/s
    assert "zone.crossed" in kinds(moved)
    assert e.tracks["a1"].v_east_mps == pytest.approx(155.5, rel=0.01)


def destination(lon: float, lat: float, course_deg: float, metres: float) -> tuple[float, float]:
    g = Geodesic.WGS84.Direct(lat, lon, course_deg, metres)
    return g["lon2"], g["lat2"]


@pytest.mark.parametrize("start, course", [((0.0, 89.99), 0.0), ((30.0, -89.999), 200.0), ((10.0, 90.0), 0.0),
                                           ((179.99, 0.0), 90.0), ((-179.99, 0.0), 270.0), ((120.0, 88.0), 80.0)])
def test_a_prediction_across_a_pole_or_the_antimeridian_follows_the_geodesic(start, course):
    e = engine(separation_m=1_000.0)
    speed = LIMITS.max_speed_mps
    e.report(at(0), [Report(at(0), "a1", "a", *start, speed_mps=speed, course_deg=course)])
    there = destination(*start, course, speed * 600)
    events = e.report(at(600), [Report(at(600), "b1", "b", *there)])
    assert "separation.lost" in kinds(events), (there, events)


reports_within_limits = st.builds(
    lambda lon, lat, speed, course, climb, alt: dict(lon=lon, lat=lat, speed_mps=speed, course_deg=course,
                                                     climb_mps=climb, alt_m=alt),
    st.one_of(st.floats(-180, 180), st.sampled_from([-180.0, 180.0, 179.9999, -179.9999, 0.0])),
    st.one_of(st.floats(-90, 90), st.sampled_from([-90.0, 90.0, 89.9999, -89.9999, 0.0])),
    st.one_of(st.floats(0, LIMITS.max_speed_mps), st.just(LIMITS.max_speed_mps), st.none()),
    st.one_of(st.floats(0, 360), st.none()),
    st.one_of(st.floats(-LIMITS.max_climb_mps, LIMITS.max_climb_mps), st.none()),
    st.one_of(st.floats(LIMITS.min_alt_m, LIMITS.max_alt_m), st.none()),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(reports_within_limits, min_size=1, max_size=4), st.lists(reports_within_limits, max_size=4),
       st.floats(1, LIMITS.track_timeout_s), st.booleans())
def test_reports_within_the_limits_never_make_another_partys_report_fail(first, second, gap_s, far_pole):
    """Any reports of party a within the limits (twice, so that jumps are implied too), then a
    report of party b: b's report is applied, and every prediction stays in valid coordinates."""
    e = engine(separation_m=2_000.0, lookahead_s=300.0)
    for t, batch in ((at(0), first), (at(gap_s / 2), second)):
        e.report(t, [Report(t, f"a{k}", "a", **r) for k, r in enumerate(batch)])
    b = (0.0, -90.0 if far_pole else 90.0)
    e.report(at(gap_s), [Report(at(gap_s), "b1", "b", *b)])
    assert e.tracks["b1"].t == at(gap_s)
    for track in e.tracks.values():
        assert math.isfinite(track.v_east_mps) and math.hypot(track.v_east_mps, track.v_north_mps) <= \
            LIMITS.max_speed_mps * (1 + 1e-12)


@pytest.mark.parametrize("fields", [{"max_speed_mps": -1.0}, {"max_speed_mps": math.inf}, {"max_climb_mps": math.nan},
                                    {"min_alt_m": 100.0, "max_alt_m": 0.0}, {"min_alt_m": -math.inf}])
def test_limits_that_are_not_finite_or_out_of_order_are_refused(fields):
    with pytest.raises(GeometryError):
        Policy(**fields)


def test_dead_reckoning_near_the_poles_is_the_geodesic_and_elsewhere_the_step_it_always_was():
    """Within 85 degrees of the equator a unit is moved in the frame of metres per degree at its last
    report, exactly as before (so predictions of ordinary moves, and the events of logs written
    before, stay the same); a step nearer a pole, or past it, follows geographiclib's Direct to
    within 3 m, at any speed within the limits for up to the track timeout."""
    from deconfliction.geo.wgs84 import dead_reckoned, metres_per_degree
    import numpy as np
    rng = np.random.default_rng(3)
    n = 3_000
    lon, lat = rng.uniform(-180, 180, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lat[:1_000] = rng.uniform(80, 90, 1_000) * rng.choice([-1, 1], 1_000)
    speed = LIMITS.max_speed_mps * rng.uniform(0, 1, n) ** 3
    course = rng.uniform(0, 360, n)
    dt = LIMITS.track_timeout_s * rng.uniform(0, 1, n) ** 3
    ve, vn = speed * np.sin(np.radians(course)), speed * np.cos(np.radians(course))
    got_lon, got_lat, got_ve, got_vn = dead_reckoned(lon, lat, ve, vn, dt)
    assert (np.abs(got_lat) <= 90).all() and (np.abs(got_lon) <= 180).all()
    assert np.allclose(np.hypot(got_ve, got_vn), speed)
    kx, ky = metres_per_degree(lat)
    flat_lon, flat_lat = lon + ve * dt / kx, lat + vn * dt / ky
    flat = np.maximum(np.abs(lat), np.abs(flat_lat)) <= 85.0
    assert flat.sum() > 1_000 and (~flat).sum() > 400
    np.testing.assert_array_equal(got_lat[flat], flat_lat[flat])
    flat_lon = np.where(np.abs(flat_lon) > 180.0, (flat_lon + 180.0) % 360.0 - 180.0, flat_lon)  # across +/-180
    np.testing.assert_array_equal(got_lon[flat], flat_lon[flat])
    for k in np.flatnonzero(~flat):
        want = Geodesic.WGS84.Direct(lat[k], lon[k], course[k], speed[k] * dt[k])
        apart = Geodesic.WGS84.Inverse(got_lat[k], got_lon[k], want["lat2"], want["lon2"])["s12"]
        assert apart < 3.0, (lon[k], lat[k], course[k], speed[k], dt[k], apart)


def test_a_move_across_the_antimeridian_crosses_the_zones_on_its_way_and_no_others():
    """BUG: the segment between two reports either side of the antimeridian was drawn straight in
    longitude/latitude, the long way round: a unit going 20 km across it "crossed" every zone on
    its parallel around the world (each warned about, each measured: one party could make every
    batch slow)."""
    e = Engine(Policy(perimeter_m=0.0), [Party("a"), Party("b")])
    for zone_id, lon in (("far", 0.0), ("west-of-it", 179.97), ("east-of-it", -179.97), ("off-the-way", 179.97)):
        lat = 1.0 if zone_id == "off-the-way" else 0.0
        e.declare_zone(Zone(zone_id, Circle(lon, lat, 2_000.0), ("b",), ("b",)), at(0))
    e.report(at(0), [Report(at(0), "east", "a", 179.9, 0.0), Report(at(0), "west", "a", -179.9, 0.0)])
    events = e.report(at(100), [Report(at(100), "east", "a", -179.9, 0.0), Report(at(100), "west", "a", 179.9, 0.0)])
    crossed = sorted((ev.fields["track"], ev.fields["zone"]) for ev in events if ev.type == "zone.crossed")
    assert crossed == [("east", "east-of-it"), ("east", "west-of-it"), ("west", "east-of-it"), ("west", "west-of-it")]
