"""Amending and withdrawing over HTTP: owner only, If-Match, conflicts that end, need-to-know, restart."""
import pytest

from tests.server.world import INSIDE, OUTSIDE, TANF, TANF_CENTRE, assert_error, at, dumps

PLAN = {"id": "convoy", "volumes": [{"geometry": {"type": "Point", "coordinates": TANF_CENTRE}, "radius_m": 3000,
                                     "window": {"start": at(60), "end": at(120)}}]}
FAR = {**PLAN, "volumes": [{**PLAN["volumes"][0], "geometry": {"type": "Point", "coordinates": [30.0, 20.0]}}]}


def setup(world):
    world.declare_tanf()
    r = world.post("/v1/operations", "militia", PLAN)
    assert r.status_code == 201 and r.json()["conflicts"], r.text
    world.clock.set(1)


def put(world, path, party, body, version=None):
    headers = world.h(party, **({"If-Match": str(version)} if version is not None else {}))
    return world.client.put(path, json=body, headers=headers)


def delete(world, path, party, reason=None):
    return world.client.delete(path, params={"reason": reason} if reason is not None else {}, headers=world.h(party))


def test_a_cancelled_convoy_no_longer_conflicts_and_those_told_are_told(world):
    setup(world)
    r = delete(world, "/v1/operations/convoy", "militia", "the road is closed")
    assert r.status_code == 200, r.text
    assert [e["type"] for e in r.json()["events"]] == ["operation.cancelled", "plan.conflict_ended", "message.resolved"]
    [op] = world.get("/v1/operations", "militia")
    assert (op["state"], op["cancelled"]["reason"]) == ("cancelled", "the road is closed")
    coalition = [e["type"] for e in world.events("coalition")]
    assert "operation.cancelled" in coalition and "plan.conflict_ended" in coalition
    assert "convoy" not in dumps(world.events("un"))


def test_an_amendment_needs_the_current_version_and_checks_again(world):
    setup(world)
    size = world.size()
    assert_error(put(world, "/v1/operations/convoy", "militia", FAR), 428)
    error = assert_error(put(world, "/v1/operations/convoy", "militia", FAR, version=2), 409)
    assert error["details"] == [{"path": "If-Match", "reason": "the current version is 1"}]
    assert world.size() == size
    r = put(world, "/v1/operations/convoy", "militia", FAR, version=1)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    assert [e["type"] for e in r.json()["events"]][:2] == ["operation.amended", "plan.conflict_ended"]
    assert world.get("/v1/operations", "militia")[0]["version"] == 2
    assert_error(put(world, "/v1/operations/convoy", "militia", PLAN, version=1), 409)


@pytest.mark.parametrize("call, status", [
    (lambda w: put(w, "/v1/operations/convoy", "coalition", FAR, version=1), 403),  # told of it, not its own
    (lambda w: put(w, "/v1/operations/convoy", "un", FAR, version=1), 404),  # never told: as for an unknown id
    (lambda w: put(w, "/v1/operations/nothing", "militia", FAR, version=1), 404),
    (lambda w: put(w, "/v1/operations/convoy", "militia", {**FAR, "id": "other"}, version=1), 422),
    (lambda w: put(w, "/v1/operations/convoy", "militia", {**FAR, "party": "coalition"}, version=1), 403),
    (lambda w: put(w, "/v1/operations/convoy", "militia", FAR, version="x"), 400),
    (lambda w: delete(w, "/v1/operations/convoy", "militia"), 422),
    (lambda w: delete(w, "/v1/operations/convoy", "militia", " "), 422),
    (lambda w: delete(w, "/v1/operations/convoy", "coalition", "mine"), 403),
    (lambda w: delete(w, "/v1/zones/tanf", "russia", "ours too"), 403),  # agreed it, did not propose it
    (lambda w: delete(w, "/v1/zones/tanf", "un", "x"), 404),
    (lambda w: put(w, "/v1/zones/tanf", "coalition", TANF), 428),
    (lambda w: put(w, "/v1/zones/tanf", "coalition", TANF, version=5), 409),
])
def test_bad_changes_are_refused_naming_the_reason_and_write_nothing(world, call, status):
    setup(world)
    size = world.size()
    error = assert_error(call(world), status)
    assert error["details"], error
    assert world.size() == size


def test_withdrawing_twice_is_refused(world):
    setup(world)
    assert delete(world, "/v1/zones/tanf", "coalition", "no longer needed").status_code == 200
    size = world.size()
    assert "already withdrawn" in dumps(assert_error(delete(world, "/v1/zones/tanf", "coalition", "again"), 409))
    assert world.size() == size


def test_a_withdrawn_zone_is_told_to_those_told_of_it_only_and_survives_a_restart(world):
    world.declare_tanf()
    world.militia_enters_tanf(start=1)
    world.clock.set(3)
    r = delete(world, "/v1/zones/tanf", "coalition", "the base is closed")
    assert r.status_code == 200, r.text
    for party in ("coalition", "russia", "militia", "ocha"):
        assert [e for e in world.events(party) if e["type"] == "zone.withdrawn"], party
    assert "tanf" not in dumps(world.events("un"))
    [zone] = world.get("/v1/zones", "coalition")
    assert zone["withdrawn"]["reason"] == "the base is closed"
    before = {p: (world.events(p), world.get("/v1/zones", p), world.get("/v1/units", p)) for p in world.tokens}
    again = world.reopen()
    try:
        assert {p: (again.events(p), again.get("/v1/zones", p), again.get("/v1/units", p)) for p in again.tokens} == before
    finally:
        again.close()


def test_an_amended_zone_naming_a_new_party_asks_it_to_agree(world):
    world.declare_tanf()
    world.clock.set(1)
    r = put(world, "/v1/zones/tanf", "coalition", {**TANF, "parties": ["coalition", "russia", "un"]}, version=1)
    assert r.status_code == 200, r.text
    [zone] = world.get("/v1/zones", "un")
    assert (zone["status"], zone["pending"], zone["version"]) == ("partly_agreed", ["un"], 2)
    assert world.post("/v1/zones/tanf/agree", "un").status_code == 200


def test_changes_survive_a_restart_on_each_store(make_world, store_url):
    world = make_world(store_url)
    setup(world)
    assert put(world, "/v1/operations/convoy", "militia", FAR, version=1).status_code == 200
    assert delete(world, "/v1/operations/convoy", "militia", "done").status_code == 200
    before = {p: (world.events(p), world.get("/v1/operations", p)) for p in world.tokens}
    again = world.reopen()
    try:
        assert {p: (again.events(p), again.get("/v1/operations", p)) for p in again.tokens} == before
    finally:
        again.close()
