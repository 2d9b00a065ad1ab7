"""One contract for every store backend: SQLite and PostgreSQL (over a real connection)."""
import threading

import pytest

from deconfliction.log.chain import GENESIS, PAYLOAD_DIGEST, check_chain, make_entry, payload_digest, tree_of
from deconfliction.log.signing import SigningKey, TreeHead
from deconfliction.log.store import Answer, PartyRecord, StoreError, open_store


def chain(n, start=1, prev=GENESIS):
    out = []
    for i in range(start, start + n):
        e = make_entry(i, "2017-06-06T00:00:00Z", "event", {"type": "zone.entered", "i": i, "text": "ü"}, prev)
        out.append(e)
        prev = e.hash
    return out


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()


def test_entries_round_trip_in_order_and_verify(store):
    entries = chain(5)
    store.write(entries[:2])
    store.write(entries[2:])
    assert store.entries() == entries
    assert store.entries(after=3) == entries[3:]
    assert store.entries(after=1, limit=2) == entries[1:3]
    assert check_chain(store.entries()) is None


def test_payloads_are_stored_beside_their_entries_byte_for_byte(store):
    first = chain(1)[0]
    payload = "[{\"t\":\"2017-06-06T00:00:00Z\",\"id\":\"ü-1\",\"lon\":1,\"lat\":2}]\n".encode() + bytes(range(32, 127))
    command = make_entry(2, "2017-06-06T00:00:00Z", "command",
                         {"type": "positions", PAYLOAD_DIGEST: payload_digest(payload)}, first.hash, payload)
    store.write([first, command])
    got = store.entries()
    assert [e.payload for e in got] == [None, payload] and got == [first, command]
    assert store.payload(2) == payload and store.payload(1) is None and store.payload(3) is None
    assert check_chain(got) is None


def test_a_failed_write_leaves_nothing_behind(store):
    entries = chain(3)
    store.write(entries[:1])
    with pytest.raises(Exception):
        store.write([entries[1], entries[0]])  # the second row repeats seq 1
    assert store.entries() == entries[:1]


def test_heads_and_idempotent_answers_are_written_with_the_entries(store):
    key = SigningKey.generate()
    entries = chain(3)
    head = key.sign(TreeHead(3, tree_of(entries).root(), "2017-06-06T00:00:01Z"))
    store.write(entries, head, [("un", "key-1", Answer("sha", 201, '{"ok": true}'))])
    assert store.heads() == [head]
    assert store.answer("un", "key-1") == Answer("sha", 201, '{"ok": true}')
    assert store.answer("coalition", "key-1") is None


def test_the_latest_head_is_the_largest_and_answers_can_come_in_groups(store):
    key = SigningKey.generate()
    entries = chain(4)
    assert store.latest_head() is None
    first = key.sign(TreeHead(2, tree_of(entries[:2]).root(), "2017-06-06T00:00:01Z"))
    second = key.sign(TreeHead(4, tree_of(entries).root(), "2017-06-06T00:00:02Z"))
    store.write(entries[:2], first)
    store.write(entries[2:], second, answers=[("un", "a", Answer("r1", 201, "{}")), ("un", "b", Answer("r2", 202, "{}"))])
    assert store.latest_head() == second and store.heads() == [first, second]
    assert store.answer("un", "a").status == 201 and store.answer("un", "b").status == 202


def test_parties_are_added_listed_and_revoked(store):
    store.add_party(PartyRecord("un", "UN agency", "h1", ("coalition",), True, "2017-06-06T00:00:00Z"))
    with pytest.raises(StoreError):
        store.add_party(PartyRecord("un", "again", "h2", (), False, "2017-06-06T00:00:00Z"))
    assert [p.id for p in store.parties()] == ["un"]
    assert store.parties()[0].channels == ("coalition",) and store.parties()[0].coordinator
    assert store.revoke("un", "2017-06-07T00:00:00Z") and not store.revoke("un", "2017-06-08T00:00:00Z")
    assert store.parties()[0].revoked == "2017-06-07T00:00:00Z"


def test_reopening_finds_everything_and_migrations_run_once(store_url):
    first = open_store(store_url)
    first.write(chain(2))
    first.close()
    again = open_store(store_url)
    assert len(again.entries()) == 2
    again.close()


def test_a_store_of_the_first_schema_is_migrated_and_keeps_its_entries(store_url):
    """A log written before payloads had their column (its positions commands hold the body in the
    entry) opens, gains the column, reads back as written and verifies."""
    from deconfliction.log import store as stores

    old = chain(3)
    first = open_store(store_url)
    with first._writing() as cur:  # back to the first schema, as an older release left it
        cur.execute("DROP TABLE entries")
        cur.execute("DROP TABLE heads")
        cur.execute("DROP TABLE parties")
        cur.execute("DROP TABLE idempotency")
        cur.execute("DELETE FROM schema_migrations")
        for statement in filter(str.strip, stores.MIGRATIONS[0].split(";")):
            cur.execute(statement)
        cur.execute(first._q("INSERT INTO schema_migrations (version) VALUES (?)"), (1,))
        cur.executemany(first._q("INSERT INTO entries (seq, t, kind, body, prev, hash) VALUES (?, ?, ?, ?, ?, ?)"),
                        [(e.seq, e.t, e.kind, e.body_json().decode(), e.prev, e.hash) for e in old])
    first.close()
    again = open_store(store_url)
    try:
        assert again.entries() == old and all(e.payload is None for e in again.entries())
        assert check_chain(again.entries()) is None
        assert again._read("SELECT MAX(version) FROM schema_migrations")[0][0] == len(stores.MIGRATIONS)
    finally:
        again.close()


def test_concurrent_writers_are_serialised(store):
    entries = chain(40)
    errors = []

    def write(part):
        try:
            for e in part:
                store.write([e])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    # writes of disjoint rows from several threads: none lost, none interleaved inside a write
    threads = [threading.Thread(target=write, args=(entries[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(e.seq for e in store.entries()) == list(range(1, 41))


def test_unknown_store_urls_are_refused():
    with pytest.raises(StoreError, match="sqlite:///PATH"):
        open_store("mysql://x")
