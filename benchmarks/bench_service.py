"""The live service over HTTP: position ingest into the durable store, and alert latency.

Starts ``deconfliction serve`` on a free loopback port with a temporary SQLite store (parties
``coalition`` with a line to ``russia``, ``russia`` with a line to ``militia``, and ``militia``,
added with ``deconfliction party add`` before the server starts), declares a 5 km circle zone as
coalition, then measures, with baselines from the same run:

1. Position ingest: POST /v1/positions as militia, batches of 1,000 reports (a JSON array, each
   batch a new time, units spread over about 15 x 15 degrees so nearly all are far from the zone),
   3 rounds of 200 batches sequentially from one client (each round printed, then the median:
   this shared machine's speed moves by a third between seconds), then 200 batches from each of
   2 concurrent clients (each a process of its own; lean http.client keep-alive connections).
   Goal: >= 200,000 reports/s per process. Also printed: the CPU time the server process used in
   each sequential round (from /proc), as reports per CPU-second, which does not depend on how
   much of this 2-core machine the clients take. Baselines: the storage floor (SQLite executemany of the same rows in this
   process, one transaction per batch, WAL, synchronous=FULL) and the request floor
   (GET /v1/health round trips per second; there is no endpoint that takes a body and does nothing).
2. Alert latency: militia holds /v1/stream open; 200 times a single-report batch puts a new militia
   track inside the zone; the latency is from just before the POST to the arrival on the stream of
   the ``message.delivered`` event of that track's automatic warning (message ``ZONE/TRACK/1``).
   Goal: p99 <= 50 ms. Baseline: GET /v1/health round trip.

All traffic goes to 127.0.0.1. Exit 0 whether or not the goals are met; non-zero on errors.
"""
from __future__ import annotations

import contextlib
import http.client
import multiprocessing
import os
import io
import json
import math
import random
import signal
import statistics
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from deconfliction.cli import main as cli_main

BATCH = 1_000
BATCHES = 200
ROUNDS = 3
"""The one-client ingest is measured this many times (rounds of BATCHES batches): this shared machine's
speed moves by a third from one second to the next, so each round is printed, and the median."""
CLIENTS = 2
HEALTH_ROUNDS = 2_000
ALERTS = 200
INGEST_GOAL = 200_000  # reports/s per process
LATENCY_GOAL_MS = 50.0  # p99
ZONE_LON, ZONE_LAT, ZONE_RADIUS_M = 38.6178, 34.02, 5_000
ZONE = {"id": "base", "name": "Base", "kind": "protected_site", "parties": ["coalition"],
        "geometry": {"type": "Point", "coordinates": [ZONE_LON, ZONE_LAT]}, "radius_m": ZONE_RADIUS_M}
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class BenchError(Exception):
    """The benchmark could not run as intended (not a missed goal)."""


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return sorted_values[max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def add_party(db: str, party: str, *channels: str) -> str:
    args = ["party", "add", party, "--db", db]
    for c in channels:
        args += ["--channel", c]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli_main(args)
    if code != 0:
        raise BenchError(f"party add {party} exited {code}")
    return out.getvalue().strip()


class Server:
    """``deconfliction serve`` in a subprocess; always stopped by :meth:`stop`."""

    def __init__(self, db: str, workdir: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "serve.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - open while the server runs; closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deconfliction.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--db", db], stdout=self._log, stderr=subprocess.STDOUT, cwd=workdir)

    def wait_ready(self, limit_s: float = 60.0) -> None:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.base}/v1/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise BenchError(f"the server did not answer /v1/health within {limit_s:.0f} s:\n{self.output()}")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> str:
        """SIGTERM; then SIGINT (uvicorn's forced exit on a second signal); then SIGKILL. Says how it went."""
        started = time.perf_counter()
        how = f"had exited with {self.proc.returncode}" if self.proc.poll() is not None else "killed"
        if self.proc.poll() is None:
            for sig, grace, name in ((signal.SIGTERM, 5, "SIGTERM"), (signal.SIGINT, 5, "SIGTERM, then SIGINT")):
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout=grace)
                    how = name
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return f"{how} in {time.perf_counter() - started:.1f} s"


def batches(prefix: str, count: int, start: datetime, rng: random.Random) -> tuple[list[list[dict]], list[bytes]]:
    """``count`` batches of BATCH reports of units ``prefix-N``; batch k is at ``start`` + k seconds.

    Units start spread over lon 30..45, lat 25..40 (nearly all far from the zone) and move a little.
    """
    units = [(rng.uniform(30, 45), rng.uniform(25, 40), rng.uniform(0, 360)) for _ in range(BATCH)]
    reports, bodies = [], []
    for k in range(count):
        t = stamp(start + timedelta(seconds=k))
        batch = []
        for i, (lon, lat, course) in enumerate(units):
            step = 10.0 * k / 111_000  # 10 m/s, in degrees (roughly)
            batch.append({"t": t, "id": f"{prefix}-{i}", "lon": round(lon + step * math.sin(math.radians(course)), 6),
                          "lat": round(lat + step * math.cos(math.radians(course)), 6), "alt_m": 500.0,
                          "speed_mps": 10.0, "course_deg": round(course, 1)})
        reports.append(batch)
        bodies.append(json.dumps(batch, separators=(",", ":")).encode())
    return reports, bodies


def post_batch(client: httpx.Client, body: bytes) -> dict:
    r = client.post("/v1/positions", content=body, headers={"content-type": "application/json"})
    if r.status_code != 202:
        raise BenchError(f"POST /v1/positions: {r.status_code} {r.text[:500]}")
    return r.json()


class Poster:
    """A lean keep-alive client for the ingest runs (http.client), so the client's own CPU use,
    on the same machine, takes less from the server."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}

    def post(self, body: bytes) -> dict:
        self.conn.request("POST", "/v1/positions", body=body, headers=self.headers)
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 202:
            raise BenchError(f"POST /v1/positions: {r.status} {data[:500]!r}")
        return json.loads(data)

    def close(self) -> None:
        self.conn.close()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def client_for(server: Server, token: str | None = None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.base, headers=headers, timeout=TIMEOUT)


# -- baselines ------------------------------------------------------------------------------
def sqlite_floor(workdir: Path, reports: list[list[dict]]) -> float:
    """Seconds to store the same rows with executemany, one transaction per batch, WAL, synchronous=FULL."""
    conn = sqlite3.connect(str(workdir / "floor.db"), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE reports (t TEXT NOT NULL, id TEXT NOT NULL, party TEXT NOT NULL, lon REAL NOT NULL, "
                     "lat REAL NOT NULL, alt_m REAL, speed_mps REAL, course_deg REAL)")
        rows = [[(r["t"], r["id"], "militia", r["lon"], r["lat"], r["alt_m"], r["speed_mps"], r["course_deg"])
                 for r in batch] for batch in reports]
        started = time.perf_counter()
        for batch in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        stored = conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
    finally:
        conn.close()
    if stored != sum(map(len, rows)):
        raise BenchError(f"the SQLite floor stored {stored} rows")
    return seconds


def health_round_trips(server: Server, rounds: int) -> tuple[float, list[float]]:
    """(seconds, sorted round trips in ms) of sequential GET /v1/health on one keep-alive connection."""
    with client_for(server) as client:
        for _ in range(50):  # warm the connection and the server's thread pool
            client.get("/v1/health")
        times = []
        started = time.perf_counter()
        for _ in range(rounds):
            t0 = time.perf_counter()
            r = client.get("/v1/health")
            times.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise BenchError(f"GET /v1/health: {r.status_code}")
        seconds = time.perf_counter() - started
    return seconds, sorted(times)


# -- ingest ---------------------------------------------------------------------------------
def ingest_sequential(server: Server, token: str, bodies: list[bytes]) -> tuple[float, int, list[float]]:
    client = Poster(server.port, token)
    try:
        events, times = 0, []
        started = time.perf_counter()
        for body in bodies:
            t0 = time.perf_counter()
            answer = client.post(body)
            times.append((time.perf_counter() - t0) * 1000)
            if answer["received"] != BATCH:
                raise BenchError(f"the server received {answer['received']} of {BATCH} reports")
            events += answer["events"]
        return time.perf_counter() - started, events, sorted(times)
    finally:
        client.close()


def _client_process(port: int, token: str, bodies: list[bytes], barrier, results) -> None:
    """One concurrent client, in a process of its own (client threads would share one interpreter lock)."""
    try:
        client = Poster(port, token)
        client.conn.connect()  # open the connection before the clock starts
        barrier.wait()
        events = sum(client.post(body)["events"] for body in bodies)
        client.close()
        results.put(("ok", events))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        with contextlib.suppress(Exception):
            barrier.abort()
        results.put(("error", repr(exc)))


def ingest_concurrent(server: Server, token: str, per_client: list[list[bytes]]) -> tuple[float, int]:
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(len(per_client) + 1), ctx.Queue()
    procs = [ctx.Process(target=_client_process, args=(server.port, token, bodies, barrier, results), daemon=True)
             for bodies in per_client]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(timeout=30)
    except threading.BrokenBarrierError:
        pass
    started = time.perf_counter()
    outcomes = [results.get(timeout=300) for _ in procs]
    seconds = time.perf_counter() - started
    for proc in procs:
        proc.join(timeout=10)
    failed = [what for status, what in outcomes if status == "error"]
    if failed:
        raise BenchError(f"a concurrent client failed: {failed[0]}")
    return seconds, sum(what for _, what in outcomes)


# -- alert latency --------------------------------------------------------------------------
class StreamWatcher:
    """Reads militia's /v1/stream in a thread and notes when each message.delivered event arrives."""

    def __init__(self, server: Server, token: str):
        self.client = httpx.Client(base_url=server.base, headers={"authorization": f"Bearer {token}"},
                                   timeout=httpx.Timeout(5.0, read=None))
        self.ready = threading.Event()
        self.lock = threading.Lock()
        self.waiting: dict[str, threading.Event] = {}
        self.arrived: dict[str, float] = {}
        self.error: Exception | None = None
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="sse", daemon=True)
        self.thread.start()

    def expect(self, message_id: str) -> threading.Event:
        event = threading.Event()
        with self.lock:
            self.waiting[message_id] = event
        return event

    def _run(self) -> None:
        try:
            with self.client.stream("GET", "/v1/stream") as response:
                if response.status_code != 200:
                    raise BenchError(f"GET /v1/stream: {response.status_code}")
                self.ready.set()  # the server subscribed before it answered
                kind = None
                for line in response.iter_lines():
                    now = time.perf_counter()
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:") and kind == "message.delivered":
                        message = json.loads(line[5:])["message"]
                        with self.lock:
                            self.arrived.setdefault(message, now)
                            waiter = self.waiting.pop(message, None)
                        if waiter is not None:
                            waiter.set()
                    elif not line:
                        kind = None
        except Exception as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            if not self.stopping:
                self.error = exc
        finally:
            self.ready.set()

    def close(self) -> None:
        self.stopping = True
        self.client.close()
        self.thread.join(timeout=5)


def alert_latency(server: Server, token: str, start: datetime) -> tuple[list[float], list[float], int]:
    """(sorted latencies to the warning on the stream, sorted POST round trips, missing) in ms."""
    rng = random.Random(11)
    watcher = StreamWatcher(server, token)
    latencies, posts, missing = [], [], 0
    try:
        if not watcher.ready.wait(10) or watcher.error is not None:
            raise BenchError(f"the stream did not open: {watcher.error!r}")
        with client_for(server, token) as client:
            client.get("/v1/health")
            for k in range(ALERTS):
                track = f"alert-{k}"
                r_m, bearing = rng.uniform(0, 0.5 * ZONE_RADIUS_M), rng.uniform(0, 2 * math.pi)
                report = {"t": stamp(start + timedelta(milliseconds=k)), "id": track,
                          "lon": ZONE_LON + r_m * math.sin(bearing) / (111_320 * math.cos(math.radians(ZONE_LAT))),
                          "lat": ZONE_LAT + r_m * math.cos(bearing) / 110_574, "speed_mps": 0.0}
                body = json.dumps([report], separators=(",", ":")).encode()
                delivered = watcher.expect(f"{ZONE['id']}/{track}/1")
                t0 = time.perf_counter()
                post_batch(client, body)
                posts.append((time.perf_counter() - t0) * 1000)
                if not delivered.wait(5.0):
                    missing += 1
                    continue
                latencies.append((watcher.arrived[f"{ZONE['id']}/{track}/1"] - t0) * 1000)
                time.sleep(0.005)  # let the stream writer settle; requests do not overlap
        if watcher.error is not None:
            raise BenchError(f"the stream failed: {watcher.error!r}")
    finally:
        watcher.close()
    return sorted(latencies), sorted(posts), missing


# -- main -----------------------------------------------------------------------------------
def run(workdir: Path) -> int:
    db = f"sqlite:///{workdir / 'bench.db'}"
    tokens = {"coalition": add_party(db, "coalition", "russia"), "russia": add_party(db, "russia", "militia"),
              "militia": add_party(db, "militia")}
    rng = random.Random(7)
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = now - timedelta(seconds=ROUNDS * BATCHES)  # batch k is at t0 + k s: none in the future
    _, warm_bodies = batches("warm", 2, t0, rng)
    seq_reports, seq_bodies = batches("seq", ROUNDS * BATCHES, t0, rng)
    per_client = [batches(f"c{k}", BATCHES, t0, rng)[1] for k in range(CLIENTS)]
    print(f"{len(seq_bodies) + sum(map(len, per_client)):,} batches of {BATCH:,} reports prepared "
          f"({len(seq_bodies[0]) / 1e3:,.0f} kB of JSON each)")

    server = Server(db, workdir)
    try:
        started = time.perf_counter()
        server.wait_ready()
        print(f"server on 127.0.0.1:{server.port} (SQLite store in a temporary directory) "
              f"ready in {time.perf_counter() - started:.1f} s")
        with client_for(server, tokens["coalition"]) as client:
            r = client.post("/v1/zones", json=ZONE)
            if r.status_code != 201:
                raise BenchError(f"POST /v1/zones: {r.status_code} {r.text[:500]}")
        with client_for(server, tokens["militia"]) as client:
            started = time.perf_counter()
            for body in warm_bodies:
                post_batch(client, body)
        print(f"warm-up: 2 batches in {time.perf_counter() - started:.2f} s (not counted)")

        # 1. ingest
        print("\n1. position ingest over HTTP into the durable store (POST /v1/positions, JSON arrays)")
        rates, per_cpus, times, events = [], [], [], 0
        for k in range(ROUNDS):
            cpu_before = cpu_seconds(server.proc.pid)
            seconds, round_events, round_times = ingest_sequential(server, tokens["militia"],
                                                                   seq_bodies[k * BATCHES:(k + 1) * BATCHES])
            cpu_after = cpu_seconds(server.proc.pid)
            rates.append(BATCHES * BATCH / seconds)
            times += round_times
            events += round_events
            line = f"  round {k + 1}: {BATCHES * BATCH:,} reports in {seconds:.2f} s: {rates[-1]:,.0f} reports/s"
            if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
                per_cpus.append(BATCHES * BATCH / (cpu_after - cpu_before))
                line += f"; the server process used {cpu_after - cpu_before:.2f} s of CPU: {per_cpus[-1]:,.0f} reports per CPU-second"
            print(line)
        times.sort()
        n = BATCHES * BATCH
        rate = statistics.median(rates)
        print(f"ingest over HTTP, 1 client, median of {ROUNDS} rounds: {rate:,.0f} reports/s "
              f"(goal >= {INGEST_GOAL:,}: {verdict(rate >= INGEST_GOAL)}; {rate / INGEST_GOAL:.1%} of it); "
              f"per batch p50 {percentile(times, .5):.1f} ms, max {times[-1]:.1f} ms; {events} events")
        if per_cpus:
            per_cpu = statistics.median(per_cpus)
            print(f"  the server process's CPU, median of the rounds: {per_cpu:,.0f} reports per CPU-second "
                  f"(what one process sustains when the clients are elsewhere; "
                  f"goal >= {INGEST_GOAL:,}: {verdict(per_cpu >= INGEST_GOAL)})")
        c_seconds, c_events = ingest_concurrent(server, tokens["militia"], per_client)
        c_n = sum(map(len, per_client)) * BATCH
        c_rate = c_n / c_seconds
        print(f"ingest over HTTP, {CLIENTS} concurrent clients: {c_n:,} reports in {c_seconds:.2f} s: "
              f"{c_rate:,.0f} reports/s (goal >= {INGEST_GOAL:,}: {verdict(c_rate >= INGEST_GOAL)}; "
              f"{c_rate / INGEST_GOAL:.1%} of it); {c_events} events")
        best = max(rate, c_rate)
        floor_s = sqlite_floor(workdir, seq_reports[:BATCHES])
        floor = n / floor_s
        print(f"  baseline, storage floor (SQLite executemany of the same rows, one transaction per batch, "
              f"synchronous=FULL, WAL, in-process): {n:,} rows in {floor_s:.2f} s: {floor:,.0f} reports/s; "
              f"HTTP ingest reaches {best / floor:.1%} of it ({floor / best:,.1f}x slower)")
        h_seconds, h_times = health_round_trips(server, HEALTH_ROUNDS)
        per_s = HEALTH_ROUNDS / h_seconds
        print(f"  baseline, request floor (GET /v1/health, 1 keep-alive client): {HEALTH_ROUNDS:,} round trips "
              f"in {h_seconds:.2f} s: {per_s:,.0f} requests/s (p50 {percentile(h_times, .5):.2f} ms, "
              f"p99 {percentile(h_times, .99):.2f} ms); at {BATCH:,} reports per request that allows "
              f"{per_s * BATCH:,.0f} reports/s; a batch POST takes {percentile(times, .5) / percentile(h_times, .5):,.0f}x "
              f"a health round trip (p50)")

        # 2. alert latency
        live = (2 + CLIENTS) * BATCH  # warm-up, sequential and concurrent units, all militia
        print(f"\n2. alert latency: single-report batch of a new militia track inside the zone -> "
              f"message.delivered of its warning on militia's /v1/stream ({live:,} other live tracks)")
        latencies, posts, missing = alert_latency(server, tokens["militia"], now)
        if missing or not latencies:
            raise BenchError(f"{missing} of {ALERTS} warnings did not arrive on the stream within 5 s")
        p99 = percentile(latencies, .99)
        print(f"alert latency over {len(latencies)} alerts: p50 {percentile(latencies, .5):.1f} ms, "
              f"p90 {percentile(latencies, .9):.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms "
              f"(goal p99 <= {LATENCY_GOAL_MS:.0f} ms: {verdict(p99 <= LATENCY_GOAL_MS)})")
        print(f"  the POST of those batches (round trip): p50 {percentile(posts, .5):.1f} ms, "
              f"p99 {percentile(posts, .99):.1f} ms")
        print(f"  baseline, GET /v1/health round trip: p50 {percentile(h_times, .5):.2f} ms, "
              f"p99 {percentile(h_times, .99):.2f} ms; alert p50 is {percentile(latencies, .5) / percentile(h_times, .5):,.0f}x "
              f"the health p50, alert p99 {p99 / percentile(h_times, .99):,.0f}x the health p99")
        with client_for(server) as client:
            entries = client.get("/v1/health").json()["entries"]
        print(f"\nlog at the end: {entries:,} entries")
    finally:
        print(f"server stopped: {server.stop()}")
    return 0


def main() -> int:
    try:
        with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
            return run(Path(tmp))
    except BenchError as exc:
        print(f"bench_service: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
