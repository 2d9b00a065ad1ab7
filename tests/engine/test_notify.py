"""Notification: a zone or operation that names parties in ``notify`` sends each a notification
(relayed where there is no line) that carries what it is told, to acknowledge with escalation."""
from datetime import datetime, timedelta, timezone

import pytest

from deconfliction import AltitudeBand, Circle, Engine, Operation, Party, Policy, TimeWindow, Volume4D, Zone
from deconfliction.engine.core import notification_id
from deconfliction.errors import ScenarioError
from deconfliction.formats.scenario import parse_scenario

T0 = datetime(2017, 6, 6, tzinfo=timezone.utc)
POLICY = Policy(perimeter_m=1000, ack_deadline_s=900, escalation=("advisory", "warning", "final_warning"))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def engine() -> Engine:
    # un has lines to coalition and russia; pro-regime only to russia
    return Engine(POLICY, [Party("un", channels=("coalition", "russia")), Party("coalition", channels=("russia",)),
                           Party("russia", channels=("pro-regime",)), Party("pro-regime")])


def camp(notify=("coalition", "pro-regime")) -> Zone:
    return Zone("rukban", Circle(38.67, 33.31, 2000), ("un",), ("un",), name="Rukban", notify=tuple(notify),
                altitude=AltitudeBand(0, 500), window=TimeWindow(at(0), at(600)))


def test_a_zone_notifies_each_party_relayed_where_there_is_no_line():
    events = engine().declare_zone(camp(), at(0))
    sent = [e for e in events if e.type == "message.sent"]
    assert [(e.fields["message"], e.fields["from"], e.fields["to"], e.fields["kind"]) for e in sent] == [
        (notification_id("rukban", "coalition"), "un", "coalition", "notification"),
        (notification_id("rukban", "pro-regime"), "un", "pro-regime", "notification")]
    told = sent[1].to_dict()["notified"]
    assert told == {"item": "rukban", "item_kind": "zone", "name": "Rukban", "kind": "deconfliction",
                    "parties": ["un"], "allowed": ["un"], "perimeter_m": 1000.0, "geometry": camp().shape.to_geojson(), "altitude": {"lower_m": 0, "upper_m": 500},
                    "window": {"start": "2017-06-06T00:00:00Z", "end": "2017-06-06T10:00:00Z"}}
    relayed = [e.fields["via"] for e in events if e.type == "message.relayed"]
    assert relayed == ["russia"]
    delivered = [e.fields["route"] for e in events if e.type == "message.delivered"]
    assert delivered == [["un", "coalition"], ["un", "russia", "pro-regime"]]


def test_an_operation_notifies_with_its_volumes_and_the_notification_escalates_until_acknowledged():
    e = engine()
    volume = Volume4D(Circle(38.5, 33.4, 3000), AltitudeBand(0, 50), TimeWindow(at(60), at(120)))
    events = e.declare_operation(Operation("convoy", "un", (volume,), notify=("russia",)), at(0))
    [sent] = [x for x in events if x.type == "message.sent"]
    assert sent.to_dict()["notified"]["volumes"] == [{"geometry": volume.shape.to_geojson(),
                                                     "altitude": {"lower_m": 0, "upper_m": 50},
                                                     "window": {"start": "2017-06-06T01:00:00Z",
                                                                "end": "2017-06-06T02:00:00Z"}}]
    mid = notification_id("convoy", "russia")
    later = e.advance(at(16), inclusive=True)
    assert [(x.type, x.fields.get("level"), x.fields["kind"]) for x in later] == [
        ("message.escalated", "warning", "notification")]
    # the sender cannot acknowledge it; a party not on it is told there is no such message
    assert e.acknowledge(at(17), mid, "un")[0].type == "message.ack_rejected"
    assert e.acknowledge(at(17), mid, "coalition")[0].fields["reason"] == "no such message"
    acked = e.acknowledge(at(18), mid, "russia")
    assert [(x.type, x.fields["as"]) for x in acked] == [("message.acknowledged", "addressee")]
    # acknowledged: no more escalation; only the operation's own changes of state are left
    assert [x.type for x in e.advance(at(200), inclusive=True)] == ["operation.activated", "operation.ended"]
    assert e.message(mid).acknowledged_at == at(18)


def test_unacknowledged_notification_goes_unanswered_after_the_last_level():
    e = engine()
    e.declare_zone(camp(("coalition",)), at(0))
    fired = e.advance(at(100), inclusive=True)
    assert [x.fields.get("level") for x in fired] == ["warning", "final_warning", None]
    assert fired[-1].type == "message.unanswered"


def _doc(**zone) -> dict:
    return {"scenario": 1, "start": "2017-06-06T00:00:00Z",
            "parties": [{"id": "un"}, {"id": "coalition"}, {"id": "russia"}],
            "zones": [{"id": "z", "parties": ["un"], "geometry": {"type": "Point", "coordinates": [38, 33]},
                       "radius_m": 100, **zone}],
            "operations": [{"id": "op", "party": "un", "notify": ["un"],
                            "volumes": [{"geometry": {"type": "Point", "coordinates": [38, 33]}, "radius_m": 10}]}]}


@pytest.mark.parametrize("notify, path, words", [
    (["nobody"], "zones[0].notify[0]", "unknown party"),
    (["coalition", "coalition"], "zones[0].notify[1]", "named twice"),
    (["un"], "zones[0].notify[0]", "does not notify itself"),
])
def test_bad_notify_lists_are_named(notify, path, words):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(_doc(notify=notify))
    problems = {p.path: p.reason for p in err.value.problems}
    assert words in problems[path]
    assert "does not notify itself" in problems["operations[0].notify[0]"]
