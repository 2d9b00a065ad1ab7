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


def test_a_conflict_amended_away_and_back_warns_again_and_the_new_warning_can_be_acknowledged(world):
    setup(world)
    assert world.post("/v1/messages/convoy/tanf/ack", "militia").status_code == 200
    assert put(world, "/v1/operations/convoy", "militia", FAR, version=1).status_code == 200
    back = put(world, "/v1/operations/convoy", "militia", PLAN, version=2)
    assert back.status_code == 200, back.text
    types = [e["type"] for e in back.json()["events"]]
    assert types[:2] == ["operation.amended", "plan.conflict"]
    sent = [e for e in world.events("militia") if e["type"] == "message.sent"]
    assert [e["message"] for e in sent] == ["convoy/tanf", "convoy/tanf/2"]
    r = world.post("/v1/messages/convoy/tanf/2/ack", "militia")
    assert r.status_code == 200, r.text
    assert "message.acknowledged" in [e["type"] for e in r.json()["events"]]


def delete_with_body(world, path, party, body, reason=None):
    content = body if isinstance(body, bytes) else dumps(body).encode()
    return world.client.request("DELETE", path, content=content, params={"reason": reason} if reason else {},
                                headers=world.h(party, **{"Content-Type": "application/json"}))


@pytest.mark.parametrize("path, party", [("/v1/operations/convoy", "militia"), ("/v1/zones/tanf", "coalition")])
def test_the_reason_may_be_the_body_and_the_same_in_the_query(world, path, party):
    setup(world)
    r = delete_with_body(world, path, party, {"reason": "the road is closed"}, reason="the road is closed")
    assert r.status_code == 200, r.text
    assert r.json()["events"][0]["reason"] == "the road is closed"


@pytest.mark.parametrize("body, query, status", [
    ({"reason": "closed"}, "open", 422),  # two different reasons: which is on the record?
    ({"reason": " "}, None, 422),
    ({"reason": "closed", "version": 1}, None, 422),  # the reason, and only the reason
    ({"why": "closed"}, None, 422),
    (["closed"], None, 422),
    (b"closed", None, 400),
])
def test_a_reason_given_twice_differently_or_badly_is_refused_naming_it_and_nothing_is_written(world, body, query,
                                                                                               status):
    setup(world)
    size = world.size()
    error = assert_error(delete_with_body(world, "/v1/operations/convoy", "militia", body, reason=query), status)
    if status == 422:
        assert [d["path"] for d in error["details"]] == ["" if isinstance(body, list) else "reason"], error
    assert world.size() == size
    assert world.get("/v1/operations", "militia")[0]["state"] == "planned"


def test_a_retry_with_the_same_key_and_another_if_match_is_not_taken_for_the_first(world):
    """An Idempotency-Key retried with the body and target of the first request but another
    If-Match asks something else (to amend another version): 422 like a key reused for another
    body, not the first answer passed off as its own."""
    setup(world)
    headers = world.h("militia", **{"Idempotency-Key": "amend-1", "If-Match": "1"})
    first = world.client.put("/v1/operations/convoy", json=FAR, headers=headers)
    assert first.status_code == 200, first.text
    size = world.size()
    again = world.client.put("/v1/operations/convoy", json=FAR, headers=headers)
    assert (again.status_code, again.json()) == (200, first.json())  # a true retry: its first answer
    other = world.client.put("/v1/operations/convoy", json=FAR, headers={**headers, "If-Match": "2"})
    assert_error(other, 422, "idempotency_key_reused")
    unmatched = {k: v for k, v in headers.items() if k != "If-Match"}
    assert_error(world.client.put("/v1/operations/convoy", json=FAR, headers=unmatched), 422, "idempotency_key_reused")
    assert world.size() == size


def test_a_retry_with_the_same_key_read_as_ndjson_instead_of_json_is_not_taken_for_the_first(world):
    body = b'[{"t": "2017-06-06T05:01:00Z", "id": "u1", "lon": 39.8, "lat": 33.51}]'
    first = world.post("/v1/positions", "militia", content=body, content_type="application/json", key="p-1")
    assert first.status_code == 202, first.text
    other = world.post("/v1/positions", "militia", content=body, content_type="application/x-ndjson", key="p-1")
    assert_error(other, 422, "idempotency_key_reused")
