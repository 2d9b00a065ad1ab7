"""The channel: routing over lines, deadlines and escalation, acknowledgements, incidents."""
from datetime import datetime, timedelta, timezone

import pytest
from geographiclib.geodesic import Geodesic

from deconfliction import (
    AltitudeBand, Circle, Engine, Operation, Party, Policy, Report, TimeWindow, Volume4D, Zone,
)
from deconfliction.engine.model import Incident
from tests.shapes import TANF

T0 = datetime(2017, 6, 6, tzinfo=timezone.utc)
POLICY = Policy(perimeter_m=10_000, ack_deadline_s=900, escalation=("advisory", "warning", "final_warning"))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def engine_for(lines: dict[str, list[str]], policy: Policy = POLICY) -> Engine:
    return Engine(policy, [Party(p, channels=tuple(c)) for p, c in lines.items()])


def summary(events) -> list[tuple]:
    out = []
    for e in events:
        f = e.fields
        key = f.get("via") or f.get("level") or f.get("by") or f.get("between")
        out.append((e.type, f.get("message"), tuple(key) if isinstance(key, list) else key))
    return out


# -- routing ------------------------------------------------------------------------------------
def test_direct_line_delivers_without_relay():
    engine = engine_for({"a": ["b"], "b": []})
    events = engine.send(at(0), "m", "a", "b", "advisory", "hello")
    assert [e.type for e in events] == ["message.sent", "message.delivered"]
    assert events[1].fields["route"] == ["a", "b"]


def test_relay_on_the_fewest_hops_with_ties_broken_by_party_id():
    # a-x-d and a-c-d are both two hops; c < x. a-b-e-d is three.
    engine = engine_for({"a": ["x", "c", "b"], "b": ["e"], "c": ["d"], "x": ["d"], "e": ["d"], "d": []})
    events = engine.send(at(0), "m", "a", "d", "advisory")
    assert [(e.type, e.fields.get("via")) for e in events] == [
        ("message.sent", None), ("message.relayed", "c"), ("message.delivered", None)]


def test_suspended_line_reroutes_or_waits_and_resumes():
    engine = engine_for({"coalition": ["russia", "un"], "russia": ["militia", "un"], "un": [], "militia": []})
    engine.set_channel(at(0), "coalition", "russia", active=False)
    rerouted = engine.send(at(1), "m1", "coalition", "militia", "advisory")
    assert [e.fields.get("via") for e in rerouted if e.type == "message.relayed"] == ["un", "russia"]
    engine.set_channel(at(2), "russia", "militia", active=False)
    waiting = engine.send(at(3), "m2", "coalition", "militia", "advisory")
    assert [e.type for e in waiting] == ["message.sent", "message.waiting"]
    resumed = engine.set_channel(at(10), "militia", "russia", active=True)
    assert summary(resumed) == [("channel.resumed", None, ("militia", "russia")),
                                ("message.relayed", "m2", "un"), ("message.relayed", "m2", "russia"),
                                ("message.delivered", "m2", None)]
    assert resumed[-1].fields["deadline"] == at(25)


def test_no_route_at_all_is_undeliverable_with_a_reason():
    engine = engine_for({"a": ["b"], "b": [], "c": []})
    events = engine.send(at(0), "m", "a", "c", "advisory")
    assert events[-1].type == "message.undeliverable"
    assert "no line" in events[-1].fields["reason"]


# -- acknowledgements -----------------------------------------------------------------------------
def relayed_message(engine=None):
    engine = engine or engine_for({"coalition": ["russia"], "russia": ["militia"], "militia": [], "un": []})
    engine.send(at(0), "m1", "coalition", "militia", "request", "Turn back")
    return engine


def test_only_addressee_or_intermediary_can_acknowledge():
    engine = relayed_message()
    rejected = engine.acknowledge(at(1), "m1", "un")
    # a party the message does not concern is told what it would be told of an unknown id
    assert [(e.type, e.fields) for e in rejected] == [
        ("message.ack_rejected", {"message": "m1", "by": "un", "reason": "no such message"})]
    sender = engine.acknowledge(at(1), "m1", "coalition")
    assert sender[0].type == "message.ack_rejected" and "only the addressee" in sender[0].fields["reason"]
    assert "to" not in sender[0].fields
    relay = engine.acknowledge(at(2), "m1", "russia")
    assert (relay[0].type, relay[0].fields["as"]) == ("message.acknowledged", "intermediary")
    assert engine.channel.messages["m1"].acknowledged_at is None
    done = engine.acknowledge(at(3), "m1", "militia")
    assert (done[0].type, done[0].fields["as"]) == ("message.acknowledged", "addressee")
    assert engine.acknowledge(at(4), "m1", "militia") == []
    assert engine.channel.messages["m1"].acknowledged_at == at(3)


def test_acknowledging_an_unknown_message_is_rejected():
    engine = relayed_message()
    assert engine.acknowledge(at(1), "nope", "militia")[0].fields["reason"] == "no such message"


def test_disowning_a_message_of_others_reads_as_an_unknown_id():
    engine = relayed_message()
    [other] = engine.disown(at(1), "m1", "un", "not ours")
    [unknown] = engine.disown(at(1), "nope", "un", "not ours")
    assert other.fields == {"message": "m1", "by": "un", "reason": "no such message"}
    assert unknown.fields == {"message": "nope", "by": "un", "reason": "no such message"}
    [sender] = engine.disown(at(1), "m1", "coalition", "not ours")
    assert sender.fields["reason"] == "coalition neither received nor relayed it"


def test_scripted_message_not_acknowledged_is_unanswered_at_its_deadline():
    engine = relayed_message()
    events = engine.advance(at(60))
    assert summary(events) == [("message.unanswered", "m1", None)]
    assert events[0].t == at(15)


def test_disowning_is_shown_to_the_sender_and_ends_the_follow_up():
    engine = relayed_message()
    events = engine.disown(at(5), "m1", "russia", "not our forces")
    assert (events[0].type, events[0].fields["from"], events[0].fields["reason"]) == (
        "message.disowned", "coalition", "not our forces")
    assert engine.advance(at(120)) == []


# -- automatic warnings and escalation -----------------------------------------------------------
def zone_engine():
    engine = engine_for({"coalition": ["russia"], "russia": ["militia"], "militia": []})
    engine.declare_zone(Zone("tanf", TANF, ("coalition", "russia"), ("coalition",)), T0)
    return engine


def report_at_km(engine, minutes, km, track="convoy-1"):
    g = Geodesic.WGS84.Direct(TANF.lat, TANF.lon, 0, km * 1000)
    t = at(minutes)
    return engine.report(t, [Report(t, track, "militia", g["lon2"], g["lat2"])])


def messages_of(events):
    return [(e.t, e.type, e.fields.get("level")) for e in events if e.type.startswith("message.")]


def test_warning_acknowledged_in_time_does_not_escalate():
    engine = zone_engine()
    sent = report_at_km(engine, 0, 60)
    assert [e.type for e in sent] == ["zone.approaching", "message.sent", "message.relayed", "message.delivered"]
    assert sent[1].fields["message"] == "tanf/convoy-1/1" and sent[1].fields["ref"] == "tanf"
    assert sent[1].fields["cause"] == {"event": sent[0].seq, "type": "zone.approaching", "track": "convoy-1"}
    engine.acknowledge(at(10), "tanf/convoy-1/1", "militia")
    assert messages_of(report_at_km(engine, 100, 40)) == []


def test_warning_escalates_level_by_level_then_goes_unanswered():
    engine = zone_engine()
    report_at_km(engine, 0, 60)
    events = report_at_km(engine, 100, 40)  # still there, now inside: same episode, no new warning
    assert messages_of(events) == [(at(15), "message.escalated", "warning"),
                                   (at(30), "message.escalated", "final_warning"),
                                   (at(45), "message.unanswered", None)]


def test_late_acknowledgement_is_recorded_and_stops_escalation():
    engine = zone_engine()
    report_at_km(engine, 0, 60)
    events = engine.acknowledge(at(20), "tanf/convoy-1/1", "militia")
    assert messages_of(events) == [(at(15), "message.escalated", "warning"),
                                   (at(20), "message.acknowledged", None)]
    assert engine.advance(at(200)) == []


def test_cause_ending_first_resolves_without_further_escalation():
    engine = zone_engine()
    report_at_km(engine, 0, 60)
    events = report_at_km(engine, 10, 80)
    assert [e.type for e in events] == ["message.resolved"]
    assert engine.advance(at(200)) == []
    # a new episode later gets a new warning, numbered 2
    again = report_at_km(engine, 300, 62)
    assert [e.fields["message"] for e in again if e.type == "message.sent"] == ["tanf/convoy-1/2"]


def test_plan_conflict_between_operations_notifies_both_with_their_own_deadlines():
    engine = engine_for({"coalition": ["un"], "un": []})
    vol = Volume4D(Circle(38.7, 33.4, 3000), AltitudeBand(0, 50), TimeWindow(at(0), at(180)))
    engine.declare_operation(Operation("patrol", "coalition", (vol,)), T0)
    events = engine.declare_operation(Operation("convoy", "un", (vol,)), at(5))
    sent = [(e.fields["message"], e.fields["from"], e.fields["to"]) for e in events if e.type == "message.sent"]
    assert sent == [("convoy/patrol", "coalition", "un"), ("patrol/convoy", "un", "coalition")]
    engine.acknowledge(at(10), "convoy/patrol", "un")
    later = engine.advance(at(21))
    assert summary(later) == [("message.escalated", "patrol/convoy", "warning")]


# -- incidents --------------------------------------------------------------------------------
def test_incident_lists_covering_items_with_who_was_told_and_acknowledged():
    engine = engine_for({"coalition": ["russia", "un"], "russia": ["militia", "un"], "militia": [], "un": []})
    engine.declare_zone(Zone("tanf", TANF, ("coalition", "russia"), ("coalition",)), T0)
    vol = Volume4D(Circle(38.60, 33.40, 2000), window=TimeWindow(at(0), at(600)))
    engine.declare_operation(Operation("convoy", "un", (vol,)), T0)
    for n, to in enumerate(["coalition", "russia", "militia"]):
        engine.send(at(10 + n), f"n{n}", "un", to, "notification", "convoy route", ref="convoy")
    engine.acknowledge(at(20), "n0", "coalition")
    engine.acknowledge(at(21), "n2", "russia")  # receipt, as relay
    engine.acknowledge(at(400), "n1", "russia")  # after the incident: must not count
    [event] = [e for e in engine.report_incident(at(300), Incident("i1", "un", "shelling", Circle(38.60, 33.40, 1)))
               if e.type == "incident.reported"]
    notified = {n["item"]: n for n in event.fields["notified"]}
    assert list(notified) == ["tanf", "convoy"]
    told = {(t["party"], t["how"]): t for t in notified["convoy"]["told"]}
    assert told[("coalition", "message")]["acknowledged_at"] == at(20)
    assert told[("russia", "message")]["acknowledged_at"] is None
    assert told[("militia", "message")]["at"] == at(12) and told[("militia", "message")]["acknowledged_at"] is None
    assert told[("russia", "relayed")]["acknowledged_at"] == at(21)
    assert notified["convoy"]["not_told"] == []
    # the zone's parties agreed it; the UN was warned about it when its plan entered the zone
    assert [(t["party"], t["how"]) for t in notified["tanf"]["told"]] == [
        ("coalition", "agreed"), ("russia", "agreed"), ("un", "message")]
    assert notified["tanf"]["told"][2]["message"] == "convoy/tanf"
    assert notified["tanf"]["not_told"] == ["militia"]


def test_incident_outside_every_item_says_so():
    engine = engine_for({"a": []})
    engine.declare_zone(Zone("tanf", TANF, ("a",), ("a",)), T0)
    [event] = engine.report_incident(at(1), Incident("i", "a", "report", Circle(10, 10, 1)))
    assert event.fields["notified"] == []


@pytest.mark.parametrize("word", ["approved", "cleared", "permission granted"])
def test_notification_is_never_presented_as_permission(word):
    from pathlib import Path
    from deconfliction import load_scenario, replay
    text = "\n".join(e.to_json() for e in replay(load_scenario(Path(__file__).parents[2] / "examples" / "at-tanf.yaml")))
    assert word not in text.lower()
