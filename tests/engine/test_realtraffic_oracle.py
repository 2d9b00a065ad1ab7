"""The real-traffic oracle (tests/realtraffic.py) on crafted cases whose answer is known by construction."""
import math
from datetime import UTC, datetime, timedelta

import pytest

from deconfliction import AltitudeBand, Circle, Report, Zone, ZoneKind
from tests.realtraffic import (AIRCRAFT, AIRCRAFT_LIMITS, NEAR, Dataset, Limits, entry_truth, score,
                               separation_truth, units_of)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LAT = 49.0
M_PER_DEG_LON = 73_175.0  # at 49 N, near enough to place crafted tracks
M_PER_DEG_LAT = 111_200.0
SEP = AIRCRAFT.separation_m


def straight(track: str, party: str, *, east_m: float, north_m: float, v_east_mps: float, alt_m: float = 3000.0,
             every_s: int = 10, seconds: range = range(0, 601), skip: range = range(0)) -> list[Report]:
    """Reports every ``every_s`` of a unit starting ``east_m``/``north_m`` from (2 E, 49 N), flying east
    at ``v_east_mps``, none at the seconds in ``skip``."""
    return [Report(t=T0 + timedelta(seconds=s), track=track, party=party,
                   lon=2.0 + (east_m + v_east_mps * s) / M_PER_DEG_LON, lat=LAT + north_m / M_PER_DEG_LAT,
                   alt_m=alt_m, speed_mps=abs(v_east_mps), course_deg=90.0 if v_east_mps >= 0 else 270.0)
            for s in seconds if s % every_s == 0 and s not in skip]


def head_on(offset_m: float, **b_options) -> list[Report]:
    """Two aircraft on reciprocal tracks ``offset_m`` apart, passing abeam at 305 s (between two reports)."""
    a = straight("a", "A", east_m=-61_000.0, north_m=0.0, v_east_mps=200.0)
    b = straight("b", "B", east_m=61_000.0, north_m=offset_m, v_east_mps=-200.0, **b_options)
    return sorted(a + b, key=lambda r: r.t)


def closeness(reports, limits: Limits = AIRCRAFT_LIMITS) -> float:
    truth = separation_truth(units_of(reports), AIRCRAFT, limits)
    return truth.closest.get(("a", "b"), (math.inf, 0.0))[0]


def test_a_pass_closer_than_the_minimum_between_two_reports_is_a_clear_loss():
    truth = separation_truth(units_of(head_on(2_000.0)), AIRCRAFT, AIRCRAFT_LIMITS)
    closest, at_s = truth.closest[("a", "b")]
    assert truth.lost == {("a", "b")}
    assert closest == pytest.approx(2_000.0 / SEP, rel=0.01)
    assert at_s == (T0 + timedelta(seconds=305)).timestamp()  # interpolated: no report at 305 s


def test_a_near_miss_at_1_3_times_the_minimum_is_neither_a_loss_nor_near():
    truth = separation_truth(units_of(head_on(1.3 * SEP)), AIRCRAFT, AIRCRAFT_LIMITS)
    assert truth.lost == set() and truth.within(NEAR) == set()
    assert truth.closest[("a", "b")][0] == pytest.approx(1.3, abs=0.01)


def test_a_pass_1_000_ft_or_more_apart_vertically_is_no_loss():
    assert closeness(head_on(0.0, alt_m=3000.0 + 1.3 * AIRCRAFT.vertical_m)) == pytest.approx(1.3, abs=1e-6)


def test_an_unknown_altitude_counts_as_close():
    a = straight("a", "A", east_m=-61_000.0, north_m=0.0, v_east_mps=200.0)
    b = [Report(r.t, r.track, r.party, r.lon, r.lat, None, r.speed_mps, r.course_deg)
         for r in straight("b", "B", east_m=61_000.0, north_m=0.0, v_east_mps=-200.0, alt_m=9000.0)]
    assert closeness(a + b) < 0.01


def test_no_position_is_interpolated_across_a_gap_longer_than_allowed():
    # b is silent from 250 s to 360 s (its reports at 240 s and 370 s are 130 s apart): the pass at
    # 305 s is seen only when gaps of 130 s may be interpolated across
    reports = head_on(0.0, skip=range(250, 361))
    assert closeness(reports) > 1.5
    assert closeness(reports, Limits(gap_s=130.0, speed_mps=400.0, climb_mps=60.0)) < 0.01


def test_no_position_is_interpolated_across_an_impossible_jump():
    # two bad altitudes (100 m at 300 s and 310 s, 3,000 m ten seconds before and after) make b
    # dive and climb 290 m/s: those seconds are not interpolated; where b is measured or
    # interpolated at 100 m it is far below a, and at 290 s and 320 s the two are 6 km apart
    reports = head_on(0.0)
    bad = {T0 + timedelta(seconds=300), T0 + timedelta(seconds=310)}
    reports = [Report(r.t, r.track, r.party, r.lon, r.lat, 100.0, r.speed_mps, r.course_deg)
               if r.track == "b" and r.t in bad else r for r in reports]
    limits = Limits(gap_s=60.0, speed_mps=400.0, climb_mps=60.0)
    assert closeness(reports, limits) == pytest.approx(6_000.0 / SEP, rel=0.01)
    # with no limit the dive is a path: at 291 s a is 5.6 km from b, 290 m above it
    assert closeness(reports, Limits(60.0, 400.0, math.inf)) == pytest.approx(5_600.0 / SEP, rel=0.01)


def test_units_of_one_party_are_not_compared():
    reports = [r if r.track == "a" else Report(r.t, r.track, "A", r.lon, r.lat, r.alt_m, r.speed_mps, r.course_deg)
               for r in head_on(0.0)]
    assert separation_truth(units_of(reports), AIRCRAFT, AIRCRAFT_LIMITS).closest == {}


CIRCLE = Zone("site", Circle(2.0, LAT, 1_000.0), parties=("authority",), allowed=(), kind=ZoneKind.RESTRICTED,
              altitude=AltitudeBand(0.0, 1_000.0))


def test_a_unit_through_a_zone_between_two_reports_is_a_clear_entry():
    # reports every 60 s at 200 m/s: from 12 km west to 12 km east, none within 11 km of the site
    crossing = straight("a", "A", east_m=-12_000.0, north_m=500.0, v_east_mps=200.0, alt_m=500.0, every_s=60,
                        seconds=range(0, 121))
    above = straight("b", "B", east_m=-12_000.0, north_m=0.0, v_east_mps=200.0, alt_m=1_500.0, every_s=60,
                     seconds=range(0, 121))
    abeam = straight("c", "C", east_m=-12_000.0, north_m=1_100.0, v_east_mps=200.0, alt_m=500.0, every_s=60,
                     seconds=range(0, 121))
    assert entry_truth(units_of(crossing + above + abeam), [CIRCLE], AIRCRAFT_LIMITS) == {("a", "site")}


def test_an_alarm_from_a_position_extrapolated_past_the_last_report_is_a_false_pair():
    # a flies east and falls silent 60 km short of the point where b reports ten minutes later: the
    # engine carries a on to b and declares separation lost; the two were never measured together
    a = straight("a", "A", east_m=-60_000.0, north_m=0.0, v_east_mps=100.0, seconds=range(0, 61))
    b = straight("b", "B", east_m=0.0, north_m=0.0, v_east_mps=0.0, seconds=range(600, 631))
    reports = sorted(a + b, key=lambda r: r.t)
    data = Dataset("crafted", reports, AIRCRAFT, [], AIRCRAFT_LIMITS)
    units = units_of(reports)
    s = score(data, data.policy(), separation_truth(units, AIRCRAFT, AIRCRAFT_LIMITS), set())
    assert s.engine_pairs == {("a", "b")} and s.clear_losses == set()
    assert s.false_pairs == {("a", "b")}
    timely = score(data, data.policy(track_timeout_s=20.0), separation_truth(units, AIRCRAFT, AIRCRAFT_LIMITS), set())
    assert timely.engine_pairs == set() and timely.false_pairs == set()
