"""Two writers on one log: a write that finds its entry numbers taken catches up and lands after the
other's entries; a party's record is stored with its ``party.add`` entry or not at all."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deconfliction.app.commands import apply
from deconfliction.app.ledger import Ledger
from deconfliction.engine.model import Policy
from deconfliction.log.chain import check_chain
from deconfliction.log.signing import SigningKey
from deconfliction.log.store import MemoryStore, PartyRecord, StoreError
from deconfliction.log.verify import check_log
from deconfliction.server.tokens import token_hash
from deconfliction.server.service import Service, Settings

T0 = datetime(2017, 6, 6, 5, 0, tzinfo=UTC)


def party(pid: str, *channels: str) -> dict:
    return {"type": "party.add", "id": pid, "name": "", "channels": list(channels)}


class Overtaken(MemoryStore):
    """A store on which another writer appends just before the next write (as a writer that does not
    wait for the store's lock would): ``before_write`` runs once, then the write goes on."""

    def __init__(self):
        super().__init__()
        self.before_write = None

    def write(self, *args, **kwargs) -> None:
        hook, self.before_write = self.before_write, None
        if hook is not None:
            hook()
        super().write(*args, **kwargs)


def test_a_write_whose_entry_numbers_were_taken_catches_up_and_lands_after_the_other():
    store, key = Overtaken(), SigningKey.generate()
    ours, theirs = Ledger(store, key, Policy(), apply), Ledger(store, key, Policy(), apply)
    ours.execute(party("a"), T0)
    message = {"type": "message.send", "id": "m1", "from": "a", "to": "b", "kind": "info", "text": "", "ref": None}
    store.before_write = lambda: theirs.execute(party("b", "a"), T0 + timedelta(seconds=1))
    # ours applies the party, then finds entry 2 taken by theirs: it catches up and writes after it
    ours.execute(party("c"), T0 + timedelta(seconds=2))
    events, _ = ours.execute(message, T0 + timedelta(seconds=3))  # b is known to ours now
    assert [e.type for e in events] == ["message.sent", "message.delivered"]
    entries = store.entries()
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert check_chain(entries) is None
    assert check_log(entries, store.heads(), key.public_pem(), datetime.now(UTC)) is None
    assert [e.body["id"] for e in entries if e.body["type"] == "party.add"] == ["a", "b", "c"]
    assert set(ours.engine.parties) == {"a", "b", "c"}
    again = Ledger(store, key, Policy(), apply)  # and the log replays to the same
    assert [e.hash for e in again.entries] == [e.hash for e in ours.entries] == [e.hash for e in entries]


def test_a_memory_store_refuses_entry_numbers_that_are_taken():
    store, key = MemoryStore(), SigningKey.generate()
    Ledger(store, key, Policy(), apply).execute(party("a"), T0)
    stale = Ledger(MemoryStore(), key, Policy(), apply)
    stale.execute(party("b"), T0)
    with pytest.raises(StoreError, match="entry 1"):
        store.write(stale.store.entries())
    assert [e.body["id"] for e in store.entries()] == ["a"]


def fails_once(write):
    calls = []

    def failing(*args, **kwargs):
        if not calls:
            calls.append(1)
            raise StoreError("the disk is full")
        return write(*args, **kwargs)
    return failing


def test_a_party_whose_log_entry_could_not_be_written_is_not_stored_and_can_be_added_again(store_url, tmp_path):
    service = Service(Settings(db=store_url, key_path=tmp_path / "k.key"))
    try:
        service.add_party("coalition")
        service.store.write = fails_once(service.store.write)
        with pytest.raises(StoreError, match="disk is full"):
            service.add_party("ngo", "NGO", ("coalition",))
        assert [p.id for p in service.store.parties()] == ["coalition"]  # neither the record nor the entry
        assert "ngo" not in service.ledger.engine.parties
        token = service.add_party("ngo", "NGO", ("coalition",))
        assert service.viewer(token).party == "ngo"
        assert [p.id for p in service.store.parties()] == ["coalition", "ngo"]
        added = [e.body["id"] for e in service.store.entries() if e.body["type"] == "party.add"]
        assert added == ["coalition", "ngo"]
        with pytest.raises(StoreError, match="exists already"):
            service.add_party("ngo")
    finally:
        service.stop()


def test_a_party_record_without_its_log_entry_is_replaced_when_the_party_is_added(store_url, tmp_path):
    """A record an earlier release stored before its ``party.add`` failed: the party is not in the
    log, so adding it again stores it with a new token; the old record's token does not sign in."""
    service = Service(Settings(db=store_url, key_path=tmp_path / "k.key"))
    try:
        service.add_party("coalition")
        service.store.add_party(PartyRecord("ngo", "", token_hash("lost token"), (), False, "2017-06-06T00:00:00Z"))
        token = service.add_party("ngo", "NGO")
        assert service.viewer(token).party == "ngo" and service.viewer("lost token") is None
        [record] = [p for p in service.store.parties() if p.id == "ngo"]
        assert record.name == "NGO" and record.token_hash == token_hash(token)
    finally:
        service.stop()
