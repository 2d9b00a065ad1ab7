"""Area broadcasts over HTTP: ``to_area`` on POST /v1/messages; who is reached, what each party
learns, bad areas, and a restart."""
import pytest

from tests.server.world import INSIDE, OUTSIDE, assert_error, at, types

AREA = {"geometry": {"type": "Point", "coordinates": list(INSIDE)}, "radius_m": 20000}


@pytest.fixture
def leaflets(world):
    """Militia and UN units inside the area, Russia's outside; the coalition drops leaflets over it
    until T0+60 min; Russia's unit enters at T0+10."""
    world.report("militia", "m1", INSIDE, 1)
    world.report("un", "u1", INSIDE, 1)
    world.report("russia", "r1", OUTSIDE, 1)
    world.report("coalition", "c1", INSIDE, 1)
    world.clock.set(2)
    r = world.post("/v1/messages", "coalition", {"id": "leaflets", "to_area": AREA | {"window": {"end": at(60)}},
                                                  "kind": "warning", "text": "Keep out"})
    assert r.status_code == 201, r.text
    world.answer = r.json()
    world.report("russia", "r1", INSIDE, 10)
    return world


def _reached(events) -> list[tuple]:
    return [(e["party"], e["via"]) for e in events if e["type"] == "broadcast.reached"]


def test_whoever_is_inside_or_enters_is_reached_and_the_sender_learns_which(leaflets):
    assert _reached(leaflets.answer["events"]) == [("militia", "channel"), ("un", "broadcast_only")]
    assert _reached(leaflets.events("coalition")) == [("militia", "channel"), ("un", "broadcast_only"),
                                                      ("russia", "channel")]
    # each reached party sees the broadcast and that it was reached, not who else was
    for party in ("militia", "un", "russia"):
        events = leaflets.events(party)
        assert [e["broadcast"] for e in events if e["type"] == "broadcast.sent"] == ["leaflets"], party
        assert _reached(events) == [r for r in _reached(leaflets.events("coalition")) if r[0] == party]
    militia = leaflets.events("militia")
    assert "message.delivered" in types(militia)
    assert leaflets.events("un") and "message.undeliverable" in types(leaflets.events("un"))


def test_a_party_not_reached_sees_nothing_of_the_broadcast(world):
    world.report("militia", "m1", OUTSIDE, 1)
    world.clock.set(2)
    r = world.post("/v1/messages", "coalition", {"to_area": AREA, "kind": "warning", "text": "Keep out"})
    assert r.status_code == 201, r.text
    assert _reached(r.json()["events"]) == []
    assert not [e for e in world.events("militia") if e["type"].startswith(("broadcast.", "message."))]


def test_the_broadcast_views_survive_a_restart(leaflets):
    before = {p: leaflets.events(p) for p in leaflets.tokens}
    again = leaflets.reopen()
    try:
        assert {p: again.events(p) for p in again.tokens} == before
        again.report("militia", "m2", INSIDE, 20)  # after the restart the broadcast still stands (once per party)
        assert _reached(again.events("coalition"))[-1] == ("russia", "channel")
    finally:
        again.close()


@pytest.mark.parametrize("body, path", [
    ({"to": "militia", "to_area": AREA}, "to_area"),
    ({"to_area": {"geometry": {"type": "Point", "coordinates": [38, 33]}}}, "to_area"),  # a point with no radius
    ({"to_area": {"geometry": {"type": "Polygon", "coordinates": [[[38, 33], [38.1, 33]]]}}}, "to_area.geometry"),
    ({"to_area": AREA | {"window": {"end": at(-10)}}}, "to_area.window.end"),
    ({"to_area": AREA | {"window": {"start": at(30), "end": at(20)}}}, "to_area.window.end"),
    ({"to_area": AREA | {"centre": 1}}, "to_area.centre"),
    ({"to_area": "everywhere"}, "to_area"),
    ({}, "to"),
])
def test_bad_areas_are_refused_naming_the_field(world, body, path):
    world.clock.set(5)
    size = world.size()
    error = assert_error(world.post("/v1/messages", "coalition", {"kind": "warning", **body}), 422)
    assert any(d["path"].startswith(path) for d in error["details"]), error
    assert world.size() == size


def test_a_broadcast_cannot_be_sent_in_anothers_name_or_under_a_used_id(leaflets):
    assert_error(leaflets.post("/v1/messages", "militia", {"from": "coalition", "to_area": AREA, "kind": "x"}), 403)
    assert_error(leaflets.post("/v1/messages", "coalition", {"id": "leaflets", "to": "russia", "kind": "x"}), 409)
    assert_error(leaflets.post("/v1/messages", "coalition", {"id": "leaflets", "to_area": AREA, "kind": "x"}), 409)


def test_a_party_reached_later_reads_what_the_broadcast_said_in_the_event_that_reached_it(leaflets):
    [sent] = [e for e in leaflets.events("coalition") if e["type"] == "broadcast.sent"]
    said = {k: sent[k] for k in ("t", "kind", "text", "ref", "area", "window")}
    [reached] = [e for e in leaflets.events("russia") if e["type"] == "broadcast.reached"]
    # what a page following the log from just before the reach reads: the area and text with it
    later = leaflets.events("russia", after=reached["seq"] - 1)
    assert [e for e in later if e["type"] == "broadcast.reached"][0]["sent"] == said
    assert reached["sent"] == said and said["text"] == "Keep out" and said["area"]["coordinates"] == list(INSIDE)
    # the reach says nothing of the other parties reached
    assert "militia" not in str(later) and "un" not in {e.get("party") for e in later}
