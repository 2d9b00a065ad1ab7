"""Agreement of zones over HTTP: a zone proposed by one party binds the others only once they agree."""
import pytest

from tests.server.world import INSIDE, OUTSIDE, TANF, assert_error, at, dumps, types

ZONE = {**TANF, "id": "z", "parties": ["russia", "coalition"], "allowed": ["coalition", "russia"]}
"""The coalition proposes it, naming Russia first (it has not agreed anything)."""


def propose(world, zone=ZONE, party="coalition"):
    r = world.post("/v1/zones", party, zone)
    assert r.status_code == 201, r.text
    return r.json()


def sent(events):
    return [(e["from"], e["to"]) for e in events if e["type"] == "message.sent"]


def test_a_party_named_in_a_zone_does_not_speak_for_it_until_it_agrees(world):
    propose(world)
    world.report("militia", "u1", OUTSIDE, 1)
    world.report("militia", "u1", INSIDE, 2)
    # russia is named first, but only the coalition proposed the zone: the warning is the coalition's
    assert sent(world.events("ocha")) == [("coalition", "militia")]
    assert not [e for e in world.events("russia") if e["type"] == "zone.entered"]
    [zone] = world.get("/v1/zones", "russia")  # russia sees the zone, so that it can agree it
    assert (zone["proposer"], zone["status"], zone["pending"], zone["agreed"]) == (
        "coalition", "proposed", ["russia"], [{"party": "coalition", "at": at(0)}])


def test_agreeing_binds_the_party_from_then_on(world):
    propose(world)
    world.clock.set(1)
    r = world.post("/v1/zones/z/agree", "russia")
    assert r.status_code == 200, r.text
    assert [(e["type"], e["by"], e["status"]) for e in r.json()["events"]] == [("zone.agreed", "russia", "agreed")]
    [zone] = world.get("/v1/zones", "coalition")
    assert zone["status"] == "agreed" and zone["agreed"][1] == {"party": "russia", "at": at(1)}
    world.report("militia", "u1", OUTSIDE, 2)
    world.report("militia", "u1", INSIDE, 3)
    assert [e for e in world.events("russia") if e["type"] == "zone.entered"]
    assert [e["type"] for e in world.events("coalition") if e["type"].startswith("zone.")][:2] == [
        "zone.declared", "zone.agreed"]


def test_a_unit_seen_before_a_party_agreed_stays_hidden_from_it(world):
    propose(world)
    world.report("militia", "u1", OUTSIDE, 1)
    world.report("militia", "u1", INSIDE, 2)
    world.clock.set(3)
    assert world.post("/v1/zones/z/agree", "russia").status_code == 200
    assert not [e for e in world.events("russia") if e["type"] == "zone.entered"]
    assert world.get("/v1/units", "russia") == []
    again = world.reopen()
    try:
        assert not [e for e in again.events("russia") if e["type"] == "zone.entered"]
        assert again.get("/v1/units", "russia") == []
    finally:
        again.close()


def test_a_decline_is_logged_with_its_reason_and_shown(world):
    propose(world)
    world.clock.set(1)
    r = world.post("/v1/zones/z/decline", "russia", {"reason": "it covers our supply road"})
    assert r.status_code == 200, r.text
    [zone] = world.get("/v1/zones", "coalition")
    assert zone["declined"] == [{"party": "russia", "at": at(1), "reason": "it covers our supply road"}]
    assert zone["status"] == "proposed" and zone["pending"] == []
    [declined] = [e for e in world.events("coalition") if e["type"] == "zone.declined"]
    assert (declined["by"], declined["reason"]) == ("russia", "it covers our supply road")


def test_naming_another_party_as_proposer_is_refused_and_writes_nothing(world):
    size = world.size()
    error = assert_error(world.post("/v1/zones", "coalition", {**ZONE, "proposer": "russia"}), 403)
    assert error["details"][0]["path"] == "proposer"
    assert world.size() == size


@pytest.mark.parametrize("path, party, body, status, why", [
    ("/v1/zones/z/agree", "coalition", None, 409, "proposed"),  # the proposer agreed when it proposed
    ("/v1/zones/z/agree", "militia", None, 403, "not named"),  # it sees the zone (it may be in it), not named
    ("/v1/zones/z/agree", "un", None, 404, "no such zone"),  # it cannot see it: as for an unknown id
    ("/v1/zones/nowhere/agree", "un", None, 404, "no such zone"),
    ("/v1/zones/z/decline", "russia", {}, 422, "reason"),
    ("/v1/zones/z/decline", "russia", {"reason": "  "}, 422, "reason"),
    ("/v1/zones/z/decline", "russia", {"reason": "x", "by": "coalition"}, 422, "reason"),
    ("/v1/zones/z/decline", "un", {"reason": "x"}, 404, "no such zone"),
])
def test_bad_answers_are_refused_naming_the_reason_and_write_nothing(world, path, party, body, status, why):
    propose(world, {**ZONE, "allowed": ["coalition", "russia", "militia"]})
    size = world.size()
    error = assert_error(world.post(path, party, body), status)
    assert why in dumps(error)
    assert world.size() == size


def test_an_unknown_zone_and_a_hidden_one_answer_alike(world):
    propose(world)
    hidden = world.post("/v1/zones/z/agree", "un").json()
    unknown = world.post("/v1/zones/y/agree", "un").json()
    assert hidden["error"]["code"] == unknown["error"]["code"] == "not_found"
    assert hidden["error"]["message"].replace("'z'", "'y'") == unknown["error"]["message"]


def test_agreeing_twice_is_refused(world):
    propose(world)
    assert world.post("/v1/zones/z/agree", "russia").status_code == 200
    size = world.size()
    assert "already agreed" in dumps(assert_error(world.post("/v1/zones/z/agree", "russia"), 409))
    assert "already agreed" in dumps(assert_error(world.post("/v1/zones/z/decline", "russia", {"reason": "x"}), 409))
    assert world.size() == size


def test_need_to_know_of_the_agreement(world):
    """A party neither named nor told learns nothing of the zone, its agreement or its decline."""
    propose(world)
    propose(world, {**ZONE, "id": "y"})
    world.clock.set(1)
    assert world.post("/v1/zones/z/agree", "russia").status_code == 200
    assert world.post("/v1/zones/y/decline", "russia", {"reason": "never"}).status_code == 200
    for party in ("un", "militia"):
        assert world.get("/v1/zones", party) == []
        text = dumps(world.events(party))
        assert '"z"' not in text and '"y"' not in text and "never" not in text
    assert types([e for e in world.events("russia") if e["type"].startswith("zone.")]) == [
        "zone.declared", "zone.declared", "zone.agreed", "zone.declined"]


def test_the_agreement_survives_a_restart_on_each_store(make_world, store_url):
    world = make_world(store_url)
    propose(world)
    propose(world, {**ZONE, "id": "y"})
    world.clock.set(1)
    assert world.post("/v1/zones/z/agree", "russia").status_code == 200
    assert world.post("/v1/zones/y/decline", "russia", {"reason": "never"}).status_code == 200
    world.report("militia", "u1", OUTSIDE, 2)
    world.report("militia", "u1", INSIDE, 3)
    before = {p: (world.events(p), world.get("/v1/zones", p)) for p in world.tokens}
    again = world.reopen()
    try:
        assert {p: (again.events(p), again.get("/v1/zones", p)) for p in again.tokens} == before
        assert again.post("/v1/zones/z/agree", "russia").status_code == 409
    finally:
        again.close()


def test_a_party_that_agrees_after_a_conflict_is_bound_by_it_and_only_the_conflicts_parties_see_it(world):
    propose(world)
    plan = {"id": "m-op", "volumes": [{"geometry": ZONE["geometry"], "radius_m": 1000,
                                       "window": {"start": at(60), "end": at(120)}}]}
    [conflict] = world.post("/v1/operations", "militia", plan).json()["conflicts"]
    assert conflict["parties"] == ["militia", "coalition"]
    world.clock.set(1)
    r = world.post("/v1/zones/z/agree", "russia")
    assert [e["type"] for e in r.json()["events"]] == ["zone.agreed", "plan.conflict_bound"]
    for party in ("militia", "coalition", "russia"):
        [bound] = [e for e in world.events(party) if e["type"] == "plan.conflict_bound"]
        assert (bound["operation"], bound["party"], bound["parties"]) == ("m-op", "russia", ["militia", "coalition", "russia"])
    assert "m-op" not in dumps(world.events("un"))
    assert "plan.conflict_bound" not in types(world.events("ocha"))  # the coordinator reads the warnings only
