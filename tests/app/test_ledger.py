"""The ledger: refusals change nothing, a command that fails half-applied cannot corrupt the others."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deconfliction.app.commands import apply
from deconfliction.app.ledger import Ledger, Request
from deconfliction.engine.model import Party, Policy
from deconfliction.errors import Refused
from deconfliction.log.signing import SigningKey
from deconfliction.log.store import MemoryStore

T0 = datetime(2017, 6, 6, 5, 0, 0, 123456, tzinfo=UTC)


def half_applying(engine, command, t, prepared=None, payload=None):
    """apply(), and a command kind that changes the engine and then fails (a bug in a rule)."""
    if command["type"] == "half":
        engine.add_party(Party(command["id"]), t)
        raise RuntimeError("failed after a change")
    return apply(engine, command, t, prepared, payload)


def party(pid: str) -> dict:
    return {"type": "party.add", "id": pid, "name": "", "channels": []}


def test_a_command_failing_half_applied_fails_alone_and_the_others_land():
    store, key = MemoryStore(), SigningKey.generate()
    ledger = Ledger(store, key, Policy(), half_applying)
    outcomes = ledger.execute_many([Request(party("a"), T0), Request({"type": "half", "id": "ghost"}, T0),
                                    Request(party("a"), T0), Request(party("b"), T0)])
    assert isinstance(outcomes[1], RuntimeError)
    assert isinstance(outcomes[2], Refused)  # a is known: a refusal, answered in place
    assert [type(o) for o in (outcomes[0], outcomes[3])] == [tuple, tuple]
    assert set(ledger.engine.parties) == {"a", "b"}  # not the ghost of the failed command
    again = Ledger(store, key, Policy(), apply)
    assert set(again.engine.parties) == {"a", "b"}
    assert [e.hash for e in again.entries] == [e.hash for e in ledger.entries]


def test_a_lone_failing_command_raises_and_leaves_the_engine_as_the_log_has_it():
    store, key = MemoryStore(), SigningKey.generate()
    ledger = Ledger(store, key, Policy(), half_applying)
    ledger.execute(party("a"), T0)
    with pytest.raises(RuntimeError):
        ledger.execute({"type": "half", "id": "ghost"}, T0 + timedelta(seconds=1))
    assert set(ledger.engine.parties) == {"a"}


def test_commands_are_applied_at_the_time_the_log_keeps():
    ledger = Ledger(MemoryStore(), SigningKey.generate(), Policy(), apply)
    ledger.execute_many([Request(party("a"), T0), Request(party("b"), T0)])
    message = {"type": "message.send", "id": "m1", "from": "a", "to": "b", "kind": "info", "text": "", "ref": None}
    [(events, _)] = ledger.execute_many([Request(message, T0 + timedelta(microseconds=700))])
    assert ledger.entries[-1].t == "2017-06-06T05:00:00.124Z"
    assert {e.t for e in events} == {datetime(2017, 6, 6, 5, 0, 0, 124000, tzinfo=UTC)}
