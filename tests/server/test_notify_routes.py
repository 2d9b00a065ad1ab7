"""Notification over HTTP: ``notify`` on zones and operations; the notified party sees the item
(and only it), acknowledges it, and nobody else learns of it; everything survives a restart."""
import pytest

from tests.server.world import at, assert_error, of_message, types

PLACE = [37.0, 34.5]
AID = {"id": "aid", "name": "Aid depot", "kind": "protected_site", "parties": ["coalition"],
       "geometry": {"type": "Point", "coordinates": PLACE}, "radius_m": 2000, "notify": ["militia"],
       "altitude": {"lower_m": 0, "upper_m": 300}, "window": {"start": at(0), "end": at(600)}}
HIDDEN = {"id": "hidden", "parties": ["coalition"], "geometry": {"type": "Point", "coordinates": [36.0, 34.0]},
          "radius_m": 1000}


def _plan(op_id: str, notify=None, place=(36.5, 34.8)) -> dict:
    spec = {"id": op_id, "name": f"plan {op_id}", "priority": 3, "volumes": [
        {"geometry": {"type": "Point", "coordinates": list(place)}, "radius_m": 3000,
         "altitude": {"lower_m": 0, "upper_m": 100}, "window": {"start": at(60), "end": at(120)}}]}
    return spec | ({"notify": notify} if notify is not None else {})


@pytest.fixture
def notified(world):
    """The coalition notifies the militia (over Russia: no direct line) of zone aid and plan c-told;
    zone hidden and plan c-secret are not notified to anyone."""
    assert world.post("/v1/zones", "coalition", AID).status_code == 201
    assert world.post("/v1/zones", "coalition", HIDDEN).status_code == 201
    assert world.post("/v1/operations", "coalition", _plan("c-told", ["militia"])).status_code == 201
    assert world.post("/v1/operations", "coalition", _plan("c-secret", place=(35.5, 34.2))).status_code == 201
    return world


def _views(world) -> dict:
    return {p: (world.get("/v1/zones", p), world.get("/v1/operations", p), world.events(p)) for p in world.tokens}


def test_the_notified_party_sees_exactly_the_notified_items(notified):
    zones, ops, events = _views(notified)["militia"]
    assert [z["id"] for z in zones] == ["aid"]
    assert [o["id"] for o in ops] == ["c-told"]
    sent = {e["message"]: e for e in events if e["type"] == "message.sent"}
    assert set(sent) == {"notify/aid/militia/1", "notify/c-told/militia/1"}
    assert all(e["kind"] == "notification" and e["from"] == "coalition" for e in sent.values())
    # what the list shows is what the notification told, and no more
    told_op = sent["notify/c-told/militia/1"]["notified"]
    assert ops[0]["volumes"] == told_op["volumes"] and ops[0]["party"] == "coalition"
    assert "priority" not in ops[0] and ops[0]["notified"] is True
    told_zone = sent["notify/aid/militia/1"]["notified"]
    # besides what the notification told: the zone's standing (version, agreement), which whoever
    # sees a zone sees (zone.agreed and zone.declined follow the zone's visibility)
    standing = {"version", "proposer", "status", "agreed", "declined", "pending", "withdrawn"}
    assert {k: v for k, v in zones[0].items() if k not in standing | {"id"}} == {
        k: told_zone[k] for k in ("name", "kind", "parties", "allowed", "geometry", "perimeter_m")}
    assert told_zone["altitude"] == {"lower_m": 0, "upper_m": 300}
    assert told_zone["window"] == AID["window"]
    declared = {e.get("zone") or e.get("operation") for e in events if e["type"].endswith(".declared")}
    assert declared == {"aid", "c-told"}
    relayed = [e for e in events if e["type"] == "message.delivered"]
    assert {tuple(e["route"]) for e in relayed} == {("coalition", "russia", "militia")}


def test_a_party_not_notified_sees_neither_the_item_nor_the_notification(notified):
    views = _views(notified)
    assert views["un"] == ([], [], [])
    for party in ("un", "russia", "militia"):
        zones, ops, events = views[party]
        assert "hidden" not in {z["id"] for z in zones} and "c-secret" not in {o["id"] for o in ops}
        assert not [e for e in events if "c-secret" in (e.get("operation"), e.get("ref"))]
        assert not [e for e in events if "hidden" in (e.get("zone"), e.get("ref"))]
    # the party that relays the notification carries it, and so is told (as for warnings)
    assert [z["id"] for z in views["russia"][0]] == ["aid"]


def test_only_the_notified_party_acknowledges_and_unanswered_notifications_escalate(notified):
    mid = "notify/c-told/militia/1"
    for party, reason in (("coalition", "only the addressee"), ("un", "no such message")):
        r = notified.post(f"/v1/messages/{mid}/ack", party)
        assert r.status_code == 200, r.text
        assert [e["reason"] for e in r.json()["events"] if e["type"] == "message.ack_rejected"][0].startswith(reason)
    notified.clock.set(16)  # past the 15-minute deadline
    notified.service.tick()
    r = notified.post(f"/v1/messages/{mid}/ack", "militia")
    assert r.status_code == 200
    escalated = [e for e in notified.events("militia") if e["type"] == "message.escalated" and e["message"] == mid]
    assert [e["level"] for e in escalated] == ["warning"] and escalated[0]["kind"] == "notification"
    acked = of_message(notified.events("coalition"), mid)
    assert "message.acknowledged" in types(acked)
    assert [e for e in acked if e["type"] == "message.acknowledged"][0]["by"] == "militia"


def test_notification_views_survive_a_restart(notified):
    before = _views(notified)
    again = notified.reopen()
    try:
        assert _views(again) == before
    finally:
        again.close()


@pytest.mark.parametrize("body, path, status", [
    (AID | {"id": "z2", "notify": ["nobody"]}, "notify[0]", 422),
    (AID | {"id": "z3", "notify": ["coalition"]}, "notify[0]", 422),
    (AID | {"id": "z4", "notify": ["militia", "militia"]}, "notify[1]", 422),
    (AID | {"id": "z5", "notify": "militia"}, "notify", 422),
])
def test_bad_notify_lists_are_refused_naming_the_field(world, body, path, status):
    size = world.size()
    error = assert_error(world.post("/v1/zones", "coalition", body), status)
    assert path in [d["path"] for d in error["details"]], error
    assert world.size() == size


def test_a_party_cannot_notify_in_anothers_name(world):
    size = world.size()
    r = world.post("/v1/operations", "militia", _plan("m-fake", ["russia"]) | {"party": "coalition"})
    assert_error(r, 403)
    r = world.post("/v1/zones", "militia", AID | {"id": "m-fake-zone"})  # a zone of the coalition's only
    assert_error(r, 403)
    r = world.post("/v1/operations", "coalition", _plan("c-self", ["coalition"]))
    assert [d["path"] for d in assert_error(r, 422)["details"]] == ["notify[0]"]
    assert world.size() == size
    # a zone the militia declares with the coalition notifies in the militia's name
    r = world.post("/v1/zones", "militia", AID | {"id": "joint", "parties": ["coalition", "militia"],
                                                  "notify": ["russia"]})
    assert r.status_code == 201, r.text
    [sent] = [e for e in world.events("russia") if e["type"] == "message.sent"]
    assert sent["from"] == "militia" and sent["message"] == "notify/joint/russia/1"


def test_the_notified_party_sees_the_operations_version_and_state_as_its_events_told_it(notified):
    def listed():
        return {o["id"]: o for o in notified.get("/v1/operations", "militia")}["c-told"]

    def told(kind):
        return [e for e in notified.events("militia") if e["type"] == kind and e["operation"] == "c-told"]

    assert (listed()["version"], listed()["state"]) == (1, "planned")
    notified.clock.set(61)  # the window (60 to 120) opens on the service's clock
    notified.service.tick()
    assert (listed()["state"], told("operation.activated")[0]["version"]) == ("active", 1)
    amended = _plan("c-told", ["militia"])
    amended["volumes"][0]["radius_m"] = 2000
    r = notified.client.put("/v1/operations/c-told", json=amended, headers=notified.h("coalition", **{"If-Match": "1"}))
    assert r.status_code == 200, r.text
    assert (listed()["version"], told("operation.amended")[0]["version"]) == (2, 2)
    r = notified.client.delete("/v1/operations/c-told", params={"reason": "called off"}, headers=notified.h("coalition"))
    assert r.status_code == 200, r.text
    cancelled = told("operation.cancelled")[0]
    assert listed()["state"] == "cancelled"
    assert listed()["cancelled"] == {"at": cancelled["t"], "by": "coalition", "reason": "called off"}
    # the plan it was not notified of stays unlisted, and the notifier's priority untold
    assert "priority" not in listed()
    assert "c-secret" not in {o["id"] for o in notified.get("/v1/operations", "militia")}
