"""The live service applies exactly what it logs: whatever the clock, the text or the ids, a restart
rebuilds the same state and every party sees the same events as before."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.server.world import INSIDE, OUTSIDE, T0, TANF, World, assert_error


def reopened_views_equal(world: World) -> World:
    before = world.all_views()
    again = world.reopen()
    assert again.all_views() == before
    return again


def test_units_converging_on_a_clock_with_microseconds_replay_to_the_same_events(make_world):
    world = make_world()
    for step in range(12):
        world.clock.now = T0 + timedelta(seconds=step * 10, microseconds=123457 + step * 7919)
        t = (world.clock.now - timedelta(microseconds=333)).isoformat().replace("+00:00", "Z")
        east = [{"t": t, "id": f"c{i}", "lon": 38.0 + step * 0.0272, "lat": 33.5 + i * 0.001,
                 "speed_mps": 250, "course_deg": 90} for i in range(3)]
        west = [{"t": t, "id": f"r{i}", "lon": 38.18 + 0.0 - step * 0.0001, "lat": 33.5 + i * 0.001,
                 "speed_mps": 250, "course_deg": 270} for i in range(3)]
        assert world.post("/v1/positions", "coalition", east).status_code == 202
        assert world.post("/v1/positions", "militia", west).status_code == 202
    predicted = [e for e in world.events("coalition") if e["type"] == "proximity.predicted"]
    assert predicted, "the units converge: a closest approach is predicted"
    reopened_views_equal(world).close()


LONE = "x\ud800"


def _raw(body) -> bytes:
    """JSON text as a client may send it: a lone surrogate escaped (``\\ud800``), which is valid JSON."""
    return json.dumps(body).encode()


def _zone(**extra) -> dict:
    return {**TANF, **extra}


SURROGATE_CASES = {
    "zone id": ("/v1/zones", "coalition", _zone(id=LONE), "id"),
    "zone name": ("/v1/zones", "coalition", _zone(name=LONE), "name"),
    "message text": ("/v1/messages", "coalition", {"to": "russia", "kind": "info", "text": LONE}, "text"),
    "message id": ("/v1/messages", "coalition", {"id": LONE, "to": "russia", "kind": "info"}, "id"),
    "incident text": ("/v1/incidents", "un", {"id": "i1", "kind": "strike", "text": LONE,
                                              "geometry": {"type": "Point", "coordinates": [38.63, 33.51]}}, "text"),
    "operation id": ("/v1/operations", "coalition", {"id": LONE, "volumes": [
        {"geometry": {"type": "Point", "coordinates": [38.63, 33.51]}, "radius_m": 100}]}, "id"),
    "track id": ("/v1/positions", "militia", [{"t": "2017-06-06T05:00:00Z", "id": "u\udc00", "lon": 38, "lat": 33}],
                 "[0].id"),
    "a field name": ("/v1/messages", "coalition", {"to": "russia", "kind": "info", LONE: 1}, None),
}


@pytest.mark.parametrize("case", SURROGATE_CASES)
def test_a_lone_surrogate_is_a_422_naming_the_field_and_nothing_is_written(world, case):
    path, party, body, field = SURROGATE_CASES[case]
    size = world.size()
    r = world.post(path, party, content=_raw(body), content_type="application/json")
    error = assert_error(r, 422)
    if field is not None:
        assert field in [d["path"] for d in error["details"]], error
    assert "surrogate" in error["message"]
    assert world.size() == size
    world.get("/v1/units", party)
    reopened_views_equal(world).close()


def test_a_disown_reason_with_a_lone_surrogate_is_refused_before_anything_is_applied(world):
    world.declare_tanf()
    world.militia_enters_tanf()
    warning = next(e for e in world.events("militia") if e["type"] == "message.delivered")["message"]
    size = world.size()
    r = world.post(f"/v1/messages/{warning}/disown", "militia", content=_raw({"reason": LONE}),
                   content_type="application/json")
    error = assert_error(r, 422)
    assert [d["path"] for d in error["details"]] == ["reason"]
    assert world.size() == size
    assert "message.disowned" not in [e["type"] for e in world.events("coalition")]
    reopened_views_equal(world).close()


def _nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


NESTED_CASES = {
    "zones": ("/v1/zones", "coalition", _zone(geometry={"type": "Point", "coordinates": _nested(500)})),
    "operations": ("/v1/operations", "coalition", {"id": "op", "volumes": _nested(500)}),
    "messages": ("/v1/messages", "coalition", {"to": "russia", "kind": "info", "text": _nested(500)}),
    "incidents": ("/v1/incidents", "un", {"id": "i1", "kind": "strike", "geometry": _nested(500)}),
    "channels": ("/v1/channels", "russia", {"between": _nested(500), "state": "suspended"}),
    "disown": ("/v1/messages/m1/disown", "russia", {"reason": _nested(500)}),
}


@pytest.mark.parametrize("case", NESTED_CASES)
def test_a_value_nested_500_deep_is_a_4xx_and_nothing_is_written(world, case):
    path, party, body = NESTED_CASES[case]
    size = world.size()
    r = world.post(path, party, content=json.dumps(body).encode(), content_type="application/json")
    assert 400 <= r.status_code < 500, r.text
    assert_error(r, r.status_code)
    assert world.size() == size


@pytest.mark.parametrize("message_id", [["a"], {"a": 1}, 7, True, ""])
def test_a_message_id_that_is_not_a_text_is_a_422_naming_the_id(world, message_id):
    size = world.size()
    r = world.post("/v1/messages", "coalition", {"id": message_id, "to": "russia", "kind": "info"})
    error = assert_error(r, 422)
    assert "id" in [d["path"] for d in error["details"]], error
    assert world.size() == size


def test_warning_ids_are_distinct_whatever_zone_and_track_ids_contain(world):
    for zone_id in ("Z", "Z/x", "Z~1x"):
        assert world.post("/v1/zones", "coalition", _zone(id=zone_id)).status_code == 201
    for track in ("x/1", "1", "x~1"):
        world.report("militia", track, OUTSIDE, 1)
        world.report("militia", track, INSIDE, 2)
    entered = [e for e in world.events("militia") if e["type"] == "zone.entered"]
    assert len(entered) == 9
    delivered = {e["message"]: e for e in world.events("militia") if e["type"] == "message.delivered"}
    assert len(delivered) == 9, sorted(delivered)
    sent = {e["message"]: e for e in world.events("militia") if e["type"] == "message.sent"}
    assert len({(e["ref"], e["text"]) for e in sent.values()}) == 9
    warning = next(m for m, e in sent.items() if e["ref"] == "Z/x" and e["text"].startswith("Your unit 1 "))
    assert warning == "Z~1x/1/1"
    r = world.post(f"/v1/messages/{warning}/ack", "militia")
    assert r.status_code == 200, r.text
    assert [e["type"] for e in r.json()["events"]] == ["message.acknowledged"], (warning, r.json())
    reopened_views_equal(world).close()


def test_a_scenario_may_acknowledge_an_automatic_warning_whose_ids_hold_a_slash(tmp_path):
    from deconfliction.engine.core import message_key, message_key_parts
    from deconfliction.formats.scenario import parse_scenario

    assert message_key_parts(message_key("Z/x", "~1", 3)) == ["Z/x", "~1", "3"]
    doc = {"scenario": 1, "start": "2017-06-06T05:00:00Z",
           "parties": [{"id": "a", "channels": ["b"]}, {"id": "b", "channels": ["a"]}],
           "zones": [{**_zone(id="Z/x", parties=["a"], allowed=["a"])}],
           "tracks": [{"t": "2017-06-06T05:01:00Z", "id": "u/1", "party": "b", "lon": 38.63, "lat": 33.51}],
           "messages": [{"t": "2017-06-06T05:02:00Z", "ack": "Z~1x/u~11/1", "by": "b"}]}
    parse_scenario(doc)  # the acknowledged id is known to be an automatic one


def test_the_service_logs_the_commands_a_scenario_replay_builds(world):
    """Each write route logs the command app.commands builds for the same item, as the replay of a
    scenario does, so a log and a replay of the same items hold the same bytes."""
    from deconfliction.app.commands import (ack_command, agree_command, channel_command, decline_command,
                                            disown_command, encode, incident_command, message_command,
                                            operation_command, zone_command)
    op = {"id": "m-op", "volumes": [{"geometry": {"type": "Point", "coordinates": TANF["geometry"]["coordinates"]},
                                     "radius_m": 2000}]}
    incident = {"id": "i-1", "kind": "shelling", "text": "reported",
                "geometry": {"type": "Point", "coordinates": TANF["geometry"]["coordinates"]}}
    steps = [
        ("/v1/zones", "coalition", TANF, zone_command("coalition", {**TANF, "proposer": "coalition"})),
        ("/v1/zones/tanf/agree", "russia", None, agree_command("tanf", "russia")),
        ("/v1/operations", "militia", op, operation_command("militia", {**op, "party": "militia"})),
        ("/v1/messages", "coalition", {"id": "m-1", "to": "militia", "kind": "request", "text": "t", "ref": "tanf"},
         message_command("m-1", "coalition", "militia", "request", "t", "tanf")),
        ("/v1/messages", "un", {"to": "ocha", "kind": "notice"}, message_command("m3", "un", "ocha", "notice", "", None)),
        ("/v1/messages/m-1/ack", "militia", None, ack_command("m-1", "militia")),
        ("/v1/messages/m-1/disown", "russia", {"reason": "not ours"}, disown_command("m-1", "russia", "not ours")),
        ("/v1/channels", "russia", {"between": ["russia", "militia"], "state": "suspended"},
         channel_command(["russia", "militia"], False)),
        ("/v1/channels", "militia", {"between": ["russia", "militia"], "state": "active", "t": T0.isoformat()},
         channel_command(["russia", "militia"], True)),
        ("/v1/incidents", "un", incident, incident_command({**incident, "reporter": "un"})),
        ("/v1/incidents", "coalition", {**incident, "id": "i-2", "t": T0.isoformat()},
         incident_command({**incident, "id": "i-2", "reporter": "coalition"})),
        ("/v1/zones", "coalition", {**TANF, "id": "tanf-2"},
         zone_command("coalition", {**TANF, "id": "tanf-2", "proposer": "coalition"})),
        ("/v1/zones/tanf-2/decline", "russia", {"reason": "too wide"}, decline_command("tanf-2", "russia", "too wide")),
    ]
    for path, party, body, command in steps:
        size = world.size()
        r = world.post(path, party, body)
        assert r.status_code in (200, 201), r.text
        logged = [e for e in world.service.store.entries(after=size) if e.kind == "command"]
        assert [e.body_json() for e in logged] == [encode(command)], path


def test_the_answer_to_a_write_shows_only_the_events_its_sender_may_see(world):
    world.declare_tanf()
    world.militia_enters_tanf()  # a warning to militia, relayed by russia; due at minute 17
    world.clock.set(2 + 15.5)  # the clock has not ticked: the deadline fires with the next command
    r = world.post("/v1/messages", "un", {"to": "ocha", "kind": "info", "text": "convoy ready"})
    assert r.status_code == 201, r.text
    assert all(e.get("message") == r.json()["message"] for e in r.json()["events"]), r.json()
    assert "message.escalated" not in [e["type"] for e in r.json()["events"]]
    assert "message.escalated" in [e["type"] for e in world.events("militia")]
