"""Amendments, withdrawals and cancellations in the engine: versions, conflicts that end, warnings resolved."""
from dataclasses import replace

import pytest
from geographiclib.geodesic import Geodesic

from deconfliction import Operation, Report, TimeWindow, Volume4D, Zone
from deconfliction.errors import Refused
from tests.engine.lifecycle_world import FAR, T0, at, world
from tests.shapes import TANF


ZONE = Zone("z", TANF, ("alpha",), ("alpha",), proposer="alpha")
CONVOY = Operation("convoy", "charlie", (Volume4D(TANF, window=TimeWindow(at(60), at(120))),))


def types(events):
    return [e.type for e in events]


def test_a_cancelled_operation_no_longer_conflicts_and_its_warning_is_resolved():
    engine = world()
    engine.declare_zone(ZONE, T0)
    assert "plan.conflict" in types(engine.declare_operation(CONVOY, at(1)))
    assert engine.versions["convoy"] == 1
    events = engine.cancel_operation(at(2), "convoy", "charlie", "the road is closed")
    assert types(events) == ["operation.cancelled", "plan.conflict_ended", "message.resolved"]
    assert events[0].fields == {"operation": "convoy", "party": "charlie", "reason": "the road is closed",
                                "version": 1, "parties": ["alpha", "charlie"]}
    assert engine.message("convoy/z").state == "resolved"
    # a later zone over its route meets nothing: the convoy is cancelled
    assert "plan.conflict" not in types(engine.declare_zone(replace(ZONE, id="y"), at(3)))
    assert engine.check_operation(replace(CONVOY, id="other")) != []


def test_an_amended_operation_is_checked_again():
    engine = world()
    engine.declare_zone(ZONE, T0)
    engine.declare_operation(CONVOY, at(1))
    moved = replace(CONVOY, volumes=(Volume4D(FAR, window=TimeWindow(at(60), at(120))),))
    events = engine.amend_operation(moved, at(2), version=1)
    assert types(events) == ["operation.amended", "plan.conflict_ended", "message.resolved"]
    assert events[0].fields["version"] == 2 and engine.versions["convoy"] == 2
    back = engine.amend_operation(CONVOY, at(3), version=2)
    assert types(back)[:2] == ["operation.amended", "plan.conflict"]


@pytest.mark.parametrize("change, why", [
    (lambda e: e.amend_operation(CONVOY, at(2), version=2), "at version 1"),
    (lambda e: e.amend_operation(replace(CONVOY, party="delta"), at(2), version=1), "only charlie"),
    (lambda e: e.cancel_operation(at(2), "convoy", "alpha", "mine now"), "only charlie"),
    (lambda e: e.cancel_operation(at(2), "convoy", "charlie", ""), "reason"),
    (lambda e: e.cancel_operation(at(2), "nothing", "charlie", "x"), "no such operation"),
    (lambda e: e.withdraw_zone(at(2), "z", "charlie", "x"), "only alpha"),
    (lambda e: e.amend_zone(ZONE, at(2), "alpha", version=3), "at version 1"),
])
def test_bad_changes_are_refused_and_change_nothing(change, why):
    engine = world()
    engine.declare_zone(ZONE, T0)
    engine.declare_operation(CONVOY, at(1))
    with pytest.raises(Refused, match=why):
        change(engine)
    assert engine.versions == {"z": 1, "convoy": 1} and engine.ended == {}
    assert engine.message("convoy/z").state == "delivered"


def test_withdrawing_twice_or_amending_after_is_refused():
    engine = world()
    engine.declare_zone(ZONE, T0)
    engine.withdraw_zone(at(1), "z", "alpha", "no longer needed")
    for change in (lambda: engine.withdraw_zone(at(2), "z", "alpha", "again"),
                   lambda: engine.amend_zone(ZONE, at(2), "alpha", version=1)):
        with pytest.raises(Refused, match="already withdrawn"):
            change()


def test_a_withdrawn_zone_watches_no_unit_and_resolves_the_open_warnings():
    engine = world()
    engine.declare_zone(ZONE, T0)
    g = Geodesic.WGS84.Direct(TANF.lat, TANF.lon, 0, 0)
    engine.report(at(1), [Report(at(1), "c1", "charlie", g["lon2"], g["lat2"])])
    assert engine.message("z/c1/1").state == "delivered"
    events = engine.withdraw_zone(at(2), "z", "alpha", "the base is closed")
    assert types(events) == ["zone.withdrawn", "message.resolved"]
    assert events[0].fields["parties"] == ["alpha", "charlie"]  # warned: it is told
    assert engine.units_inside() == []
    later = engine.report(at(3), [Report(at(3), "c2", "charlie", g["lon2"], g["lat2"])])
    assert "zone.entered" not in types(later)


def test_an_amended_zone_that_names_a_new_party_needs_its_agreement():
    engine = world()
    engine.declare_zone(replace(ZONE, parties=("alpha", "bravo")), T0)
    engine.agree_zone(at(1), "z", "bravo")
    events = engine.amend_zone(replace(ZONE, parties=("alpha", "bravo", "delta")), at(2), "alpha", version=1)
    assert events[0].fields["status"] == "partly_agreed" and events[0].fields["version"] == 2
    assert engine.agreement("z").pending == ("delta",) and engine.bound("z") == ("alpha", "bravo")
    assert "delta" in events[0].fields["parties"]


def test_a_conflict_that_returns_after_an_amendment_is_warned_again():
    engine = world()
    engine.declare_zone(ZONE, T0)
    engine.declare_operation(CONVOY, at(1))
    engine.acknowledge(at(2), "convoy/z", "charlie")
    moved = replace(CONVOY, volumes=(Volume4D(FAR, window=TimeWindow(at(60), at(120))),))
    assert "plan.conflict_ended" in types(engine.amend_operation(moved, at(3), version=1))
    back = engine.amend_operation(CONVOY, at(4), version=2)
    assert types(back)[:3] == ["operation.amended", "plan.conflict", "message.sent"]
    assert back[2].fields["message"] == "convoy/z/2" and back[2].fields["to"] == "charlie"
    assert engine.message("convoy/z").state == "acknowledged"  # the first round's record stands
    assert types(engine.acknowledge(at(5), "convoy/z/2", "charlie")) == ["message.acknowledged"]
    # and a third round, ended by a cancellation, resolves its own warning
    engine.amend_operation(moved, at(6), version=3)
    engine.amend_operation(CONVOY, at(7), version=4)
    cancelled = engine.cancel_operation(at(8), "convoy", "charlie", "closed")
    assert [e.fields["message"] for e in cancelled if e.type == "message.resolved"] == ["convoy/z/3"]


def test_a_conflict_between_plans_that_returns_warns_both_parties_again():
    engine = world()
    mine = Operation("a-op", "alpha", (Volume4D(FAR, window=TimeWindow(at(60), at(120))),))
    engine.declare_operation(mine, T0)
    engine.declare_operation(replace(CONVOY, volumes=mine.volumes), at(1))
    away = replace(CONVOY, volumes=(Volume4D(TANF, window=TimeWindow(at(60), at(120))),))
    engine.amend_operation(away, at(2), version=1)
    back = engine.amend_operation(replace(CONVOY, volumes=mine.volumes), at(3), version=2)
    sent = sorted(e.fields["message"] for e in back if e.type == "message.sent")
    assert sent == ["a-op/convoy/2", "convoy/a-op/2"]
    ended = engine.amend_operation(away, at(4), version=3)
    assert sorted(e.fields["message"] for e in ended if e.type == "message.resolved") == sent
