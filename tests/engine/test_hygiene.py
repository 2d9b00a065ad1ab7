"""Feed hygiene: duplicates, reports out of time order and impossible jumps are held back from
detection and counted by kind; a unit that really moved is followed after a few reports."""
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic

from deconfliction import Circle, Engine, Party, Policy, Report, Zone
from deconfliction.engine.hygiene import JUMP_CONFIRMATIONS, KINDS
from deconfliction.engine.tracks import ReportBatch

T0 = datetime(2021, 10, 7, 12, tzinfo=timezone.utc)
PARTIES = [Party("a"), Party("b")]
LON, LAT = 2.35, 48.85


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def moved(metres: float, course_deg: float = 90.0, lon: float = LON, lat: float = LAT) -> tuple[float, float]:
    g = Geodesic.WGS84.Direct(lat, lon, course_deg, metres)
    return g["lon2"], g["lat2"]


def engine(**policy) -> Engine:
    return Engine(Policy(separation_m=1000, perimeter_m=0, **policy), PARTIES)


def send(e: Engine, seconds: float, track: str, lon: float, lat: float, **extra) -> list[str]:
    """Report ``track`` (of the party named by its first letter) at ``seconds``: the events' types."""
    t, party = at(seconds), track[0]
    extra.setdefault("alt_m", 1000.0)  # separation is found only where both altitudes are known
    return [ev.type for ev in e.report(t, [Report(t, track, party, lon, lat, **extra)])]


def held(e: Engine) -> dict[str, int]:
    return {kind: e.stats[f"reports.{kind}"] for kind in KINDS}


def test_a_report_repeating_the_units_last_is_a_duplicate_and_changes_nothing():
    e = engine()
    send(e, 0, "a1", LON, LAT, alt_m=100)
    send(e, 0, "a1", LON, LAT, alt_m=100)
    send(e, 0, "a1", LON, LAT, alt_m=None)  # same time, no altitude: another position, so not a repeat
    assert held(e) == {"duplicates": 1, "out_of_order": 1, "jumps": 0, "party_mismatch": 0}
    assert e.stats["reports.applied"] == 1


def test_a_unit_twice_in_one_batch_applies_once_and_the_repeat_is_a_duplicate():
    e = engine()
    far = moved(500)
    t = at(0)
    e.report(t, [Report(t, "a1", "a", LON, LAT), Report(t, "a1", "a", LON, LAT), Report(t, "a1", "a", *far)])
    assert held(e)["duplicates"] == 1 and held(e)["out_of_order"] == 1
    assert (e.tracks["a1"].lon, e.tracks["a1"].lat) == (LON, LAT)


def test_a_report_older_than_the_units_last_is_out_of_order_and_detects_nothing():
    def near_b1(report_seconds: float) -> list[str]:
        e = engine()
        send(e, 60, "a1", LON, LAT)
        send(e, 70, "b1", *moved(5_000))
        t = at(70)
        events = e.report(t, [Report(at(report_seconds), "a1", "a", *moved(4_950), alt_m=1000.0)])
        return [ev.type for ev in events], held(e)["out_of_order"], e.tracks["a1"].lon
    assert near_b1(70) == (["separation.lost"], 0, pytest.approx(moved(4_950)[0]))  # applied, it would count
    assert near_b1(30) == ([], 1, LON)


def test_a_jump_is_held_back_from_zones_separation_and_prediction():
    e = engine()
    e.declare_zone(Zone("z", Circle(*moved(100_000), 5_000), ("b",), ("b",)), at(0))
    send(e, 0, "b1", *moved(100_300))
    send(e, 0, "a1", LON, LAT)
    # 100 km in 10 s (10 km/s): into b's zone and next to b1; neither counts
    assert send(e, 10, "a1", *moved(100_000)) == []
    assert send(e, 10, "b1", *moved(100_300)) == []
    assert held(e)["jumps"] == 1
    assert (e.tracks["a1"].lon, e.tracks["a1"].lat) == (LON, LAT)
    assert e.tracks["a1"].t == at(0)


def test_position_noise_over_a_short_interval_is_not_a_jump():
    """Two fixes a second apart and 200 m off: 200 m/s, above a ship's limit, but within the noise."""
    e = engine(max_speed_mps=20)
    send(e, 0, "ship", LON, LAT)
    send(e, 1, "ship", *moved(200))
    assert held(e)["jumps"] == 0
    send(e, 2, "ship", *moved(1_000))  # 800 m in a second is more than noise
    assert held(e)["jumps"] == 1
    e = engine(max_speed_mps=20, position_noise_m=0)
    send(e, 0, "ship", LON, LAT)
    send(e, 1, "ship", *moved(30))
    assert held(e)["jumps"] == 1


def test_a_jump_on_the_boundary_of_the_reach_is_applied_and_just_beyond_it_held_back():
    for metres, jumps in ((1_199.0, 0), (1_201.0, 1)):  # 20 m/s for 50 s, plus 200 m of noise
        e = engine(max_speed_mps=20, position_noise_m=200)
        send(e, 0, "ship", LON, LAT)
        send(e, 50, "ship", *moved(metres))
        assert held(e)["jumps"] == jumps, metres


def test_a_unit_that_really_moved_is_followed_after_consistent_reports_at_the_new_place():
    e = engine()
    send(e, 0, "a1", LON, LAT)
    send(e, 0, "b1", *moved(200_000, 0, *moved(100_000)))
    events = []
    for k in range(JUMP_CONFIRMATIONS):  # 100 km away in 10 s, then moving on plausibly
        events += send(e, 10 + k, "a1", *moved(100_000 + 100 * k))
    assert held(e)["jumps"] == JUMP_CONFIRMATIONS - 1 and e.stats["reports.jumps_accepted"] == 1
    assert e.tracks["a1"].lon == pytest.approx(moved(100_000 + 100 * (JUMP_CONFIRMATIONS - 1))[0])
    # applied as a new start: no velocity from the old place to the new one
    assert abs(e.tracks["a1"].v_east_mps) < 1.0
    assert send(e, 20, "a1", *moved(100_300)) == []  # and followed from there
    assert held(e)["jumps"] == JUMP_CONFIRMATIONS - 1


def test_jumps_that_disagree_with_one_another_are_never_accepted():
    e = engine()
    send(e, 0, "a1", LON, LAT)
    for k in range(6):  # garbled positions, far from the unit and from one another
        send(e, 10 + k, "a1", *moved(100_000 + 50_000 * k, 45 * k))
    assert held(e)["jumps"] == 6 and e.stats["reports.jumps_accepted"] == 0
    assert (e.tracks["a1"].lon, e.tracks["a1"].lat) == (LON, LAT)


def test_a_true_report_between_two_jumps_starts_the_count_again():
    e = engine()
    send(e, 0, "a1", LON, LAT)
    far = 100_000
    send(e, 10, "a1", *moved(far))
    send(e, 11, "a1", *moved(far))
    send(e, 12, "a1", *moved(10))  # the real unit, where it was
    send(e, 13, "a1", *moved(far))
    assert held(e)["jumps"] == 3 and e.stats["reports.jumps_accepted"] == 0


def test_a_repeat_of_a_held_back_jump_is_a_duplicate_and_does_not_confirm_it():
    e = engine()
    send(e, 0, "a1", LON, LAT)
    for _ in range(JUMP_CONFIRMATIONS):
        send(e, 10, "a1", *moved(100_000))
    assert held(e)["jumps"] == 1 and held(e)["duplicates"] == JUMP_CONFIRMATIONS - 1
    assert e.stats["reports.jumps_accepted"] == 0


def test_a_batch_leaves_its_own_counts_on_it():
    e = engine()
    send(e, 0, "a1", LON, LAT)
    send(e, 0, "a2", LON, LAT)
    t = at(10)
    batch = ReportBatch.of([Report(t, "a1", "a", *moved(100_000)), Report(t, "a2", "a", *moved(10)),
                            Report(at(0), "a3", "a", LON, LAT), Report(t, "a3", "a", LON, LAT)])
    e.report(t, batch)
    assert batch.held_back == {"duplicates": 1, "out_of_order": 0, "jumps": 1, "party_mismatch": 0}


def test_screening_is_a_function_of_the_reports_alone():
    """The same reports in another engine (a replay) hold back the same ones."""
    def run() -> tuple:
        rng = np.random.default_rng(7)
        e = engine(max_speed_mps=50)
        for k in range(300):
            s = int(rng.integers(0, 60))
            send(e, s if k % 7 else max(s - 30, 0), f"a{k % 5}", *moved(float(rng.uniform(0, 5_000)),
                                                                            float(rng.uniform(0, 360))))
        return tuple(sorted(e.stats.items())), tuple((t, e.tracks[t].lon) for t in sorted(e.tracks))
    first = run()
    assert run() == first and sum(first[0][i][1] for i, (k, _) in enumerate(first[0]) if k == "reports.jumps")
