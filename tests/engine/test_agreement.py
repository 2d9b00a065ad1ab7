"""Agreement of zones in the engine: a proposed zone binds only the parties that agreed it."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from geographiclib.geodesic import Geodesic

from deconfliction import Engine, Operation, Party, Policy, Report, TimeWindow, Volume4D, Zone
from deconfliction.engine.model import Incident
from deconfliction.errors import Refused
from tests.shapes import TANF

T0 = datetime(2017, 6, 6, tzinfo=timezone.utc)
POLICY = Policy(perimeter_m=10_000, ack_deadline_s=900)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def world() -> Engine:
    lines = {"alpha": ["bravo", "charlie"], "bravo": ["charlie"], "charlie": [], "delta": []}
    return Engine(POLICY, [Party(p, channels=tuple(c)) for p, c in lines.items()])


ZONE = Zone("z", TANF, ("bravo", "alpha"), ("bravo", "alpha"), proposer="alpha")


def enter(engine: Engine, minutes: float, track: str = "c1", party: str = "charlie"):
    out = []
    for i, km in enumerate((65, 0)):  # 65 km in a minute: fast, but within max_speed_mps
        g = Geodesic.WGS84.Direct(TANF.lat, TANF.lon, 0, km * 1000)
        t = at(minutes + i)
        out += engine.report(t, [Report(t, track, party, g["lon2"], g["lat2"])])
    return out


def sent(events):
    return [(e.fields["from"], e.fields["to"]) for e in events if e.type == "message.sent"]


def test_a_proposed_zone_warns_in_the_proposers_name_only():
    """alpha proposes a zone naming bravo first: charlie's unit is warned by alpha, never by bravo."""
    engine = world()
    declared = engine.declare_zone(ZONE, T0)
    assert declared[0].fields | {} == {"zone": "z", "kind": "deconfliction", "parties": ["bravo", "alpha"],
                                       "allowed": ["bravo", "alpha"], "proposer": "alpha", "status": "proposed"}
    assert sent(enter(engine, 1)) == [("alpha", "charlie")]
    assert engine.bound("z") == ("alpha",)
    assert engine.agreement("z").pending == ("bravo",)


def test_once_agreed_the_zone_binds_the_party_that_agreed():
    engine = world()
    engine.declare_zone(ZONE, T0)
    [agreed] = engine.agree_zone(at(1), "z", "bravo")
    assert (agreed.type, agreed.fields) == ("zone.agreed", {"zone": "z", "by": "bravo", "status": "agreed"})
    assert engine.bound("z") == ("alpha", "bravo")
    assert engine.bound("z", before=agreed.seq) == ("alpha",)
    record = engine.agreement("z")
    assert (record.status, record.agreed, record.pending) == ("agreed", (("alpha", T0), ("bravo", at(1))), ())


def test_a_plan_conflict_with_a_proposed_zone_names_and_warns_from_agreed_parties_only():
    engine = world()
    engine.declare_zone(ZONE, T0)
    op = Operation("op", "charlie", (Volume4D(TANF, window=TimeWindow(at(10), at(20))),))
    events = engine.declare_operation(op, at(1))
    [conflict] = [e for e in events if e.type == "plan.conflict"]
    assert conflict.fields["parties"] == ["charlie", "alpha"]
    assert sent(events) == [("alpha", "charlie")]
    assert [c.parties for c in engine.check_operation(replace(op, id="op2"))] == [("charlie", "alpha")]


def test_a_decline_keeps_the_zone_from_binding_the_party_and_is_recorded():
    engine = world()
    engine.declare_zone(ZONE, T0)
    [declined] = engine.decline_zone(at(1), "z", "bravo", "too wide")
    assert declined.fields == {"zone": "z", "by": "bravo", "reason": "too wide", "status": "proposed"}
    assert engine.bound("z") == ("alpha",)
    assert engine.agreement("z").declined == (("bravo", at(1), "too wide"),)
    assert sent(enter(engine, 2)) == [("alpha", "charlie")]


@pytest.mark.parametrize("answer, why", [
    (lambda e: e.agree_zone(at(1), "z", "charlie"), "not named"),
    (lambda e: e.agree_zone(at(1), "z", "alpha"), "already agreed"),
    (lambda e: e.agree_zone(at(1), "nowhere", "bravo"), "no such zone"),
    (lambda e: e.decline_zone(at(1), "z", "bravo", " "), "reason"),
    (lambda e: e.decline_zone(at(1), "z", "charlie", "no"), "not named"),
])
def test_bad_answers_are_refused_and_change_nothing(answer, why):
    engine = world()
    engine.declare_zone(ZONE, T0)
    engine.send(T0, "m", "alpha", "bravo", "info")  # a deadline at 15 minutes, which must not fire
    with pytest.raises(Refused, match=why):
        answer(engine)
    assert engine.agreement("z").status == "proposed" and engine.agreement("z").declined == ()
    assert engine.message("m").state == "delivered"


def test_a_party_answers_once():
    engine = world()
    engine.declare_zone(ZONE, T0)
    engine.agree_zone(at(1), "z", "bravo")
    with pytest.raises(Refused, match="already agreed"):
        engine.agree_zone(at(2), "z", "bravo")
    with pytest.raises(Refused, match="already agreed"):
        engine.decline_zone(at(2), "z", "bravo", "changed our mind")
    engine.declare_zone(replace(ZONE, id="y"), at(3))
    engine.decline_zone(at(4), "y", "bravo", "no")
    with pytest.raises(Refused, match="already declined"):
        engine.agree_zone(at(5), "y", "bravo")


def test_a_zone_without_a_proposer_is_agreed_by_all_its_parties_as_before():
    engine = world()
    [declared] = engine.declare_zone(replace(ZONE, proposer=None), T0)
    assert "proposer" not in declared.fields and "status" not in declared.fields
    assert engine.agreement("z").status == "agreed" and engine.bound("z") == ("bravo", "alpha")
    assert sent(enter(engine, 1)) == [("bravo", "charlie")]
    with pytest.raises(Refused, match="already agreed"):
        engine.agree_zone(at(3), "z", "bravo")


def test_partly_agreed_when_some_of_the_others_agreed():
    engine = world()
    engine.declare_zone(Zone("z", TANF, ("alpha", "bravo", "delta"), ("alpha",), proposer="alpha"), T0)
    assert engine.agree_zone(at(1), "z", "delta")[0].fields["status"] == "partly_agreed"
    assert engine.agree_zone(at(2), "z", "bravo")[0].fields["status"] == "agreed"


def test_an_incident_record_names_who_had_agreed_the_zone_and_when():
    engine = world()
    engine.declare_zone(ZONE, T0)
    engine.agree_zone(at(5), "z", "bravo")
    engine.declare_zone(replace(ZONE, id="y"), T0 + timedelta(minutes=6))
    [event] = engine.report_incident(at(10), Incident("i", "delta", "strike", TANF))
    by_item = {n["item"]: n for n in event.fields["notified"]}
    assert by_item["z"]["declared_by"] == ["alpha", "bravo"]
    assert [(t["party"], t["how"], t["at"]) for t in by_item["z"]["told"]] == [
        ("alpha", "agreed", T0), ("bravo", "agreed", at(5))]
    assert by_item["y"]["declared_by"] == ["alpha"]


def bound_events(events):
    return [(e.fields["operation"], e.fields["other"], e.fields["party"], e.fields["parties"])
            for e in events if e.type == "plan.conflict_bound"]


def test_a_party_that_agrees_a_zone_with_an_open_conflict_is_bound_by_it_and_the_owner_is_told():
    """charlie's plan enters the zone alpha proposed; bravo agrees it after: the conflict now binds
    bravo too, in an event to the conflict's parties. alpha has already warned charlie: one warning."""
    engine = world()
    engine.declare_zone(ZONE, T0)
    op = Operation("op", "charlie", (Volume4D(TANF, window=TimeWindow(at(10), at(20))),))
    engine.declare_operation(op, at(1))
    events = engine.agree_zone(at(2), "z", "bravo")
    assert [e.type for e in events] == ["zone.agreed", "plan.conflict_bound"]
    assert bound_events(events) == [("op", "z", "bravo", ["charlie", "alpha", "bravo"])]
    assert events[1].fields["window"] == {"start": at(10), "end": at(20)}
    assert sent(events) == []
    assert "bravo" in engine.told_of("op")
    # the conflict ends for all it binds
    ended = [e for e in engine.cancel_operation(at(3), "op", "charlie", "called off") if e.type == "plan.conflict_ended"]
    assert ended[0].fields["parties"] == ["charlie", "alpha", "bravo"]


def test_the_agreeing_party_warns_when_no_party_of_the_zone_had_warned_yet():
    """alpha's own plan enters the zone it proposed (it is not allowed there): nobody warned; once
    bravo agrees, bravo warns alpha over their line."""
    engine = world()
    engine.declare_zone(Zone("z", TANF, ("alpha", "bravo"), ("bravo",), proposer="alpha"), T0)
    op = Operation("a-op", "alpha", (Volume4D(TANF, window=TimeWindow(at(10), at(20))),))
    assert sent(engine.declare_operation(op, at(1))) == []
    events = engine.agree_zone(at(2), "z", "bravo")
    assert bound_events(events) == [("a-op", "z", "bravo", ["alpha", "bravo"])]
    assert sent(events) == [("bravo", "alpha")]


def test_an_agreement_after_the_conflicts_window_binds_the_party_to_nothing_of_it():
    engine = world()
    engine.declare_zone(ZONE, T0)
    engine.declare_operation(Operation("op", "charlie", (Volume4D(TANF, window=TimeWindow(at(10), at(20))),)), at(1))
    assert bound_events(engine.agree_zone(at(20), "z", "bravo")) == []
