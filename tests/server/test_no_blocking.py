"""No party can block another: what one party reports never makes another party's request fail.

A report is refused (422, naming the field) when it is outside the policy's physical limits; a
report inside them, however extreme (at the poles, across the antimeridian, at the top speed,
climb rate and altitude), is accepted, and the other parties' batches go on with their events.
"""
from __future__ import annotations

import json

import pytest
from geographiclib.geodesic import Geodesic

from deconfliction.engine.model import Policy
from tests.server.world import INSIDE, OUTSIDE, TANF, assert_error, at

LIMITS = Policy()


@pytest.mark.parametrize("track", ["u1", "u\\u0031"])  # read in one pass, or (an escape) decoded in full
@pytest.mark.parametrize("field, value, limit", [
    ("speed_mps", 1e8, "max_speed_mps"),
    ("speed_mps", LIMITS.max_speed_mps * 1.000001, "max_speed_mps"),
    ("climb_mps", -LIMITS.max_climb_mps - 1, "max_climb_mps"),
    ("alt_m", LIMITS.max_alt_m + 1, "max_alt_m"),
    ("alt_m", LIMITS.min_alt_m - 1, "min_alt_m"),
])
def test_a_report_beyond_the_policy_limits_is_refused_naming_the_field(world, track, field, value, limit):
    body = json.dumps([{"t": at(1), "id": "u0", "lon": 38, "lat": 33},
                       {"t": at(1), "id": "TRACK", "lon": 38.1, "lat": 33, field: value}]).replace("TRACK", track)
    world.clock.set(1)
    before, units = world.size(), len(world.service.ledger.engine.tracks)
    error = assert_error(world.post("/v1/positions", "militia", content=body.encode(),
                                    content_type="application/json"), 422, "invalid_scenario")
    [detail] = error["details"]
    assert detail["path"] == f"[1].{field}"
    assert limit in detail["reason"]
    assert world.size() == before and len(world.service.ledger.engine.tracks) == units  # nothing applied


def test_a_report_at_the_limits_is_accepted(world):
    world.clock.set(1)
    r = world.post("/v1/positions", "militia", [{
        "t": at(1), "id": "u1", "lon": 38, "lat": 33, "speed_mps": LIMITS.max_speed_mps, "course_deg": 90,
        "climb_mps": -LIMITS.max_climb_mps, "alt_m": LIMITS.max_alt_m}])
    assert r.status_code == 202, r.text


def test_one_partys_absurd_speed_does_not_block_the_other_parties(world):
    """BUG: a report at 1e8 m/s was accepted, and every later batch of every party failed with 422
    "latitude must be within [-90, 90] degrees" for as long as the unit was predicted (15 minutes):
    the prediction dead-reckoned it to latitudes beyond the pole."""
    world.clock.set(1)
    world.post("/v1/positions", "militia", [{"t": at(1), "id": "m1", "lon": 38, "lat": 33,
                                             "speed_mps": 1e8, "course_deg": 0}])
    for minute in (2, 5, 10):
        world.report("coalition", "c1", OUTSIDE, minute)


def destination(lon: float, lat: float, course_deg: float, metres: float) -> tuple[float, float]:
    g = Geodesic.WGS84.Direct(lat, lon, course_deg, metres)
    return g["lon2"], g["lat2"]


def test_reports_at_the_edge_of_the_limits_never_make_another_partys_batch_fail(world):
    """Militia's units at the pole, on the antimeridian, at the top speed, climb rate and altitude;
    ten minutes later the coalition's batch is applied with its events: its unit entering a zone,
    and its units where militia's units are predicted to be by then (beyond the pole, across the
    antimeridian: the geodesic there, which the prediction follows)."""
    speed = LIMITS.max_speed_mps
    r = world.post("/v1/zones", "russia", {**TANF, "id": "tanf-r", "parties": ["russia"], "allowed": ["russia"]})
    assert r.status_code == 201, r.text
    world.report("militia", "m-pole", (0.0, 89.99), 0, speed_mps=speed, course_deg=0)
    world.report("militia", "m-east", (179.99, 0.0), 0, speed_mps=speed, course_deg=90)
    world.report("militia", "m-south-pole", (-120.0, -90.0), 0, speed_mps=speed, course_deg=180)
    world.report("militia", "m-up", (38.0, 33.0), 0, alt_m=LIMITS.max_alt_m, climb_mps=LIMITS.max_climb_mps,
                 speed_mps=speed, course_deg=45)
    world.report("militia", "m-down", (38.0, 33.0), 0, alt_m=LIMITS.min_alt_m, climb_mps=-LIMITS.max_climb_mps)
    seconds = 600
    past_pole = destination(0.0, 89.99, 0, speed * seconds)
    past_antimeridian = destination(179.99, 0.0, 90, speed * seconds)
    assert past_pole[1] < 89 and -180 < past_antimeridian[0] < -170
    world.clock.set(seconds / 60)
    body = [{"t": at(seconds / 60), "id": "c-zone", "lon": INSIDE[0], "lat": INSIDE[1]},
            {"t": at(seconds / 60), "id": "c-pole", "lon": past_pole[0], "lat": past_pole[1]},
            {"t": at(seconds / 60), "id": "c-east", "lon": past_antimeridian[0], "lat": past_antimeridian[1]}]
    r = world.post("/v1/positions", "coalition", body)
    assert r.status_code == 202, r.text
    events = world.events("coalition")
    assert any(e["type"] == "zone.entered" and e["track"] == "c-zone" for e in events)
    lost = {tuple(sorted(e["tracks"])) for e in events if e["type"] == "separation.lost"}
    assert lost >= {("c-pole", "m-pole"), ("c-east", "m-east")}
