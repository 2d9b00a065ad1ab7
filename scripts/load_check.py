"""A load run against a real ``deconfliction serve``: writers for a while, then the log must verify and restart.

Four writer processes (coalition, russia, militia and un, each with its own token) post batches
of position reports for ``--seconds`` (default 60): each party's units fly at 250 m/s towards the
next party's units, 0.18 degrees apart, with report times to the microsecond, so that the engine
predicts closest approaches and sees losses of separation all the time; now and then a writer
sends a message with a text in several scripts. Then the service is stopped, ``log verify``
must pass on the store, the service must start again on it, and every party must see exactly
the events it saw before the stop. Prints what was written and what was checked; exit 1 when a
check fails.

    python3 scripts/load_check.py [--seconds 60] [--db postgresql://...]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_service import Server, add_party  # noqa: E402 - the benchmark's server harness

PARTIES = ("coalition", "russia", "militia", "un")
UNITS = 20


def writer(port: int, token: str, index: int, seconds: float, counts) -> None:
    """Batches of this party's units, flying east (even index) or west (odd) at 250 m/s."""
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                          timeout=30)
    lon0, heading = 38.0 + 0.18 * (index % 2), 90 if index % 2 == 0 else 270
    start, batches, errors = time.monotonic(), 0, 0
    while (elapsed := time.monotonic() - start) < seconds:
        now = datetime.now(UTC)
        t = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # microseconds: more than the log keeps
        drift = 250 * elapsed / 92_500 * (1 if heading == 90 else -1)  # degrees of longitude flown
        reports = [{"t": t, "id": f"p{index}-{k}", "lon": lon0 + drift, "lat": 33.5 + 0.001 * k + 0.0005 * index,
                    "alt_m": 3000.0, "speed_mps": 250.0, "course_deg": heading} for k in range(UNITS)]
        r = client.post("/v1/positions", json=reports)
        errors += r.status_code >= 500
        if batches % 50 == 0:
            to = PARTIES[(index + 1) % len(PARTIES)]
            r = client.post("/v1/messages", json={"to": to, "kind": "info", "text": f"Unité {batches} — 前进 ✈"})
            errors += r.status_code >= 500
        batches += 1
    counts.put((batches, errors))
    client.close()


def views(port: int, tokens: dict) -> dict:
    out = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for party, token in tokens.items():
            events, after = [], 0
            while True:
                page = client.get(f"/v1/events?after={after}&limit=10000",
                                  headers={"Authorization": f"Bearer {token}"}).json()
                if not page:
                    break
                events += page
                after = page[-1]["seq"]
            out[party] = events
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--db", help="a store URL (default: a new SQLite file)")
    args = parser.parse_args()
    from deconfliction.cli import main as cli
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        os.chdir(workdir)  # the CLI and the server find the signing key in one place
        db = args.db or f"sqlite:///{workdir / 'load.db'}"
        tokens = {p: add_party(db, p, *(q for q in PARTIES if q != p)) for p in PARTIES}
        server = Server(db, workdir)
        server.wait_ready()
        counts = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=writer, args=(server.port, tokens[p], i, args.seconds, counts))
                 for i, p in enumerate(PARTIES)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        written = [counts.get() for _ in procs]
        before = views(server.port, tokens)
        server.stop()
        batches, errors = sum(b for b, _ in written), sum(e for _, e in written)
        kinds: dict[str, int] = {}
        for e in before["coalition"]:
            kinds[e["type"]] = kinds.get(e["type"], 0) + 1
        print(f"load: {len(procs)} writers, {args.seconds:.0f} s, {batches} batches ({batches * UNITS} reports), "
              f"{errors} answers of 500 or above; coalition saw {len(before['coalition'])} events: "
              + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        verified = cli(["log", "verify", "--db", db]) == 0
        started = time.monotonic()
        server = Server(db, workdir)
        server.wait_ready(limit_s=600)
        restart_s = time.monotonic() - started
        after = views(server.port, tokens)
        server.stop()
        same = after == before
        print(f"load: log verify {'ok' if verified else 'FAILED'}; restart in {restart_s:.1f} s; "
              f"views after the restart {'equal' if same else 'DIFFER'} for {len(tokens)} parties")
        if not same:
            for p in tokens:
                if after[p] != before[p]:
                    print(f"  {p}: {len(before[p])} events before, {len(after[p])} after", file=sys.stderr)
        return 0 if verified and same and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
