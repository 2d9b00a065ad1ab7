"""Need-to-know: what each party sees over every read route, and what it must not learn."""
import json

import pytest

from deconfliction.server.access import Access, Viewer

from tests.server.world import INSIDE, OUTSIDE, TANF_CENTRE, at, dumps, types

WINDOW = {"start": at(60), "end": at(120)}
PLAN_PLACE = [37.0, 34.5]
"""Far from At Tanf: the two plans meet each other there, and no zone."""


def _plan(op_id: str) -> dict:
    return {"id": op_id, "volumes": [{"geometry": {"type": "Point", "coordinates": PLAN_PLACE}, "radius_m": 3000,
                                      "window": WINDOW}]}


@pytest.fixture
def tanf(world):
    """The coalition's zone; a militia unit enters it and is warned via Russia; the coalition writes
    to the militia; the coalition's and the militia's plans meet; Russia reports an incident in the
    zone; the UN writes to OCHA (the coordinator) over no line at all."""
    world.declare_tanf()
    world.militia_enters_tanf(start=1)
    world.clock.set(3)
    assert world.post("/v1/messages", "coalition", {"id": "m-c", "to": "militia", "kind": "warning",
                                                     "text": "Leave the zone"}).status_code == 201
    world.clock.set(4)
    assert world.post("/v1/operations", "coalition", _plan("c-op")).status_code == 201
    assert world.post("/v1/operations", "militia", _plan("m-op")).json()["conflicts"]
    told = {"id": "c-told", "notify": ["militia"], "volumes": [
        {"geometry": {"type": "Point", "coordinates": [35.0, 35.5]}, "radius_m": 1000, "window": WINDOW}]}
    assert world.post("/v1/operations", "coalition", told).status_code == 201
    world.clock.set(5)
    assert world.post("/v1/incidents", "russia", {"id": "i-1", "kind": "strike", "geometry": {
        "type": "Point", "coordinates": TANF_CENTRE}}).status_code == 201
    world.clock.set(6)
    assert world.post("/v1/messages", "un", {"id": "m-un", "to": "ocha", "kind": "info",
                                              "text": "Convoy tomorrow"}).status_code == 201
    # leaflets over the zone: the militia's u1 is inside, so the militia is reached (via Russia)
    assert world.post("/v1/messages", "coalition", {"id": "b-1", "kind": "warning", "text": "Keep out", "to_area": {
        "geometry": {"type": "Point", "coordinates": TANF_CENTRE}, "radius_m": 5000}}).status_code == 201
    world.clock.set(7)  # the UN checks a draft over both plans (hidden from it) and over tanf
    assert world.post("/v1/operations?dry_run=true", "un", {**_plan("u-draft"), "volumes": [
        {"geometry": {"type": "Polygon", "coordinates": [[[36, 33], [39.5, 33], [39.5, 35], [36, 35], [36, 33]]]},
         "window": WINDOW}]}).json()["hidden_conflicts"] == 3
    world.clock.set(121)  # the plans' windows (60 to 120) open and close on the service's clock
    assert world.service.tick()
    return world


def _message(*ids):
    return lambda e: e["type"].startswith("message.") and e.get("message") in ids


ITEMS = {
    "tanf declared": lambda e: e["type"] == "zone.declared" and e["zone"] == "tanf",
    "u1 in tanf": lambda e: e["type"].startswith("zone.") and e.get("track") == "u1",
    "warning about u1": lambda e: e["type"].startswith("message.") and str(e.get("message")).startswith("tanf/u1/"),
    "coalition's message": _message("m-c"),
    "c-op declared": lambda e: e["type"] == "operation.declared" and e["operation"] == "c-op",
    "m-op declared": lambda e: e["type"] == "operation.declared" and e["operation"] == "m-op",
    "plan conflict": lambda e: e["type"] == "plan.conflict",
    "warnings about the plans": _message("c-op/m-op", "m-op/c-op"),
    "incident": lambda e: e["type"] == "incident.reported",
    "un's message": _message("m-un"),
    "c-told declared": lambda e: e["type"] == "operation.declared" and e["operation"] == "c-told",
    "notification of c-told": _message("notify/c-told/militia/1"),
    "leaflets b-1": lambda e: e["type"].startswith("broadcast.") and e["broadcast"] == "b-1",
    "tanf agreed": lambda e: e["type"] == "zone.agreed" and e["zone"] == "tanf",
    "un's draft checked": lambda e: e["type"] == "draft.checked",
    "told of un's draft": lambda e: e["type"] == "draft.conflict",
    "c-op active, ended": lambda e: e["type"] in ("operation.activated", "operation.ended") and e["operation"] == "c-op",
    "c-told active, ended": lambda e: e["type"] in ("operation.activated", "operation.ended")
    and e["operation"] == "c-told",
}
Y, N, ANY = True, False, None
SEES = {
    # c-told: the coalition's plan notified to the militia (relayed by Russia, which carries it)
    # b-1: the coalition's area broadcast, reaching the militia (Russia relays the copy, as a
    # message, but is not told of the broadcast)
    # c-op active, ended: the parties told of c-op (the militia in conflict with it, Russia which
    # relayed the warning about it); not the UN, whose draft met it, nor the coordinator
    #             tanf u1  warn m-c  c-op m-op conf plans inc  m-un c-told notif b-1 agreed draft told c-op± c-told±
    "coalition": (Y,   Y,  Y,   Y,   Y,   ANY, Y,   Y,    Y,   N,   Y,     Y,    Y,  Y,     N,    Y,   Y,    Y),
    "russia":    (Y,   Y,  Y,   Y,   N,   N,   N,   Y,    Y,   N,   Y,     Y,    N,  Y,     N,    Y,   Y,    Y),
    "militia":   (Y,   Y,  Y,   Y,   ANY, Y,   Y,   Y,    ANY, N,   Y,     Y,    Y,  Y,     N,    Y,   Y,    Y),  # warned about tanf: it sees it
    "un":        (N,   N,  N,   N,   N,   N,   N,   N,    N,   Y,   N,     N,    N,  N,     Y,    N,   N,    N),
    "ocha":      (ANY, ANY, Y,  Y,   ANY, ANY, ANY, Y,    Y,   Y,   ANY,   Y,    Y,  ANY,   N,    N,   N,    N),
}


@pytest.fixture
def views(tanf):
    return tanf.all_views()


@pytest.mark.parametrize("party", SEES)
def test_the_event_view_of_each_party(views, party):
    wrong = []
    for (item, predicate), expected in zip(ITEMS.items(), SEES[party]):
        seen = [e for e in views[party] if predicate(e)]
        if expected is not None and bool(seen) is not expected:
            wrong.append((item, "expected" if expected else "must not see", types(seen)))
    assert wrong == [], party


def test_the_unrelated_party_sees_only_its_own_message(tanf, views):
    assert {e["message"] for e in views["un"] if "message" in e} == {"m-un"}
    assert tanf.get("/v1/zones", "un") == []
    assert tanf.get("/v1/operations", "un") == []
    text = dumps(views["un"])
    for secret in ("tanf", "u1", "c-op", "m-op", "i-1", "militia", "coalition", "russia"):
        assert secret not in text


def test_message_events_are_seen_only_by_sender_addressee_intermediaries_and_coordinators(tanf, views):
    messages = tanf.service.ledger.engine.channel.messages
    for party, events in views.items():
        for e in events:
            if e["type"].startswith("message."):
                m = messages[e["message"]]
                involved = {m.sender, m.to, *m.route}
                assert party in involved or party == "ocha", (party, e)
    # and every one of them sees every event of the messages they are involved in
    for mid, m in messages.items():
        def of(events):
            return [e for e in events if e.get("message") == mid and e["type"].startswith("message.")]
        all_events = of(views["ocha"])
        for party in {m.sender, m.to, *m.route} - {"waiting"}:
            assert of(views[party]) == all_events, (party, mid)


def test_detections_are_seen_by_the_units_party_and_the_zones_parties_only(views):
    for party, events in views.items():
        for e in events:
            if e["type"] in ("zone.entered", "zone.exited", "zone.approaching", "zone.crossed"):
                assert party in ("militia", "coalition", "russia"), (party, e)


def test_the_zone_list_of_each_party(tanf):
    assert [z["id"] for z in tanf.get("/v1/zones", "coalition")] == ["tanf"]
    assert [z["id"] for z in tanf.get("/v1/zones", "russia")] == ["tanf"]
    assert [z["id"] for z in tanf.get("/v1/zones", "militia")] == ["tanf"]  # it has been warned about it
    assert tanf.get("/v1/zones", "un") == []


def test_the_operation_list_of_each_party(tanf):
    coalition = {o["id"] for o in tanf.get("/v1/operations", "coalition")}
    militia = {o["id"] for o in tanf.get("/v1/operations", "militia")}
    assert "c-op" in coalition and coalition <= {"c-op", "m-op", "c-told"}
    assert {"m-op", "c-told"} <= militia <= {"c-op", "m-op", "c-told"}
    # the notified plan is shown as notified (its volumes, no priority); the conflicting one only
    # as far as the conflict needs
    shown = {o["id"]: o for o in tanf.get("/v1/operations", "militia")}
    assert shown["c-told"]["notified"] is True and "priority" not in shown["c-told"]
    assert "volumes" not in shown["c-op"]
    # Russia relayed the notification: it carries what it says, and sees that plan only
    assert [o["id"] for o in tanf.get("/v1/operations", "russia")] == ["c-told"]
    assert tanf.get("/v1/operations", "un") == []


def _stream(world, party: str, last_seq: int) -> list[dict]:
    out = []
    with world.client.stream("GET", "/v1/stream", headers=world.h(party)) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: "):
                out.append(json.loads(line.removeprefix("data: ")))
                if out[-1]["seq"] == last_seq:
                    break
    return out


@pytest.mark.parametrize("party", ["coalition", "russia", "militia", "un", "ocha"])
def test_the_stream_backlog_is_the_same_view_as_the_event_list(tanf, views, party):
    assert views[party], party
    assert _stream(tanf, party, views[party][-1]["seq"]) == views[party]


def test_a_party_sees_a_zone_only_once_warned_about_it(world):
    world.declare_tanf()
    world.report("militia", "u1", OUTSIDE, 1)
    assert world.get("/v1/zones", "militia") == []
    assert world.events("militia") == []
    world.report("militia", "u1", INSIDE, 2)
    assert [z["id"] for z in world.get("/v1/zones", "militia")] == ["tanf"]
    assert "zone.declared" in types(world.events("militia"))
    assert world.get("/v1/zones", "un") == [] and world.events("un") == []


def test_a_party_in_the_allowed_list_sees_the_zone(world):
    r = world.post("/v1/zones", "coalition", {"id": "aid", "parties": ["coalition"], "allowed": ["coalition", "un"],
                                              "geometry": {"type": "Point", "coordinates": [36.3, 33.5]},
                                              "radius_m": 500})
    assert r.status_code == 201
    assert [z["id"] for z in world.get("/v1/zones", "un")] == ["aid"]
    assert world.get("/v1/zones", "militia") == []


def test_a_message_that_references_a_zone_does_not_reveal_it_to_its_sender(world):
    """BUG: access.zone_visible() counts anyone on a message's route as "told about" the zone the
    message references, and the route starts with the sender. So any party with a line can send a
    message with ``ref`` = a zone id it was never shown and then read the whole zone (geometry,
    parties) from GET /v1/zones, and its zone.declared event from /v1/events."""
    world.declare_tanf()
    world.tokens["ngo"] = world.service.add_party("ngo", "NGO", ("russia",))
    world.post("/v1/messages", "ngo", {"to": "russia", "kind": "info", "text": "what is this?", "ref": "tanf"})
    assert world.get("/v1/zones", "ngo") == []
    assert "zone.declared" not in types(world.events("ngo"))


def test_a_message_ref_is_no_oracle_for_the_ids_of_hidden_zones(world):
    """BUG: POST /v1/messages validates ``ref`` against every zone and operation of every party
    (_refs() in server/app.py), so a party learns which ids exist: 201 for a hidden zone's id,
    422 "unknown zone or operation" for an id that does not exist."""
    world.declare_tanf()
    world.tokens["ngo"] = world.service.add_party("ngo", "NGO", ("russia",))
    hidden = world.post("/v1/messages", "ngo", {"to": "russia", "kind": "info", "ref": "tanf"})
    missing = world.post("/v1/messages", "ngo", {"to": "russia", "kind": "info", "ref": "no-such-zone"})
    assert hidden.status_code == missing.status_code


def test_a_message_of_others_answers_as_an_unknown_id_and_reveals_nothing(world):
    """A third party that acknowledges or disowns a message it is not part of is refused in the log
    (the attempt is recorded) with exactly the answer an unknown id gets: an id (``tanf/convoy-1/1``)
    must not tell it what happened, nor the message's header, nor who took part."""
    world.post("/v1/messages", "coalition", {"id": "m-c", "to": "militia", "kind": "warning", "text": "leave"})
    for path, body in (("ack", None), ("disown", {"reason": "not ours"})):
        hidden = world.post(f"/v1/messages/m-c/{path}", "un", body)
        missing = world.post(f"/v1/messages/no-such/{path}", "un", body)
        assert hidden.status_code == missing.status_code == 200
        strip = lambda r: [{k: v for k, v in e.items() if k not in ("seq", "t", "message")}  # noqa: E731
                           for e in r.json()["events"]]
        assert strip(hidden) == strip(missing) == [{"type": "message.ack_rejected", "by": "un",
                                                    "reason": "no such message"}]
    seen = dumps(world.events("un"))
    for secret in ("coalition", "militia", "russia"):
        assert secret not in seen, secret


def test_an_incident_is_seen_by_its_reporter_the_coordinator_and_those_who_declared_what_it_touches(world):
    world.declare_tanf()
    r = world.post("/v1/incidents", "russia", {"id": "i-1", "kind": "strike",
                                               "geometry": {"type": "Point", "coordinates": TANF_CENTRE}})
    assert r.status_code == 201
    [reported] = [e for e in r.json()["events"] if e["type"] == "incident.reported"]
    assert [n["item"] for n in reported["notified"]] == ["tanf"]
    for party, expected in (("russia", True), ("coalition", True), ("ocha", True), ("un", False),
                            ("militia", False)):
        assert ("incident.reported" in types(world.events(party))) is expected, party


def test_an_incident_record_is_whole_only_to_the_declarers_and_the_coordinator(world):
    """The militia, warned about tanf (relayed by Russia), reports an incident in it: it learns who
    agreed the zone and what it was told itself, not what went to anyone else."""
    world.declare_tanf()
    world.militia_enters_tanf()
    world.clock.set(5)
    r = world.post("/v1/incidents", "militia", {"id": "i-1", "kind": "strike",
                                                "geometry": {"type": "Point", "coordinates": TANF_CENTRE}})
    assert r.status_code == 201, r.text

    def record(events):
        [reported] = [e for e in events if e["type"] == "incident.reported"]
        return {n["item"]: n for n in reported["notified"]}

    whole = record(world.events("ocha"))["tanf"]
    assert {t["party"] for t in whole["told"]} == {"coalition", "russia", "militia"}
    assert record(world.events("coalition"))["tanf"] == whole  # it agreed the zone
    for seen in (record(r.json()["events"])["tanf"], record(world.events("militia"))["tanf"]):
        assert seen["partial"] is True and "not_told" not in seen
        assert [t["party"] for t in seen["told"]] == ["militia"]
        assert seen["declared_by"] == whole["declared_by"]
    assert "russia" not in dumps([t for t in record(world.events("militia"))["tanf"]["told"]])


def test_a_coordinator_sees_every_message(world):
    world.post("/v1/messages", "coalition", {"id": "m-1", "to": "militia", "kind": "warning"})
    world.post("/v1/messages", "militia", {"id": "m-2", "to": "russia", "kind": "info"})
    seen = {e["message"] for e in world.events("ocha") if e["type"].startswith("message.")}
    assert seen == {"m-1", "m-2"}
    assert {e["message"] for e in world.events("un") if e["type"].startswith("message.")} == set()



def test_answering_a_zone_is_no_oracle_for_hidden_zones(tanf):
    """Agreeing to or declining a zone the caller cannot see answers as for an id never used, and
    writes nothing; a party that sees the zone but is not named in it is told it is not named."""
    size = tanf.size()
    for route, body in (("agree", None), ("decline", {"reason": "no"})):
        hidden = tanf.post(f"/v1/zones/tanf/{route}", "un", body)
        unknown = tanf.post(f"/v1/zones/tanf-x/{route}", "un", body)
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.json()["error"]["message"].replace("'tanf'", "'tanf-x'") == unknown.json()["error"]["message"]
        assert tanf.post(f"/v1/zones/tanf/{route}", "militia", body).status_code == 403
    assert tanf.size() == size
    assert "tanf" not in dumps(tanf.events("un"))


def test_amendments_withdrawals_and_cancellations_reach_only_those_told(world):
    """The change of a zone or plan is an event for the parties told of it (its own, named, allowed,
    warned, in conflict); the others learn nothing, and probing its id answers as for an unknown one."""
    world.declare_tanf()
    plan = {"id": "m-op", "volumes": [{"geometry": {"type": "Point", "coordinates": TANF_CENTRE}, "radius_m": 3000,
                                       "window": WINDOW}]}
    assert world.post("/v1/operations", "militia", plan).json()["conflicts"]
    world.clock.set(2)
    put = world.client.put("/v1/operations/m-op", json={**plan, "priority": 3}, headers=world.h("militia", **{"If-Match": "1"}))
    assert put.status_code == 200, put.text
    assert world.client.delete("/v1/operations/m-op", params={"reason": "called off"},
                               headers=world.h("militia")).status_code == 200
    assert world.client.delete("/v1/zones/tanf", params={"reason": "closed"}, headers=world.h("coalition")).status_code == 200
    changes = ("operation.amended", "operation.cancelled", "zone.withdrawn", "plan.conflict_ended")
    for party in ("coalition", "militia", "russia"):  # russia agreed tanf: it is in the plan's conflict with it
        assert {e["type"] for e in world.events(party)} >= set(changes), party
    assert [e["type"] for e in world.events("ocha") if e["type"] in changes] == ["zone.withdrawn"]  # coordinator
    assert [e for e in world.events("un") if e["type"] in changes] == []
    assert "m-op" not in dumps(world.events("un")) and "tanf" not in dumps(world.events("un"))
    size = world.size()
    for path in ("/v1/operations/m-op", "/v1/zones/tanf"):
        hidden = world.client.delete(path, params={"reason": "x"}, headers=world.h("un"))
        unknown = world.client.delete(path + "-x", params={"reason": "x"}, headers=world.h("un"))
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.json()["error"]["message"].replace("'", "").replace("-x", "") == \
            unknown.json()["error"]["message"].replace("'", "").replace("-x", "")
    assert world.size() == size


def test_the_owners_told_of_a_draft_learn_which_of_their_items_it_met_and_when(tanf, views):
    told = {(p, e["item"], e["by"]) for p, events in views.items() for e in events if e["type"] == "draft.conflict"}
    assert told == {("coalition", "tanf", "un"), ("russia", "tanf", "un"), ("coalition", "c-op", "un"),
                    ("militia", "m-op", "un")}
    for events in views.values():
        for e in events:
            if e["type"] == "draft.conflict":
                assert e["window"] == WINDOW and "geometry" not in dumps(e)


@pytest.mark.parametrize("route", ["/v1/operations?dry_run=true", "/v1/zones?dry_run=true"])
def test_a_dry_run_names_of_each_partys_conflicts_only_the_items_it_may_see(tanf, route):
    """The same draft from every party: what each answer names is what its views show it."""
    area = {"type": "Polygon", "coordinates": [[[36, 33], [39.5, 33], [39.5, 35], [36, 35], [36, 33]]]}
    for party in SEES:
        if route.startswith("/v1/zones"):
            body = {"id": f"d-{party}", "kind": "deconfliction", "parties": [party], "geometry": area}
        else:
            body = {"id": f"d-{party}", "volumes": [{"geometry": area, "window": WINDOW}]}
        answer = tanf.post(route, party, body).json()
        named = {c["other"] if c["other_kind"] == "operation" and route.endswith("operations?dry_run=true")
                 else (c["other"] if c["other_kind"] == "zone" and c["other"] != body["id"] else c["operation"])
                 for c in answer["conflicts"]}
        # the zones it may see and the operations it declared or was told about (as addressee or relay)
        refs = Access(tanf.service.ledger.engine, Viewer(party, party == "ocha")).references()
        may_see = set(refs.zones) | {op for op, _ in refs.operations}
        assert named <= may_see, (party, named, may_see)
        text = dumps(answer)
        hidden = {"tanf", "c-op", "m-op"} - may_see
        assert not [h for h in hidden if h in text], (party, text)
