"""The engine's read API: what code outside the engine may ask of it, as frozen copies."""
import dataclasses
from datetime import timedelta

import pytest

from deconfliction import Engine, Party, Policy, Report, Zone
from deconfliction.engine.channel import MessageState
from deconfliction.engine.tracks import ReportBatch
from tests.engine.test_engine import PARTIES, T0, at, engine_with_tanf, north_of_tanf
from tests.shapes import TANF


def test_perimeter_m_is_the_zones_own_else_the_policys():
    engine = engine_with_tanf()  # policy: 5 km
    narrow = Zone("narrow", TANF, ("un",), ("un",), perimeter_m=250)
    engine.declare_zone(narrow, T0)
    assert engine.perimeter_m(engine.zones["tanf"]) == 5000
    assert engine.perimeter_m(narrow) == 250


def test_messages_as_frozen_records_in_the_order_sent():
    engine = Engine(Policy(ack_deadline_s=600), [Party("a", channels=("b",)), Party("b", channels=("c",)), Party("c")])
    engine.send(at(0), "m1", "a", "c", "request", "hello", ref="z")
    engine.send(at(1), "m2", "c", "a", "notice")
    assert [m.id for m in engine.messages()] == ["m1", "m2"] and engine.message_count() == 2
    m1 = engine.message("m1")
    assert (m1.sender, m1.to, m1.kind, m1.text, m1.ref) == ("a", "c", "request", "hello", "z")
    assert m1.route == ("a", "b", "c") and m1.delivered_at == at(0) and m1.deadline == at(10)
    assert m1.state == MessageState.DELIVERED and m1.open and not m1.warning and m1.acknowledged_at is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        m1.state = MessageState.RESOLVED
    engine.acknowledge(at(2), "m1", "c")
    assert m1.acknowledged_at is None, "a record is a copy: it does not change with the message"
    assert engine.message("m1").acknowledged_at == at(2) and not engine.message("m1").open
    assert [m.id for m in engine.messages_about("z")] == ["m1"] and engine.messages_about("y") == []
    assert engine.message("nope") is None


def test_next_due_is_the_first_deadline():
    engine = Engine(Policy(ack_deadline_s=600), [Party("a", channels=("b",)), Party("b")])
    assert engine.next_due() is None
    engine.send(at(0), "m1", "a", "b", "request")
    assert engine.next_due() == at(0) + timedelta(seconds=600)


def test_a_warning_is_a_warning_at_its_level():
    engine = engine_with_tanf()
    lon, lat = north_of_tanf(10)
    engine.report(at(1), [Report(at(1), "u1", "militia", lon, lat)])
    [warning] = engine.messages()
    assert warning.warning and warning.kind == engine.policy.escalation[0] and warning.ref == "tanf"


def test_units_and_units_inside_zones_they_are_not_allowed_in():
    engine = engine_with_tanf()
    inside, band = north_of_tanf(10), north_of_tanf(57)
    engine.report(at(1), [Report(at(1), "u1", "militia", *inside), Report(at(1), "u2", "militia", *band),
                          Report(at(1), "p1", "coalition", *inside)])
    engine.report(at(2), [Report(at(2), "u1", "militia", *inside)])
    assert engine.unit_count() == 3 and engine.unit("nope") is None
    unit = engine.unit("u1")
    assert (unit.party, unit.t, unit.lon, unit.lat) == ("militia", at(2), pytest.approx(inside[0]), pytest.approx(inside[1]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        unit.lon = 0.0
    [u] = engine.units_inside()  # not the unit in the band, nor the allowed party's
    assert (u.track, u.party, u.zone, u.last_report_at) == ("u1", "militia", "tanf", at(2))


def test_first_foreign_report_names_a_unit_of_another_party():
    engine = Engine(Policy(), PARTIES)
    engine.report(at(1), [Report(at(1), "u1", "militia", 38.0, 33.0)])
    mine = ReportBatch.of([Report(at(2), "c1", "coalition", 38.0, 33.0), Report(at(2), "u1", "coalition", 38.0, 33.0)])
    assert engine.first_foreign_report(mine, "coalition") == 1
    assert engine.first_foreign_report(mine, "militia") is None  # c1 is new, u1 is militia's
    theirs = ReportBatch.of([Report(at(2), "u1", "militia", 38.1, 33.0)])
    assert engine.first_foreign_report(theirs, "militia") is None
