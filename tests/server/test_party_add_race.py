"""``deconfliction party add`` in other processes while the service writes: both append to one log.

Each write must land (the service answers every request with success, every ``party add`` exits 0
with a token), the log stays one chain that verifies, every party is listed and can sign in, and a
restart rebuilds the same state."""
from __future__ import annotations

import subprocess
import sys
import threading

from deconfliction.log.store import open_store
from tests.server.test_log_cli import verify
from tests.server.world import OUTSIDE, World, at

ADDERS = 6
"""``party add`` processes, started three at a time."""


def party_add(store_url: str, key_path, party: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "deconfliction.cli", "party", "add", party, "--channel", "un",
                             "--db", store_url, "--key", str(key_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_party_add_in_other_processes_while_the_service_writes_positions(store_url, tmp_path, capsys):
    key_path = tmp_path / "k.key"
    world = World(store_url, key_path).add_parties()
    world.declare_tanf()
    stop, answers = threading.Event(), []

    def report() -> None:
        k = 0
        while not stop.is_set():
            k += 1
            world.clock.set(k / 600)
            batch = [{"t": at(k / 600), "id": f"u{i}", "lon": OUTSIDE[0] + k * 1e-5, "lat": OUTSIDE[1] + i * 1e-3}
                     for i in range(20)]
            try:
                r = world.post("/v1/positions", "militia", batch)
            except Exception as exc:  # noqa: BLE001 - the test client raises what the server raised (a 500)
                answers.append((500, repr(exc)[:300]))
            else:
                answers.append((r.status_code, "" if r.status_code == 202 else r.text[:300]))

    writer = threading.Thread(target=report)
    writer.start()
    done = {}
    try:
        for wave in range(0, ADDERS, 3):
            procs = {f"ngo-{k}": party_add(store_url, key_path, f"ngo-{k}") for k in range(wave, min(wave + 3, ADDERS))}
            for party, proc in procs.items():
                out, err = proc.communicate(timeout=120)
                done[party] = (proc.returncode, out.strip(), err)
    finally:
        stop.set()
        writer.join()

    failed = [(status, text) for status, text in answers if status != 202]
    assert len(answers) > 10 and not failed, failed[:3]
    for party, (code, token, err) in done.items():
        assert code == 0 and len(token) == 43 and not err, (party, code, err[-2000:])
    ngos = set(done)
    assert ngos <= {p.id for p in world.service.store.parties()}
    world.post("/v1/positions", "militia", [{"t": at(10), "id": "u0", "lon": OUTSIDE[0], "lat": OUTSIDE[1]}])
    assert ngos <= set(world.service.ledger.engine.parties)  # the service went on from their entries
    for party, (_, token, _) in done.items():  # each token signs in as its party
        r = world.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["party"] == party, r.text
    world.tokens.update({party: token for party, (_, token, _) in done.items()})
    views, head = world.all_views(), world.head()
    again = world.reopen()
    try:
        assert again.all_views() == views
        assert (again.head()["size"], again.head()["root"]) == (head["size"], head["root"])
        assert ngos <= set(again.service.ledger.engine.parties)
    finally:
        again.close()

    store = open_store(store_url)
    entries = store.entries()
    store.close()
    added = [e.body["id"] for e in entries if e.kind == "command" and e.body["type"] == "party.add"]
    assert sorted(a for a in added if a in ngos) == sorted(ngos)  # each added once
    code, out = verify(capsys, "--db", store_url, "--key", str(key_path))
    assert code == 0 and out.startswith(f"log verify: ok: {len(entries)} entries"), out
