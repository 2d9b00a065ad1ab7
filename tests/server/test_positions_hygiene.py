"""POST /v1/positions tells the caller how many of its reports were held back from detection, by kind."""
import pytest

from tests.server.world import OUTSIDE, at

NONE = {"duplicates": 0, "out_of_order": 0, "jumps": 0, "party_mismatch": 0}


def report(minutes: float, track: str = "u1", dlon: float = 0.0) -> dict:
    return {"t": at(minutes), "id": track, "lon": OUTSIDE[0] + dlon, "lat": OUTSIDE[1]}


def test_the_answer_counts_the_batchs_duplicates_reports_out_of_order_and_jumps(world):
    r = world.post("/v1/positions", "militia", [report(1), report(1, "u2")])
    assert r.status_code == 202 and r.json() == {"received": 2, "held_back": NONE, "events": r.json()["events"]}
    world.clock.set(3)
    r = world.post("/v1/positions", "militia", [
        report(1),  # the same as before: a duplicate
        report(0, "u2"),  # older than u2's last: out of order
        report(2, "u1", 2.0),  # about 180 km in a minute: a jump
        report(3, "u2", 0.001)])  # fine
    assert r.status_code == 202, r.text
    assert r.json()["held_back"] == {"duplicates": 1, "out_of_order": 1, "jumps": 1, "party_mismatch": 0}
    engine = world.service.ledger.engine
    assert engine.tracks["u1"].lon == pytest.approx(OUTSIDE[0])
    assert engine.tracks["u2"].lon == pytest.approx(OUTSIDE[0] + 0.001)


def test_a_party_hears_only_of_its_own_reports(world):
    world.post("/v1/positions", "militia", [report(1), report(1)])
    r = world.post("/v1/positions", "coalition", [report(1, "c1")])
    assert r.json()["held_back"] == NONE


def test_a_restart_replays_the_log_to_the_same_units(world):
    world.clock.set(4)
    world.post("/v1/positions", "militia", [report(1), report(2, "u1", 5.0), report(3, "u1", 5.0)])
    r = world.post("/v1/positions", "militia", [report(3, "u1", 5.0), report(4, "u1", 5.0)])
    assert r.json()["held_back"] == {**NONE, "duplicates": 1}  # the third at the new place is applied
    engine = world.service.ledger.engine
    before = repr(dict(engine.tracks))
    assert engine.tracks["u1"].lon == pytest.approx(OUTSIDE[0] + 5.0) and engine.tracks["u1"].v_east_mps == 0
    assert engine.stats["reports.jumps"] == 2 and engine.stats["reports.jumps_accepted"] == 1
    assert repr(dict(world.reopen().service.ledger.engine.tracks)) == before
