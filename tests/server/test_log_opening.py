"""An untampered log always verifies and opens: whatever the physical order of its rows, while
another process writes to it, and however the wall clocks that signed its heads stepped."""
import threading
from datetime import UTC, datetime, timedelta

from deconfliction.cli import main
from deconfliction.engine.events import format_time
from deconfliction.log.signing import SigningKey
from deconfliction.log.store import open_store
from tests.server.test_log_cli import busy, verify
from tests.server.test_log_verify import resign
from tests.server.world import INSIDE, OUTSIDE, World, at


def test_rows_in_another_physical_order_still_verify(store_url, tmp_path, capsys):
    """PostgreSQL returns rows in heap order, which updates, HOT and VACUUM change; an SQLite row
    deleted and put back moves to the end. Neither changes the log."""
    key_path = tmp_path / "k.key"
    busy(World(store_url, key_path).add_parties()).close()
    store = open_store(store_url)
    with store._writing() as cur:
        if store_url.startswith("postgresql"):
            cur.execute("UPDATE entries SET t = t WHERE seq % 3 = 1")  # new row versions, later in the heap
        else:
            rows = [r for r in store._read("SELECT seq, t, kind, body, prev, hash, payload FROM entries") if r[0] % 3 == 1]
            cur.execute("DELETE FROM entries WHERE seq % 3 = 1")
            cur.executemany("INSERT INTO entries (seq, t, kind, body, prev, hash, payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            rows)
    physical = [r[0] for r in store._read("SELECT seq, body FROM entries")]  # no ORDER BY: the rows as stored
    store.close()
    assert physical != sorted(physical)  # the condition is real
    code, out = verify(capsys, "--db", store_url, "--key", str(key_path))
    assert code == 0 and out.startswith(f"log verify: ok: {len(physical)} entries"), out
    World(store_url, key_path).close()  # and the service opens it


def test_an_empty_store_is_served(store_url, tmp_path, capsys, no_server):
    assert main(["serve", "--db", store_url, "--key", str(tmp_path / "new.key")]) == 0 and len(no_server) == 1
    store = open_store(store_url)
    assert store.entries() == [] and store.heads() == []
    store.close()


def test_the_log_opens_and_verifies_while_the_service_writes(store_url, tmp_path, capsys):
    """Other processes open the log (``party list``, which replays it and checks its heads, and
    ``log verify``) while the service appends to it: what they read is never taken for a cut tail
    or for entries without a head."""
    key_path = tmp_path / "k.key"
    world = World(store_url, key_path).add_parties()
    world.declare_tanf()
    stop, written = threading.Event(), []

    def report() -> None:
        k = 0
        while not stop.is_set():
            k += 1
            r = world.post("/v1/positions", "militia", [{"t": at(1), "id": f"t{k}", "lon": OUTSIDE[0], "lat": OUTSIDE[1]}])
            written.append(r.status_code)

    writer = threading.Thread(target=report)
    writer.start()
    try:
        for _ in range(8):
            assert main(["party", "list", "--db", store_url, "--key", str(key_path)]) == 0
            assert main(["log", "verify", "--db", store_url, "--key", str(key_path)]) == 0
            out = capsys.readouterr()
            assert "ok:" in out.out and not out.err, out
    finally:
        stop.set()
        writer.join()
    world.close()
    assert len(written) > 8 and set(written) == {202}


def test_parties_added_by_another_process_are_covered_by_heads(store_url, tmp_path, capsys):
    """``party add`` appends to the log of a running service (from another process): its entries
    come with their signed head, the service goes on from them, and the log verifies."""
    key_path = tmp_path / "k.key"
    world = World(store_url, key_path).add_parties()
    world.declare_tanf()
    for k in range(3):
        world.report("militia", "u1", (OUTSIDE, INSIDE)[k % 2], k + 1)
        assert main(["party", "add", f"ngo-{k}", "--db", store_url, "--key", str(key_path)]) == 0
        store = open_store(store_url)
        assert store.latest_head().size == len(store.entries())
        assert store.entries()[-1].body == {"type": "party.add", "id": f"ngo-{k}", "name": "", "channels": []}
        store.close()
    world.report("militia", "u1", OUTSIDE, 5)  # the service applies the other process's entries and goes on
    assert {"ngo-0", "ngo-1", "ngo-2"} <= set(world.service.ledger.engine.parties)
    world.close()
    code, out = verify(capsys, "--db", store_url, "--key", str(key_path))
    assert code == 0 and "ok:" in out, out


def test_a_head_signed_by_a_clock_that_was_ahead_is_not_undercut(tmp_path, capsys):
    """The wall clock stepped back (within the tolerated skew) since the last head was signed: the
    next head is not signed earlier than it, so the log keeps verifying."""
    db, key_path = f"sqlite:///{tmp_path / 'log.db'}", tmp_path / "log.key"
    World(db, key_path).add_parties().close()
    store = open_store(db)
    last = store.latest_head()
    ahead = format_time(datetime.now(UTC) + timedelta(seconds=60))
    with store._writing() as cur:
        cur.execute("DELETE FROM heads WHERE size = ?", (last.size,))
    store.write([], resign(SigningKey.load(key_path), last, time=ahead))
    store.close()
    assert main(["party", "add", "late", "--db", db]) == 0
    code, out = verify(capsys, "--db", db)
    assert code == 0, out


def test_a_head_another_process_signed_ahead_is_not_undercut(tmp_path, capsys, monkeypatch):
    """Another process (``party add``, its clock 60 s ahead) signed the newest head: the running
    service, catching up with its entries, does not sign its next head earlier."""
    from deconfliction.app import ledger

    class Ahead(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(seconds=60)

    db, key_path = f"sqlite:///{tmp_path / 'log.db'}", tmp_path / "log.key"
    world = World(db, key_path).add_parties()
    with monkeypatch.context() as patch:
        patch.setattr(ledger, "datetime", Ahead)
        assert main(["party", "add", "late", "--db", db]) == 0
    world.declare_tanf()
    heads = world.service.store.heads()
    world.close()
    assert heads[-1].time >= heads[-2].time
    code, out = verify(capsys, "--db", db)
    assert code == 0, out
