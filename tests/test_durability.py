"""A write answered 2xx is durable: kill the server with SIGKILL mid-stream, restart, find every write."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from deconfliction.cli import main
from deconfliction.log.store import open_store
from deconfliction.app.commands import position_reports


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str, port: int, log) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "deconfliction.cli", "serve", "--db", db, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise RuntimeError("server did not start")


@pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")
def test_every_acknowledged_write_survives_sigkill(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'live.db'}"
    tokens = {}
    for party, channels in (("coalition", ["russia"]), ("russia", ["militia"]), ("militia", [])):
        args = ["party", "add", party, "--db", db] + [a for c in channels for a in ("--channel", c)]
        assert main(args) == 0
        tokens[party] = capsys.readouterr().out.strip()
    port = free_port()
    log = open(tmp_path / "server.log", "wb")
    server = start_server(db, port, log)
    base = f"http://127.0.0.1:{port}"
    acked_batches, acked_messages = [], []

    def positions(lane: int) -> None:
        with httpx.Client(base_url=base, timeout=5) as client:
            for k in range(lane, 4000, 2):
                t = f"2026-01-01T{k // 3600:02d}:{k // 60 % 60:02d}:{k % 60:02d}Z"
                batch = [{"t": t, "id": f"unit-{lane}-{u}", "lon": 38.0 + u * 0.01 + k * 1e-4, "lat": 33.0}
                         for u in range(20)]
                headers = {"Authorization": f"Bearer {tokens['militia']}", "Idempotency-Key": f"batch-{k}"}
                try:
                    r = client.post("/v1/positions", json=batch, headers=headers)
                except httpx.HTTPError:
                    return
                if r.status_code == 202:
                    acked_batches.append(t)

    def messages() -> None:
        with httpx.Client(base_url=base, timeout=5) as client:
            for k in range(4000):
                try:
                    m = client.post("/v1/messages", json={"to": "militia", "kind": "advisory", "text": f"note {k}"},
                                    headers={"Authorization": f"Bearer {tokens['coalition']}"})
                except httpx.HTTPError:
                    return
                if m.status_code == 201:
                    acked_messages.append(m.json()["message"])

    writers = [threading.Thread(target=positions, args=(lane,)) for lane in (0, 1)]
    writers.append(threading.Thread(target=messages))
    for w in writers:
        w.start()
    while len(acked_batches) < 150 and all(w.is_alive() for w in writers):
        time.sleep(0.01)
    server.send_signal(signal.SIGKILL)  # while requests are in flight
    for w in writers:
        w.join(timeout=30)
    server.wait(timeout=10)
    assert acked_batches, "no write was acknowledged before the kill"

    store = open_store(db)
    commands = [(e.body, e.payload) for e in store.entries() if e.kind == "command"]
    store.close()
    stored_times = {position_reports(c, payload)[0]["t"] for c, payload in commands if c["type"] == "positions"}
    assert set(acked_batches) <= stored_times
    stored_messages = {c["id"] for c, _ in commands if c["type"] == "message.send"}
    assert set(acked_messages) <= stored_messages

    assert main(["log", "verify", "--db", db]) == 0
    assert "ok" in capsys.readouterr().out
    server = start_server(db, port, log)  # the restarted service replays its log and carries on
    try:
        r = httpx.get(f"{base}/v1/events", params={"limit": 10000},
                      headers={"Authorization": f"Bearer {tokens['militia']}"}, timeout=10)
        assert r.status_code == 200
        assert {e["message"] for e in r.json() if e["type"] == "message.delivered"} >= set(acked_messages)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
        log.close()
