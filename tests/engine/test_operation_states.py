"""Operations move planned -> active -> ended on the engine's clock, or are cancelled: each change is
an event at its own time, once, never after a cancellation, rescheduled by an amendment."""
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction import Circle, Operation, TimeWindow, Volume4D, Zone
from deconfliction.engine.states import state_at
from tests.engine.lifecycle_world import FAR, T0, at, world
from tests.shapes import TANF


def convoy(*windows: tuple, shape=FAR) -> Operation:
    return Operation("convoy", "charlie", tuple(Volume4D(shape, window=TimeWindow(*w)) for w in windows))


def changes(events) -> list[tuple]:
    return [(e.type, e.t) for e in events if e.type in ("operation.activated", "operation.ended")]


def test_an_operation_is_activated_when_its_first_window_starts_and_ended_when_its_last_ends():
    engine = world()
    declared = engine.declare_operation(convoy((at(60), at(90)), (at(120), at(180))), T0)
    assert declared[0].fields["state"] == "planned" and engine.operation_state("convoy") == "planned"
    assert engine.advance(at(60)) == []  # due at 60, not before
    fired = engine.advance(at(60), inclusive=True)
    assert changes(fired) == [("operation.activated", at(60))]
    assert fired[0].fields == {"operation": "convoy", "party": "charlie", "version": 1, "parties": ["charlie"]}
    assert engine.operation_state("convoy") == "active"
    assert engine.advance(at(100), inclusive=True) == []  # the gap between its volumes does not end it
    assert changes(engine.advance(at(500), inclusive=True)) == [("operation.ended", at(180))]
    assert engine.operation_state("convoy") == "ended"
    assert engine.next_due() is None


def test_changes_fire_at_their_own_times_in_time_order_whatever_the_next_command():
    engine = world()
    engine.declare_operation(convoy((at(60), at(90))), T0)
    other = replace(convoy((at(30), at(200)), shape=Circle(31.0, 20.0, 1000.0)), id="other", party="delta")
    events = engine.declare_operation(other, at(300))
    assert changes(events) == [("operation.activated", at(60)), ("operation.ended", at(90))]
    assert [e.type for e in events][-1] == "operation.declared" and events[-1].fields["state"] == "ended"
    assert [e.seq for e in events] == sorted(e.seq for e in events)


def test_an_operation_declared_while_active_goes_straight_to_active_and_one_in_the_past_to_ended():
    engine = world()
    [declared] = engine.declare_operation(convoy((at(-10), at(60))), T0)
    assert declared.fields["state"] == "active"
    assert changes(engine.advance(at(500), inclusive=True)) == [("operation.ended", at(60))]
    [past] = engine.declare_operation(replace(convoy((at(0), at(10))), id="old"), at(600))
    assert past.fields["state"] == "ended" and engine.advance(at(10_000), inclusive=True) == []
    [open_ended] = engine.declare_operation(replace(convoy((None, None)), id="always"), at(700))
    assert open_ended.fields["state"] == "active" and engine.next_due() is None


def test_a_cancelled_operation_never_changes_state_again():
    engine = world()
    engine.declare_operation(convoy((at(60), at(120))), T0)
    engine.declare_operation(replace(convoy((at(0), at(120))), id="running"), T0)
    engine.cancel_operation(at(10), "convoy", "charlie", "the road is closed")
    engine.cancel_operation(at(10), "running", "charlie", "called off")
    assert engine.advance(at(1000), inclusive=True) == []
    assert engine.operation_state("convoy") == engine.operation_state("running") == "cancelled"


def test_an_amendment_reschedules_with_no_stale_or_second_change():
    engine = world()
    engine.declare_operation(convoy((at(60), at(120))), T0)
    amended = engine.amend_operation(convoy((at(90), at(150))), at(10), version=1)
    assert amended[0].fields["state"] == "planned"
    assert changes(engine.advance(at(1000), inclusive=True)) == [("operation.activated", at(90)),
                                                                 ("operation.ended", at(150))]


def test_an_amendment_of_an_active_operation_moves_its_end_or_puts_it_back_to_planned():
    engine = world()
    engine.declare_operation(convoy((at(0), at(60))), T0)
    moved = engine.amend_operation(convoy((at(0), at(90))), at(30), version=1)
    assert moved[0].fields["state"] == "active"
    postponed = engine.amend_operation(convoy((at(120), at(180))), at(40), version=2)
    assert postponed[0].fields["state"] == "planned" and engine.operation_state("convoy") == "planned"
    assert changes(engine.advance(at(1000), inclusive=True)) == [("operation.activated", at(120)),
                                                                 ("operation.ended", at(180))]


def test_an_amendment_at_the_time_a_change_falls_due_brings_it_once():
    engine = world()
    engine.declare_operation(convoy((at(60), at(120))), T0)
    # amended at 60, when the activation falls due (a command fires only what falls due before it)
    events = engine.amend_operation(convoy((at(60), at(130))), at(60), version=1)
    assert changes(events) == [] and events[0].fields["state"] == "active"
    assert changes(engine.advance(at(1000), inclusive=True)) == [("operation.ended", at(130))]


def test_the_changes_are_told_to_those_told_of_the_operation():
    engine = world()
    engine.declare_zone(Zone("z", TANF, ("alpha",), ("alpha",), proposer="alpha"), T0)
    engine.declare_operation(convoy((at(60), at(120)), shape=TANF), at(1))  # warned by alpha: in conflict
    fired = engine.advance(at(60), inclusive=True)
    [activated] = [e for e in fired if e.type == "operation.activated"]
    assert activated.fields["parties"] == ["alpha", "charlie"]


NEXT = {"operation.activated": ("planned", "active"), "operation.ended": ("active", "ended")}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 300), st.integers(1, 200),
                          st.sampled_from(["amend", "amend", "tick", "cancel"])), min_size=1, max_size=8))
def test_the_state_is_always_what_the_events_say_and_what_the_windows_give(steps):
    engine = world()
    t = T0
    [declared] = engine.declare_operation(convoy((at(50), at(100))), t)
    state = declared.fields["state"]
    for gap, start, length, action in steps:
        t += timedelta(minutes=gap)
        if action == "amend" and "convoy" not in engine.ended:
            events = engine.amend_operation(convoy((at(start), at(start + length))), t, engine.versions["convoy"])
        elif action == "cancel" and "convoy" not in engine.ended:
            events = engine.cancel_operation(t, "convoy", "charlie", "done")
        else:
            events = []
        for e in events + engine.advance(t, inclusive=True):
            assert state != "cancelled", "nothing after a cancellation"
            if e.type in NEXT:  # each change from the state before it: never twice, never stale
                before, after = NEXT[e.type]
                assert state == before, (e.type, state)
                state = after
            elif e.type == "operation.cancelled":
                state = "cancelled"
            elif e.type == "operation.amended":
                state = e.fields["state"]
        assert engine.operation_state("convoy") == state
        if state != "cancelled":
            assert state == state_at(engine.operations["convoy"], t)
