"""The engine's rules, as a user of the event log sees them."""
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from geographiclib.geodesic import Geodesic

from deconfliction import (
    AltitudeBand, Circle, Engine, Operation, Party, Policy, Report, TimeWindow, Volume4D, Zone,
    load_scenario, replay,
)
from tests.shapes import SQUARE, TANF

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2017, 6, 6, tzinfo=timezone.utc)
PARTIES = [Party("coalition"), Party("militia"), Party("un")]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def north_of_tanf(km: float) -> tuple[float, float]:
    g = Geodesic.WGS84.Direct(TANF.lat, TANF.lon, 0, km * 1000)
    return g["lon2"], g["lat2"]


def engine_with_tanf(**policy) -> Engine:
    engine = Engine(Policy(perimeter_m=5000, **policy), PARTIES)
    engine.declare_zone(Zone("tanf", TANF, ("coalition",), ("coalition",)), T0)
    return engine


def drive(engine: Engine, track: str, party: str, kms: list[float], **extra) -> list[str]:
    types = []
    for k, km in enumerate(kms):
        lon, lat = north_of_tanf(km)
        t = at(10 * (k + 1))
        types += [e.type for e in engine.report(t, [Report(t, track, party, lon, lat, **extra)])
                  if e.type.startswith("zone.")]
    return types


def test_approach_enter_stay_exit_gives_one_event_per_episode():
    types = drive(engine_with_tanf(), "convoy-1", "militia", [70, 57, 40, 30, 35, 54.9, 70, 58, 50])
    assert types == ["zone.approaching", "zone.entered", "zone.exited", "zone.approaching", "zone.entered"]


def test_a_unit_first_seen_inside_has_entered():
    assert drive(engine_with_tanf(), "element-1", "militia", [10, 12, 11]) == ["zone.entered"]


def test_allowed_parties_are_not_warned_about():
    assert drive(engine_with_tanf(), "patrol-1", "coalition", [70, 57, 40, 70]) == []


def test_crossing_between_two_reports_outside():
    engine = engine_with_tanf()
    west = Geodesic.WGS84.Direct(TANF.lat, TANF.lon, 270, 70_000)
    east = Geodesic.WGS84.Direct(TANF.lat, TANF.lon, 90, 70_000)
    engine.report(at(1), [Report(at(1), "f", "militia", west["lon2"], west["lat2"])])
    events = engine.report(at(60), [Report(at(60), "f", "militia", east["lon2"], east["lat2"])])
    assert [(e.type, e.fields["zone"]) for e in events if e.type.startswith("zone.")] == [("zone.crossed", "tanf")]


def test_reports_out_of_time_order_are_ignored_and_counted():
    engine = engine_with_tanf()
    lon, lat = north_of_tanf(40)
    engine.report(at(20), [Report(at(20), "u", "militia", lon, lat)])
    far = north_of_tanf(90)
    assert engine.report(at(20), [Report(at(10), "u", "militia", *far)]) == []
    assert engine.stats["reports.out_of_order"] == 1
    assert engine.tracks["u"].lat == pytest.approx(lat)


def test_altitude_band_and_time_window_limit_a_zone():
    engine = Engine(Policy(perimeter_m=0), PARTIES)
    zone = Zone("box", SQUARE, ("un",), ("un",), altitude=AltitudeBand(0, 100),
                window=TimeWindow(at(0), at(60)))
    engine.declare_zone(zone, T0)
    def zone_events(t, report):
        return [e.type for e in engine.report(t, [report]) if e.type.startswith("zone.")]
    high = zone_events(at(5), Report(at(5), "a", "militia", 0.005, 0.005, alt_m=150))
    low = zone_events(at(5), Report(at(5), "b", "militia", 0.005, 0.005, alt_m=100))
    late = zone_events(at(60), Report(at(60), "c", "militia", 0.005, 0.005, alt_m=50))
    assert (high, low, late) == ([], ["zone.entered"], [])


def head_on(engine: Engine, minutes: list[float], gap_km) -> list:
    events = []
    for m in minutes:
        t = at(m)
        d = gap_km(m) * 500
        a = Geodesic.WGS84.Direct(33.0, 38.0, 270, d)
        b = Geodesic.WGS84.Direct(33.0, 38.0, 90, d)
        events += engine.report(t, [Report(t, "a", "coalition", a["lon2"], a["lat2"], 500, 10, 90),
                                    Report(t, "b", "militia", b["lon2"], b["lat2"], 500, 10, 270)])
    return events


def test_predicted_then_lost_once_per_encounter():
    engine = Engine(Policy(separation_m=1000, vertical_m=300, lookahead_s=600), PARTIES)
    # two units 20 m/s closing, starting 18 km apart: they meet at 15 min
    events = head_on(engine, [0, 1, 5, 10, 14.5, 14.6, 14.7], lambda m: 18 - 1.2 * m)
    types = [e.type for e in events]
    assert types == ["proximity.predicted", "separation.lost"]
    predicted = events[0]
    assert predicted.fields["tracks"] == ["a", "b"] and predicted.fields["parties"] == ["coalition", "militia"]
    # at 5 min they are 12 km apart and reach 1 km in 550 s, inside the 600 s look-ahead
    assert predicted.t == at(5)
    assert predicted.fields["cpa_t"] == at(15)
    assert predicted.fields["cpa_distance_m"] == pytest.approx(0, abs=1)
    assert events[1].fields["distance_m"] < 1000


def test_a_new_encounter_after_the_units_part_is_reported_again():
    engine = Engine(Policy(separation_m=1000, vertical_m=300, lookahead_s=60), PARTIES)
    events = head_on(engine, [0, 1, 2], lambda m: 0.5)
    events += head_on(engine, [3, 4], lambda m: 50)
    events += head_on(engine, [5], lambda m: 0.5)
    assert [e.type for e in events] == ["separation.lost", "separation.lost"]


def test_units_of_one_party_are_not_compared():
    engine = Engine(Policy(separation_m=1000), PARTIES)
    t = at(0)
    assert engine.report(t, [Report(t, "a", "un", 38, 33), Report(t, "b", "un", 38.001, 33)]) == []


def test_plan_conflicts_with_zones_declared_later_too():
    engine = Engine(Policy(), PARTIES)
    volume = Volume4D(Circle(0.02, 0.005, 1200), AltitudeBand(0, 50), TimeWindow(at(0), at(60)))
    events = engine.declare_operation(Operation("op", "militia", (volume,)), T0)
    assert [e.type for e in events] == ["operation.declared"]
    events = engine.declare_zone(Zone("box", SQUARE, ("un",), ("un",)), T0)
    conflict = next(e for e in events if e.type == "plan.conflict")
    assert conflict.type == "plan.conflict"
    assert conflict.fields["operation"] == "op" and conflict.fields["other"] == "box"
    assert conflict.fields["parties"] == ["militia", "un"]
    assert conflict.fields["window"] == {"start": at(0), "end": at(60)}


def test_replaying_twice_gives_identical_bytes():
    scenario = load_scenario(ROOT / "examples" / "at-tanf.yaml")
    first = "\n".join(e.to_json() for e in replay(scenario))
    second = "\n".join(e.to_json() for e in replay(load_scenario(ROOT / "examples" / "at-tanf.yaml")))
    assert first == second


def test_the_example_shows_every_kind_of_event():
    events = list(replay(load_scenario(ROOT / "examples" / "at-tanf.yaml")))
    types = {e.type for e in events}
    assert types >= {"zone.approaching", "zone.entered", "zone.exited", "zone.crossed", "plan.conflict",
                     "proximity.predicted", "separation.lost"}
    keys = [(e.t, e.seq) for e in events]
    assert keys == sorted(keys)
