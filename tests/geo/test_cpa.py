"""Closest point of approach: predicted conflicts between moving units, indexed and exhaustive."""
from __future__ import annotations

import dataclasses
import doctest

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.errors import GeometryError
from deconfliction.geo import cpa, wgs84
from deconfliction.geo.cpa import Encounters, brute_force_closest_approaches, closest_approaches

LIMITS = {"lookahead_s": 300.0, "separation_m": 1000.0, "vertical_m": 300.0}
FIELDS = [f.name for f in dataclasses.fields(Encounters)]
A = (38.0, 33.0)


def unit(lon, lat, alt_m=1000.0, speed_mps=0.0, course_deg=0.0, climb_mps=0.0):
    course = np.radians(course_deg)
    return (lon, lat, alt_m, speed_mps * np.sin(course), speed_mps * np.cos(course), climb_mps)


def place(origin, azimuth_deg, distance_m):
    lon, lat = wgs84.geodesic_destination(origin[0], origin[1], azimuth_deg, distance_m)
    return float(lon), float(lat)


def azimuth(frm, to):
    return Geodesic.WGS84.Inverse(frm[1], frm[0], to[1], to[0])["azi1"]


def assert_same(a: Encounters, b: Encounters):
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def encounters(units, groups=None, **limits) -> Encounters:
    """Both searches on the units; they must agree exactly."""
    columns = [np.array(c, dtype=float) for c in zip(*units)] if units else [np.zeros(0)] * 6
    limits = {**LIMITS, **limits}
    found = closest_approaches(*columns, groups=groups, **limits)
    assert_same(found, brute_force_closest_approaches(*columns, groups=groups, **limits))
    return found


def head_on(distance_m=10_000.0, speed_mps=20.0, offset_m=0.0, alt_a=1000.0, alt_b=1000.0,
            climb_a=0.0):
    """Unit A at A heading for B, B heading back for A (offset sideways by ``offset_m``)."""
    aim = place(A, 90.0, distance_m)
    b = place(aim, 0.0, offset_m) if offset_m else aim
    return [unit(*A, alt_a, speed_mps, azimuth(A, aim), climb_a),
            unit(*b, alt_b, speed_mps, azimuth(aim, A))]


# --- predicted conflicts ---------------------------------------------------------------------

def test_head_on_pair_meets_halfway_in_time():
    e = encounters(head_on())
    assert len(e) == 1 and (e.i[0], e.j[0]) == (0, 1)
    assert e.cpa_t_s[0] == pytest.approx(250.0, abs=0.01)  # 10 km at 40 m/s closing
    assert e.cpa_distance_m[0] < 1.0
    assert e.distance_m[0] == pytest.approx(10_000.0, abs=0.05)
    assert e.vertical_m[0] == 0.0 and e.vertical_now_m[0] == 0.0


def test_offset_head_on_pair_passes_at_the_offset():
    e = encounters(head_on(offset_m=600.0))
    assert e.cpa_distance_m[0] == pytest.approx(600.0, abs=1.0)
    assert e.cpa_t_s[0] == pytest.approx(250.0, abs=0.5)


def test_passing_wide_of_the_separation_is_no_conflict():
    assert len(encounters(head_on(offset_m=1100.0))) == 0


def test_parallel_units_at_the_same_velocity_keep_their_distance():
    b = place(A, 0.0, 500.0)
    e = encounters([unit(*A, speed_mps=30.0, course_deg=90.0),
                    unit(*b, speed_mps=30.0, course_deg=90.0)])
    assert len(e) == 1
    assert e.distance_m[0] == pytest.approx(500.0, abs=0.01)
    assert e.cpa_distance_m[0] == pytest.approx(500.0, abs=0.5)
    far = place(A, 0.0, 2000.0)
    assert len(encounters([unit(*A, speed_mps=30.0, course_deg=90.0),
                           unit(*far, speed_mps=30.0, course_deg=90.0)])) == 0


def test_diverging_units_do_not_conflict():
    b = place(A, 90.0, 1500.0)
    assert len(encounters([unit(*A, speed_mps=20.0, course_deg=270.0),
                           unit(*b, speed_mps=20.0, course_deg=90.0)])) == 0


def test_units_already_too_close_conflict_now_even_when_diverging():
    b = place(A, 90.0, 800.0)
    e = encounters([unit(*A, speed_mps=20.0, course_deg=270.0),
                    unit(*b, speed_mps=20.0, course_deg=90.0)])
    assert len(e) == 1
    assert e.cpa_t_s[0] == 0.0
    assert e.cpa_distance_m[0] == e.distance_m[0] == pytest.approx(800.0, abs=0.01)


def test_stationary_units_inside_the_separation_conflict_now():
    b = place(A, 45.0, 300.0)
    e = encounters([unit(*A), unit(*b)])
    assert e.cpa_t_s.tolist() == [0.0]
    assert e.cpa_distance_m[0] == pytest.approx(300.0, abs=0.01)


# --- vertical separation and unknown altitude ----------------------------------------------

def test_vertical_separation_prevents_the_conflict():
    assert len(encounters(head_on(alt_a=1000.0, alt_b=1500.0))) == 0
    e = encounters(head_on(alt_a=1000.0, alt_b=1500.0), vertical_m=600.0)
    assert e.vertical_m[0] == pytest.approx(500.0) and e.vertical_now_m[0] == pytest.approx(500.0)


def test_climb_into_the_other_units_level_is_predicted():
    # Horizontal conflict (225 s, 275 s); climbing 3 m/s from 0 to a unit at 1000 m brings
    # the pair within 300 m from 233.3 s, so the closest horizontal approach (250 s) counts.
    e = encounters(head_on(alt_a=0.0, alt_b=1000.0, climb_a=3.0))
    assert e.cpa_t_s[0] == pytest.approx(250.0, abs=0.01)
    assert e.vertical_m[0] == pytest.approx(250.0, abs=0.05)
    assert e.vertical_now_m[0] == 1000.0


def test_cpa_time_is_clamped_into_the_conflict_interval():
    # Climbing 2.7 m/s, the vertical window opens at 700 / 2.7 = 259.26 s, after the CPA.
    e = encounters(head_on(alt_a=0.0, alt_b=1000.0, climb_a=2.7))
    assert e.cpa_t_s[0] == pytest.approx(700 / 2.7, abs=0.01)
    assert e.cpa_distance_m[0] == pytest.approx(40 * (700 / 2.7 - 250), abs=1.0)
    assert e.vertical_m[0] == pytest.approx(300.0, abs=0.01)
    assert len(encounters(head_on(alt_a=0.0, alt_b=1000.0, climb_a=2.5))) == 0


def test_unknown_altitude_never_hides_a_conflict():
    e = encounters(head_on(alt_a=float("nan"), alt_b=9000.0))
    assert len(e) == 1
    assert np.isnan(e.vertical_m[0]) and np.isnan(e.vertical_now_m[0])
    assert e.cpa_t_s[0] == pytest.approx(250.0, abs=0.01)


def test_vertical_boundary_is_strict():
    b = place(A, 0.0, 100.0)
    assert len(encounters([unit(*A, alt_m=0.0), unit(*b, alt_m=300.0)])) == 0
    assert len(encounters([unit(*A, alt_m=0.0), unit(*b, alt_m=299.999)])) == 1


# --- look-ahead boundary -------------------------------------------------------------------

def test_lookahead_boundary_is_strict():
    # Climbing 1 m/s from 0 towards a unit at 600 m: within 300 m from exactly t = 300 s.
    b = place(A, 0.0, 100.0)
    units = [unit(*A, alt_m=0.0, climb_mps=1.0), unit(*b, alt_m=600.0)]
    assert len(encounters(units, lookahead_s=300.0)) == 0
    e = encounters(units, lookahead_s=300.001)
    assert e.cpa_t_s[0] == pytest.approx(300.0)
    assert e.vertical_m[0] == pytest.approx(300.0)


def test_conflict_starting_just_inside_the_lookahead_is_reported_at_its_end():
    # Head-on at 40 m/s from 10 km: closer than 1000 m from 225 s.
    assert len(encounters(head_on(), lookahead_s=224.99)) == 0
    e = encounters(head_on(), lookahead_s=225.01)
    assert e.cpa_t_s[0] == 225.01
    assert e.cpa_distance_m[0] == pytest.approx(1000.0 - 0.4, abs=0.05)


def test_zero_lookahead_reports_only_current_conflicts():
    b = place(A, 90.0, 800.0)
    e = encounters(head_on() + [unit(*b)], lookahead_s=0.0)
    assert [(int(i), int(j)) for i, j in zip(e.i, e.j)] == [(0, 2)]


# --- parties -------------------------------------------------------------------------------

def test_groups_exclude_pairs_of_the_same_party():
    b, c = place(A, 0.0, 200.0), place(A, 90.0, 200.0)
    units = [unit(*A), unit(*b), unit(*c)]
    assert len(encounters(units)) == 3
    e = encounters(units, groups=np.array([7, 7, 3]))
    assert [(int(i), int(j)) for i, j in zip(e.i, e.j)] == [(0, 2), (1, 2)]
    e = encounters(units, groups=np.array(["blue", "red", "red"]))
    assert [(int(i), int(j)) for i, j in zip(e.i, e.j)] == [(0, 1), (0, 2)]


# --- geodesic accuracy ---------------------------------------------------------------------

def test_distance_now_agrees_with_geodesic_distance_up_to_20_km():
    rng = np.random.default_rng(5)
    k = 300
    lat1 = rng.uniform(-80.0, 80.0, k)
    lon1 = np.arange(k) * 5.0 - 180.0  # pairs far apart from each other
    lon2, lat2 = wgs84.geodesic_destination(lon1, lat1, rng.uniform(0, 360, k),
                                            rng.uniform(1.0, 20_000.0, k))
    lon = np.column_stack([lon1, lon2]).ravel()
    lat = np.column_stack([lat1, lat2]).ravel()
    zero = np.zeros(2 * k)
    e = closest_approaches(lon, lat, rng.uniform(0, 3000, 2 * k), zero, zero, zero,
                           lookahead_s=60.0, separation_m=25_000.0, vertical_m=1e6)
    own = e.i // 2 == e.j // 2
    assert own.sum() == k
    for i, d in zip(e.i[own], e.distance_m[own]):
        expected = Geodesic.WGS84.Inverse(lat[i], lon[i], lat[i + 1], lon[i + 1])["s12"]
        assert abs(d - expected) < 1.0


# --- index against brute force --------------------------------------------------------------

def random_traffic(n, lon0, lat0, seed, width_deg=3.0):
    rng = np.random.default_rng(seed)
    lon = (lon0 + rng.uniform(-width_deg / 2, width_deg / 2, n) + 180.0) % 360.0 - 180.0
    lat = np.clip(lat0 + rng.uniform(-width_deg / 2, width_deg / 2, n), -90, 90)
    speed = rng.choice([0.0, 5.0, 25.0, 80.0, 250.0], n, p=[0.2, 0.3, 0.3, 0.15, 0.05])
    speed *= rng.uniform(0.5, 1.0, n)
    course = rng.uniform(0, 2 * np.pi, n)
    alt = rng.uniform(0, 3000, n)
    alt[rng.random(n) < 0.05] = np.nan
    climb = np.where(rng.random(n) < 0.5, 0.0, rng.normal(0, 5, n))
    return lon, lat, alt, speed * np.sin(course), speed * np.cos(course), climb


@pytest.mark.parametrize(("lon0", "lat0"), [(38.0, 33.0), (20.0, 70.0), (179.5, -10.0),
                                            (0.0, 89.0)])
@pytest.mark.parametrize("grouped", [False, True])
def test_index_finds_exactly_what_brute_force_finds(lon0, lat0, grouped):
    units = random_traffic(2000, lon0, lat0, seed=int(lat0) + 100 + 1000 * grouped)
    groups = np.random.default_rng(1).integers(0, 4, 2000) if grouped else None
    limits = {**LIMITS, "separation_m": 5000.0}
    found = closest_approaches(*units, groups=groups, **limits)
    assert len(found) > 50
    assert_same(found, brute_force_closest_approaches(*units, groups=groups, **limits))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_index_allows_for_the_curved_earth_on_long_fast_paths(seed):
    # Jets over 10 minutes fly 180-360 km: measured in the pair's tangent plane they may meet
    # while their straight earth-centred paths are kilometres apart in space.
    rng = np.random.default_rng(seed)
    lon, lat, alt, _, _, climb = random_traffic(1500, rng.uniform(-180, 180),
                                                rng.uniform(-80, 80), seed, width_deg=20.0)
    speed = rng.choice([0.0, 300.0, 600.0], 1500)
    course = rng.uniform(0, 2 * np.pi, 1500)
    units = (lon, lat, alt, speed * np.sin(course), speed * np.cos(course), climb)
    limits = {"lookahead_s": 600.0, "separation_m": 500.0, "vertical_m": 1e5}
    found = closest_approaches(*units, **limits)
    assert len(found) > 20
    assert_same(found, brute_force_closest_approaches(*units, **limits))


def test_index_handles_paths_too_long_for_its_margins():
    units = random_traffic(300, 38.0, 33.0, seed=3)
    limits = {**LIMITS, "lookahead_s": 3600.0}  # 250 m/s for an hour: 900 km
    found = closest_approaches(*units, **limits)
    assert_same(found, brute_force_closest_approaches(*units, **limits))


# --- properties ------------------------------------------------------------------------------

speeds = st.sampled_from([0.0, 0.5, 3.0, 12.5, 30.0, 80.0])
traffic = st.lists(
    st.tuples(st.floats(-0.05, 0.05), st.floats(-0.05, 0.05),
              st.one_of(st.just(float("nan")), st.floats(0, 1000)),
              speeds, st.floats(0, 360), st.sampled_from([0.0, -2.0, 1.0, 5.0])),
    min_size=2, max_size=12)
lats = st.floats(-85.0, 85.0)


def columns(rows, lon0, lat0):
    lon, lat, alt, speed, course, climb = (np.array(c, dtype=float) for c in zip(*rows))
    c = np.radians(course)
    return lon0 + lon, lat0 + lat, alt, speed * np.sin(c), speed * np.cos(c), climb


def pairs(e):
    return set(zip(e.i.tolist(), e.j.tolist()))


@settings(max_examples=60, deadline=None)
@given(traffic, lats)
def test_swapping_the_units_of_a_pair_changes_nothing(rows, lat0):
    units = columns(rows, 38.0, lat0)
    n = len(rows)
    forward = closest_approaches(*units, **LIMITS)
    backward = closest_approaches(*(c[::-1] for c in units), **LIMITS)
    order = np.lexsort((n - 1 - forward.i, n - 1 - forward.j))
    assert (n - 1 - forward.j[order]).tolist() == backward.i.tolist()
    assert (n - 1 - forward.i[order]).tolist() == backward.j.tolist()
    for name in FIELDS[2:]:
        np.testing.assert_array_equal(getattr(forward, name)[order], getattr(backward, name))


@settings(max_examples=60, deadline=None)
@given(traffic, lats, st.floats(-180.0, 180.0))
def test_shifting_every_longitude_keeps_the_encounters(rows, lat0, shift):
    units = columns(rows, 38.0, lat0)
    moved = ((units[0] + shift + 180.0) % 360.0 - 180.0,) + units[1:]
    e = closest_approaches(*units, **LIMITS)
    # Rounding differs between the two places, so compare against slightly looser and
    # slightly stricter limits: the pairs must be nested.
    tighter = closest_approaches(*moved, **{k: v * (1 - 1e-6) for k, v in LIMITS.items()})
    looser = closest_approaches(*moved, **{k: v * (1 + 1e-6) for k, v in LIMITS.items()})
    assert pairs(tighter) <= pairs(e) <= pairs(looser)
    same = closest_approaches(*moved, **LIMITS)
    common = sorted(pairs(e) & pairs(same))
    here = [k for k, p in enumerate(zip(e.i.tolist(), e.j.tolist())) if p in common]
    there = [k for k, p in enumerate(zip(same.i.tolist(), same.j.tolist())) if p in common]
    for name in ("distance_m", "cpa_distance_m"):
        np.testing.assert_allclose(getattr(e, name)[here], getattr(same, name)[there], atol=1e-4)
    np.testing.assert_array_equal(e.vertical_now_m[here], same.vertical_now_m[there])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-40, 40), st.integers(-40, 40)), min_size=2, max_size=30,
                unique=True),
       st.lists(st.tuples(speeds.filter(lambda s: s <= 3.0), st.floats(0, 360)), min_size=30,
                max_size=30),
       lats, st.floats(0.01, 1.0))
def test_tiny_separation_between_far_apart_units_is_never_a_conflict(cells, motion, lat0, sep):
    # Cells 0.05 degree apart (over 2 km even at 85 degrees); 3 m/s for 300 s covers 900 m.
    rows = [(x * 0.05, y * 0.05, 100.0, s, c, 0.0) for (x, y), (s, c) in zip(cells, motion)]
    units = columns(rows, 38.0, lat0)
    limits = {**LIMITS, "separation_m": sep}
    assert len(closest_approaches(*units, **limits)) == 0
    assert len(brute_force_closest_approaches(*units, **limits)) == 0


def separation_at(units, i, j, t):
    """Horizontal and vertical separation of pair (i, j) at time t, computed directly."""
    lon, lat, alt, ve, vn, vu = units
    east, north, up = wgs84.enu_basis(lon, lat)
    pos = wgs84.ecef(lon, lat) + (east * ve[:, None] + north * vn[:, None]) * t[..., None, None]
    normal = up[i] + up[j]
    normal /= np.linalg.norm(normal)
    d = pos[..., j, :] - pos[..., i, :]
    horizontal = np.linalg.norm(d - (d @ normal)[..., None] * normal, axis=-1)
    return horizontal, np.abs(alt[j] + vu[j] * t - alt[i] - vu[i] * t)


@settings(max_examples=40, deadline=None)
@given(traffic, lats)
def test_conflict_exactly_when_horizontal_and_vertical_overlap_in_time(rows, lat0):
    units = columns(rows, 38.0, lat0)
    e = closest_approaches(*units, **LIMITS)
    found = pairs(e)
    t = np.linspace(0.0, LIMITS["lookahead_s"], 301)
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            h, v = separation_at(units, i, j, t)
            unknown = np.isnan(v)
            close = (h < LIMITS["separation_m"] - 1e-6) & (
                unknown | (v < LIMITS["vertical_m"] - 1e-6))
            if close.any():
                assert (i, j) in found
    for k in range(len(e)):
        h, v = separation_at(units, int(e.i[k]), int(e.j[k]), np.array(e.cpa_t_s[k]))
        assert 0.0 <= e.cpa_t_s[k] <= LIMITS["lookahead_s"]
        assert h == pytest.approx(e.cpa_distance_m[k], abs=1e-3)
        assert h <= LIMITS["separation_m"] + 1e-6
        assert np.isnan(v) or v <= LIMITS["vertical_m"] + 1e-6


# --- inputs and output shape ----------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_units_have_no_encounters(n):
    e = encounters([unit(*A)] * n)
    assert len(e) == 0
    assert e.i.dtype == np.int64 and e.j.dtype == np.int64
    assert all(getattr(e, name).shape == (0,) for name in FIELDS)


def test_output_is_sorted_by_pair_with_int64_indices():
    units = random_traffic(500, 38.0, 33.0, seed=9, width_deg=0.5)
    e = closest_approaches(*units, **LIMITS)
    assert len(e) > 10 and e.i.dtype == np.int64 and e.j.dtype == np.int64
    assert np.all(e.i < e.j)
    keys = e.i * 500 + e.j
    assert np.all(np.diff(keys) > 0)


@pytest.mark.parametrize("bad", [
    {"lat_deg": [91.0, 0.0]},
    {"lon_deg": [0.0]},
    {"v_east_mps": [float("nan"), 0.0]},
    {"groups": [1, 2, 3]},
    {"separation_m": -1.0},
    {"lookahead_s": float("inf")},
])
def test_bad_input_is_refused(bad):
    args = {"lon_deg": [0.0, 0.0], "lat_deg": [0.0, 0.001], "alt_m": [0.0, 0.0],
            "v_east_mps": [0.0, 0.0], "v_north_mps": [0.0, 0.0], "v_up_mps": [0.0, 0.0],
            **LIMITS, **bad}
    with pytest.raises(GeometryError):
        closest_approaches(**args)


def test_public_api_and_examples():
    assert sorted(cpa.__all__) == ["Encounters", "brute_force_closest_approaches",
                                   "closest_approaches"]
    assert doctest.testmod(cpa).failed == 0
