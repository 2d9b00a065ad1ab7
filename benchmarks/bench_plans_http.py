"""Plan submission over HTTP against 100,000 active volumes: POST /v1/operations per second, per process.

A server process (this script with ``--serve``) opens the service on a temporary SQLite store
with 20 parties, puts 100,000 active one-volume operations into its engine the way
bench_plans.py does (straight into the plan index, not through the log, to keep the set-up
short), measures the baseline below, and serves the API on a free loopback port. This process
then submits 2,000 new operations (each one volume, parties in turn; about as many conflicts as
in bench_plans.py) with POST /v1/operations, one operation per request — validated, checked against zones and every other
party's plans, written to the durable log with their events and warnings, and answered — first
from 1 client, then from 8 concurrent clients (keep-alive connections, http.client); then
20,000 more in JSON arrays of 500 (each array one party's, all or none), from 1 and from 4
clients. Goal: >= 2,000 operations/s per process.

Baselines from the same run: the conflict check alone in the server process (Engine.check_operation
on 2,000 other operations, no HTTP, no log, no events), and the request floor (GET /v1/health
round trips from 1 client). Exit 0 whether or not the goal is met; non-zero on errors.
"""
from __future__ import annotations

import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

GOAL = 2_000
ACTIVE = 100_000
SUBMISSIONS = 2_000
CLIENTS = 8
BATCH = 500
"""Operations per array in the array runs (POST /v1/operations with a JSON array)."""
BATCHED = 20_000
"""Operations submitted in each array run."""
PARTIES = [f"operator-{k}" for k in range(20)]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def volume_spec(rng: random.Random) -> dict:
    """The same distribution as bench_plans.volume(), as the API takes it."""
    lon, lat = rng.uniform(30, 40), rng.uniform(28, 38)
    if rng.random() < 0.7:
        spec = {"geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                "radius_m": round(rng.uniform(100, 2000), 1)}
    else:
        end = [round(lon + rng.uniform(-0.05, 0.05), 6), round(lat + rng.uniform(-0.05, 0.05), 6)]
        spec = {"geometry": {"type": "LineString", "coordinates": [[round(lon, 6), round(lat, 6)], end]},
                "width_m": round(rng.uniform(50, 500), 1)}
    lower = round(rng.uniform(0, 400), 1)
    start = T0 + timedelta(minutes=int(rng.uniform(0, 24 * 60)))
    return {**spec, "altitude": {"lower_m": lower, "upper_m": round(lower + rng.uniform(20, 200), 1)},
            "window": {"start": stamp(start), "end": stamp(start + timedelta(minutes=int(rng.uniform(10, 120))))}}


# -- the server process -------------------------------------------------------------------------
def serve(port: int, workdir: Path) -> int:
    import uvicorn

    from deconfliction.server.app import create_app
    from deconfliction.app.commands import parse_items
    from deconfliction.server.service import Service, Settings

    service = Service(Settings(db=f"sqlite:///{workdir / 'plans.db'}", key_path=workdir / "plans.key"),
                      clock=lambda: T0)
    tokens = {p: service.add_party(p, p) for p in PARTIES}
    rng = random.Random(7)
    engine = service.ledger.engine
    started = time.perf_counter()
    specs = [{"id": f"op-{k}", "party": PARTIES[k % len(PARTIES)], "volumes": [volume_spec(rng)]}
             for k in range(ACTIVE)]
    for chunk in range(0, ACTIVE, 5_000):
        for op in parse_items(engine, "operations", specs[chunk:chunk + 5_000]).operations:
            engine._plans.add(op.id, op.volumes)  # bulk load without conflict checks, as bench_plans.py
            engine.operations[op.id] = op
    load_s = time.perf_counter() - started
    others = parse_items(engine, "operations", [{"id": f"check-{k}", "party": PARTIES[k % len(PARTIES)],
                                                 "volumes": [volume_spec(rng)]} for k in range(SUBMISSIONS)]).operations
    started, cpu = time.perf_counter(), time.thread_time()
    found = sum(len(engine.check_operation(op)) for op in others)
    check_rate = len(others) / (time.perf_counter() - started)
    check_cpu_rate = len(others) / (time.thread_time() - cpu)
    print(json.dumps({"tokens": tokens, "load_s": load_s, "check_rate": check_rate, "check_cpu_rate": check_cpu_rate,
                      "check_conflicts": found}), flush=True)
    uvicorn.run(create_app(service, run_clock=False), host="127.0.0.1", port=port, log_level="warning")
    service.stop()
    return 0


# -- this process -------------------------------------------------------------------------------
class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: bytes | None = None, token: str | None = None) -> tuple[int, dict]:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        return r.status, json.loads(r.read())


def submit(port: int, jobs: list[tuple[str, bytes]], clients: int) -> tuple[float, int]:
    """Seconds to POST every (token, body) from ``clients`` threads, and the conflicts reported
    (a body that is an array of operations answers with each one's conflicts)."""
    conflicts = [0] * clients
    errors: list[str] = []
    shares = [jobs[k::clients] for k in range(clients)]
    ready = threading.Barrier(clients + 1)

    def run(k: int) -> None:
        client = Client(port)
        client.call("GET", "/v1/health")
        ready.wait()
        for token, body in shares[k]:
            status, answer = client.call("POST", "/v1/operations", body, token)
            if status != 201:
                errors.append(f"{status} {answer}")
                return
            items = answer["operations"] if "operations" in answer else [answer]
            conflicts[k] += sum(len(item["conflicts"]) for item in items)

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(clients)]
    for th in threads:
        th.start()
    ready.wait(timeout=60)
    started = time.perf_counter()
    for th in threads:
        th.join(timeout=600)
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"POST /v1/operations failed: {errors[0]}")
    return seconds, sum(conflicts)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc), seconds."""
    import os
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        return serve(int(sys.argv[2]), Path(sys.argv[3]))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="bench-plans-http-") as tmp:
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), tmp], stdout=subprocess.PIPE, text=True)
        try:
            info = json.loads(server.stdout.readline())
            print(f"server: {ACTIVE:,} active volumes loaded in {info['load_s']:.1f} s")
            for _ in range(300):
                try:
                    if Client(port).call("GET", "/v1/health")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            tokens = info["tokens"]
            rng = random.Random(11)
            runs = {}
            for clients in (1, CLIENTS):
                jobs = []
                for k in range(SUBMISSIONS):
                    party = PARTIES[k % len(PARTIES)]
                    spec = {"id": f"new-{clients}-{k}", "volumes": [volume_spec(rng)]}
                    jobs.append((tokens[party], json.dumps(spec).encode()))
                seconds, conflicts = submit(port, jobs, clients)
                rate = SUBMISSIONS / seconds
                runs[clients] = rate
                print(f"plan submission over HTTP, {clients} client{'s' if clients > 1 else ''}: {SUBMISSIONS:,} "
                      f"operations in {seconds:.2f} s: {rate:,.0f} submissions/s, {conflicts:,} conflicts reported "
                      f"(goal >= {GOAL:,}/s: {'met' if rate >= GOAL else 'NOT met'})")
            batched = {}
            for clients in (1, 4):
                jobs = []
                for k in range(0, BATCHED, BATCH):
                    party = PARTIES[(k // BATCH) % len(PARTIES)]
                    specs = [{"id": f"arr-{clients}-{k + j}", "volumes": [volume_spec(rng)]} for j in range(BATCH)]
                    jobs.append((tokens[party], json.dumps(specs).encode()))
                cpu = cpu_seconds(server.pid)
                seconds, conflicts = submit(port, jobs, clients)
                cpu = cpu_seconds(server.pid) - cpu
                rate = BATCHED / seconds
                batched[clients] = rate
                print(f"plan submission over HTTP in arrays of {BATCH}, {clients} client{'s' if clients > 1 else ''}: "
                      f"{BATCHED:,} operations in {seconds:.2f} s: {rate:,.0f} operations/s, {conflicts:,} conflicts "
                      f"reported (goal >= {GOAL:,}/s: {'met' if rate >= GOAL else 'NOT met'}); the server process "
                      f"used {cpu:.2f} CPU-s: {BATCHED / cpu:,.0f} operations per CPU-second")
            health = Client(port)
            started = time.perf_counter()
            for _ in range(1_000):
                health.call("GET", "/v1/health")
            floor = 1_000 / (time.perf_counter() - started)
            best = max(runs.values())
            best_batched = max(batched.values())
            print(f"  baseline, the conflict check alone in the server process (no HTTP, log or events): "
                  f"{info['check_rate']:,.0f} checks/s ({info['check_cpu_rate']:,.0f} per CPU-second; "
                  f"{info['check_conflicts']:,} conflicts on {SUBMISSIONS:,}); "
                  f"HTTP submission reaches {best / info['check_rate']:.0%} of it one by one, "
                  f"{best_batched / info['check_rate']:.0%} in arrays")
            print(f"  baseline, request floor (GET /v1/health, 1 client): {floor:,.0f} requests/s; "
                  f"a submission costs {floor / runs[1]:.1f}x a health request (1 client)")
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
