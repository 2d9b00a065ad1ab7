"""Area broadcasts (leaflets): a message to whoever has units in an area, now or while it stands."""
from datetime import datetime, timedelta, timezone

import pytest

from deconfliction import Circle, Engine, Party, Policy, Report, TimeWindow
from deconfliction.engine.core import area_message_id
from deconfliction.errors import Refused

T0 = datetime(2017, 6, 6, tzinfo=timezone.utc)
AREA = Circle(38.0, 33.7, 10_000)
IN, OUT = (38.0, 33.7), (39.0, 33.7)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def engine() -> Engine:
    # coalition - russia - pro-regime; isis has no line to anyone
    return Engine(Policy(perimeter_m=0), [Party("coalition", channels=("russia",)), Party("russia", channels=("pro-regime",)),
                                           Party("pro-regime"), Party("isis")])


def put(e: Engine, t: float, *units) -> list:
    return e.report(at(t), [Report(at(t), track, party, *where) for track, party, where in units])


def reached(events) -> list[tuple]:
    return [(x.fields["party"], x.fields["via"]) for x in events if x.type == "broadcast.reached"]


def test_parties_inside_now_and_entering_while_it_stands_are_reached_once():
    e = engine()
    put(e, 0, ("p1", "pro-regime", IN), ("i1", "isis", IN), ("c1", "coalition", IN), ("r1", "russia", OUT))
    sent = e.broadcast(at(1), "leaflets", "coalition", AREA, TimeWindow(None, at(60)), "warning", "Keep out")
    assert sent[0].type == "broadcast.sent" and sent[0].fields["area"] == AREA.to_geojson()
    assert reached(sent) == [("isis", "broadcast_only"), ("pro-regime", "channel")]
    copy = [x for x in sent if x.type == "message.delivered"]
    assert [(x.fields["message"], x.fields["route"]) for x in copy] == [
        (area_message_id("leaflets", "pro-regime"), ["coalition", "russia", "pro-regime"])]
    # a second unit of a party already reached brings nothing; russia entering does
    assert reached(put(e, 10, ("p2", "pro-regime", IN), ("r1", "russia", IN))) == [("russia", "channel")]
    # once the window is over, entering reaches nobody
    assert reached(put(e, 61, ("p3", "pro-regime", IN))) == []
    record = e.broadcast_record("leaflets")
    assert [p for p, _ in record.reached] == ["isis", "pro-regime", "russia"]
    assert dict(record.reached)["russia"] == at(10)


def test_a_broadcast_without_a_window_reaches_only_who_is_inside_when_it_is_sent():
    e = engine()
    sent = e.broadcast(at(1), "b", "coalition", AREA, TimeWindow(), "info")
    assert reached(sent) == []
    assert reached(put(e, 2, ("p1", "pro-regime", IN))) == [("pro-regime", "channel")]  # it stands with no end
    with pytest.raises(Refused):
        e.broadcast(at(3), "b", "coalition", AREA, TimeWindow(), "info")


def test_a_silent_unit_is_not_counted_as_inside():
    e = engine()
    put(e, 0, ("p1", "pro-regime", IN))
    sent = e.broadcast(at(10 + e.policy.track_timeout_s / 60), "b", "coalition", AREA, TimeWindow(), "info")
    assert reached(sent) == []


def _doc(message: dict) -> dict:
    return {"scenario": 1, "start": "2017-06-06T00:00:00Z", "parties": [{"id": "coalition"}, {"id": "russia"}],
            "messages": [{"t": "2017-06-06T01:00:00Z", "from": "coalition", "kind": "leaflet", **message}]}


AREA_SPEC = {"geometry": {"type": "Point", "coordinates": [38, 33.7]}, "radius_m": 10000}


@pytest.mark.parametrize("message, path", [
    ({"to": "russia", "to_area": AREA_SPEC}, "messages[0].to_area"),
    ({}, "messages[0].to"),
    ({"to_area": AREA_SPEC | {"window": {"end": "2017-06-06T01:00:00Z"}}}, "messages[0].to_area.window.end"),
    ({"to_area": {"geometry": {"type": "Point", "coordinates": [38, 33.7]}}}, "messages[0].to_area.radius_m"),
])
def test_bad_area_messages_in_a_scenario_are_named(message, path):
    from deconfliction.errors import ScenarioError
    from deconfliction.formats.scenario import parse_scenario
    with pytest.raises(ScenarioError) as err:
        parse_scenario(_doc(message))
    assert path in [p.path for p in err.value.problems], err.value.problems


def test_the_example_drops_leaflets_on_the_highway():
    from pathlib import Path
    from deconfliction import load_scenario
    from deconfliction.replay import replay
    example = Path(__file__).resolve().parents[2] / "examples" / "at-tanf.yaml"
    events = [e for e in replay(load_scenario(example)) if e.type.startswith("broadcast.")]
    assert [(e.type, e.fields.get("party"), e.fields.get("via")) for e in events] == [
        ("broadcast.sent", None, None), ("broadcast.reached", "pro-regime", "channel")]
