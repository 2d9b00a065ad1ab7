"""Group commit: commands waiting for the writer are made durable together, each keeping its own answer."""
from __future__ import annotations

import json
import threading
import time

import pytest

from deconfliction.errors import DeconflictionError
from deconfliction.log.chain import check_chain

from tests.server.world import TANF, at


def _positions(track: str, minutes: float) -> dict:
    body = json.dumps([{"t": at(minutes), "id": track, "lon": 39.8, "lat": 33.51}])
    return {"type": "positions", "party": "militia", "format": "json", "body": body}


def _received(events):
    return 202, {"events": len(events)}


def _queue_while_busy(world, items):
    """Submit ``items`` while the writer is held, so that they wait and are committed as one group."""
    service = world.service
    with service.ledger.lock:
        blocker = service.submit({"type": "zone.declare", "party": "coalition", "zone": TANF}, _received)
        deadline = time.monotonic() + 60
        while not service._writes.empty() and time.monotonic() < deadline:
            time.sleep(0.01)  # until the writer has taken the blocker (it then waits for the lock)
        time.sleep(0.05)
        futures = [service.submit(*item) for item in items]
    assert blocker.result(timeout=120)[0] == 202
    return futures


def test_waiting_commands_share_one_commit_and_keep_their_own_answers(store_url, make_world):
    world = make_world(store_url)
    world.clock.set(1)
    heads_before = len(world.service.store.heads())
    key = ("militia", "k1")
    futures = _queue_while_busy(world, [
        (_positions("u1", 1), _received, key, "fingerprint-a"),
        ({"type": "zone.declare", "party": "coalition", "zone": TANF}, _received),  # refused: declared already
        (_positions("u1", 1), _received, key, "fingerprint-a"),  # a retry of the first, in the same group
        (_positions("u2", 1), _received, key, "fingerprint-b"),  # the same key for another request
        (_positions("u3", 1), _received),
    ])
    first, refused, retry, reused, last = futures
    assert first.result(timeout=120) == (202, {"events": 0})
    with pytest.raises(DeconflictionError, match="already declared"):
        refused.result(timeout=120)
    assert retry.result(timeout=120) == first.result()
    status, body = reused.result(timeout=120)
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"
    assert last.result(timeout=120)[0] == 202

    store = world.service.store
    commands = [e.body for e in store.entries() if e.kind == "command" and e.body["type"] == "positions"]
    assert len(commands) == 2  # u1 once (not the retry), u3; nothing of the refused or reused ones
    assert check_chain(store.entries()) is None
    assert len(store.heads()) == heads_before + 2  # the blocker's commit, then one for the whole group
    assert store.answer(*key).request == "fingerprint-a"
    assert world.service.ledger.engine.tracks.party_of("u3") == "militia"


def test_a_retry_after_the_group_gets_the_stored_answer(world):
    world.clock.set(1)
    key = ("militia", "k2")
    [first] = _queue_while_busy(world, [(_positions("u1", 1), _received, key, "f")])
    assert world.service.execute(_positions("u1", 1), _received, key, "f") == first.result(timeout=120)
    positions = [e for e in world.service.store.entries() if e.kind == "command" and e.body["type"] == "positions"]
    assert len(positions) == 1


def test_many_writers_at_once_all_land_in_order_and_the_log_replays(store_url, make_world):
    world = make_world(store_url)
    world.clock.set(1)
    results: dict[str, tuple] = {}

    def post(k: int) -> None:
        for n in range(10):
            track = f"w{k}-{n}"
            results[track] = world.service.execute(_positions(track, 1), _received)

    threads = [threading.Thread(target=post, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert len(results) == 80 and all(r[0] == 202 for r in results.values())
    head = world.head()
    reopened = world.reopen()
    try:
        assert reopened.head()["root"] == head["root"]
        assert len(reopened.service.ledger.engine.tracks) == 80
    finally:
        reopened.close()


def test_a_write_the_store_refuses_leaves_the_ledger_as_the_store_has_it(world, monkeypatch):
    world.clock.set(1)
    ledger, store = world.service.ledger, world.service.store
    before = (len(ledger.entries), ledger.tree.root(), len(ledger.engine.tracks))

    def refuse(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "write", refuse)
    with pytest.raises(OSError):
        world.service.execute(_positions("u1", 1), _received)
    assert (len(ledger.entries), ledger.tree.root(), len(ledger.engine.tracks)) == before
    monkeypatch.undo()
    assert world.service.execute(_positions("u1", 1), _received)[0] == 202
    assert len(ledger.tree) == len(ledger.entries) == len(store.entries())
    assert check_chain(store.entries()) is None
