"""Restart of the live service on a long log, against a fresh start on an empty store.

The service keeps its state only in memory and rebuilds it at start by replaying every logged
command through the engine (checking the hash chain, the events against their commands, and the
signed heads). This measures what that costs on a log of 1,000,000 position reports.

The log: four parties (coalition, russia, militia, un; lines coalition-russia-militia), three zones
(a 20 km circle of the coalition, a polygon of russia, a 5 km protected site of the un), 10,000
units (2,500 per party) spread over 8 x 8 degrees around the zones, on the ground or at one of 40
levels 300 m apart, each moving at its own speed and course; every 10 s of log time each party
reports all its units in one batch of 2,500 (one ``POST /v1/positions`` body, a JSON array as the
API takes it), 400 batches in all: 1,000,000 reports, with the zone and proximity events and
automatic warnings the engine finds (and the clock commands that fire deadlines). The log is
written through the service in process (``Service``, the positions command built from the body as
the route builds it), on SQLite in a temporary directory, not over HTTP.

Measured, each with its baseline from the same run:

1. ``Service(...)`` constructed in this process until it returns (ledger rebuilt, heads checked):
   on the 1 M-report store, and on an empty store (a new file each time); the median of 3 each.
2. ``deconfliction serve`` started in a subprocess until ``GET /v1/health`` answers (interpreter
   start, imports, the rebuild, the compiled checks loaded, the server listening): on a copy of the
   1 M-report store (its clock then fires the deadlines that fell due since) and on an empty store;
   the median of 3 each.

Also printed with ``--profile``: where the time of one in-process restart goes (cProfile: the
engine, reading the batches, the hash chain, the store, the signed heads; ``--top N`` adds the N
functions with the most cumulative time). Exit 0 whether or not the figures please; non-zero on
errors.
"""
from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

from deconfliction.app.commands import positions_command, scanned_positions, zone_command
from deconfliction.formats.batch import by_time
from deconfliction.server.service import Service, Settings

PARTIES = {"coalition": ("russia",), "russia": ("coalition", "militia"), "militia": ("russia",), "un": ()}
UNITS = 2_500  # per party; also the reports per batch
BATCHES = 400  # 100 rounds of one batch per party
STEP_S = 10  # log time between rounds
ROUNDS = 3
CENTRE = (38.6, 33.5)
SPREAD = 4.0
"""Units start within this many degrees of the centre (in longitude and in latitude)."""
LEVELS = [0.0, *(300.0 * k for k in range(1, 41))]
"""Altitudes of the units (m): on the ground, or at one of 40 levels 300 m apart."""
ZONES = [
    ("coalition", {"id": "tanf", "kind": "deconfliction", "parties": ["coalition"], "allowed": ["coalition"],
                   "geometry": {"type": "Point", "coordinates": [38.6, 33.5]}, "radius_m": 20_000}),
    ("russia", {"id": "airbase", "kind": "restricted", "parties": ["russia"], "allowed": ["russia"],
                "geometry": {"type": "Polygon", "coordinates": [[[39.3, 34.0], [39.6, 34.0], [39.6, 34.2],
                                                                 [39.3, 34.2], [39.3, 34.0]]]}}),
    ("un", {"id": "camp", "kind": "protected_site", "parties": ["un"], "allowed": [],
            "geometry": {"type": "Point", "coordinates": [38.1, 33.2]}, "radius_m": 5_000}),
]


class BenchError(Exception):
    """The benchmark could not run as intended."""


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class Clock:
    """The service's clock during the build: the time of the batch being written."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def units(rng: random.Random) -> dict[str, list[list[float]]]:
    """Each party's units: [lon, lat, speed m/s, course deg], spread over 3 x 3 degrees around the zones."""
    return {party: [[CENTRE[0] + rng.uniform(-SPREAD, SPREAD), CENTRE[1] + rng.uniform(-SPREAD, SPREAD),
                     rng.uniform(2, 60), rng.uniform(0, 360), rng.choice(LEVELS)] for _ in range(UNITS)]
            for party in PARTIES}


def body_of(party: str, fleet: list[list[float]], t: datetime) -> bytes:
    """One batch: every unit of the party at ``t``, moved on since the last one."""
    text = stamp(t)
    reports = []
    for i, u in enumerate(fleet):
        lon, lat, speed, course, alt = u
        d = speed * STEP_S
        u[0] = lon + d * math.sin(math.radians(course)) / (111_320 * math.cos(math.radians(lat)))
        u[1] = lat + d * math.cos(math.radians(course)) / 110_574
        reports.append({"t": text, "id": f"{party}-{i}", "lon": round(u[0], 6), "lat": round(u[1], 6),
                        "alt_m": alt, "speed_mps": round(speed, 1), "course_deg": round(course, 1)})
    return orjson.dumps(reports)


def build(db: str, key: Path) -> tuple[int, int, float]:
    """Write the log through the service in process; (entries, events, seconds)."""
    rng = random.Random(5)
    t0 = datetime(2017, 6, 6, 0, 0, tzinfo=UTC)
    clock = Clock(t0)
    started = time.perf_counter()
    service = Service(Settings(db=db, key_path=key), clock=clock)
    try:
        for party, channels in PARTIES.items():
            service.add_party(party, party.capitalize(), channels)
        for party, zone in ZONES:
            service.execute(zone_command(party, zone), lambda events: (201, {}))
        fleets = units(rng)
        events = 0
        for k in range(BATCHES):
            party = list(PARTIES)[k % len(PARTIES)]
            t = t0 + timedelta(seconds=STEP_S * (1 + k // len(PARTIES)))
            clock.now = t
            body = body_of(party, fleets[party], t)
            whole = scanned_positions(body, False, party)
            if whole is None:
                raise BenchError("a batch took the general path")
            command, payload = positions_command(party, body, False)
            status, answer = service.execute(command, lambda evs: (202, {"events": len(evs)}),
                                             prepared=by_time(whole), payload=payload)
            if status != 202:
                raise BenchError(f"batch {k}: {status} {answer}")
            events += answer["events"]
            if k % len(PARTIES) == len(PARTIES) - 1:
                events += len(service.tick())  # deadlines that fell due (warnings escalating)
        entries = len(service.ledger.entries)
    finally:
        service.stop()
    return entries, events, time.perf_counter() - started


def restart_in_process(db: str, key: Path) -> tuple[float, int]:
    """Seconds to construct the service on the store (until it could serve), and its entries."""
    started = time.perf_counter()
    service = Service(Settings(db=db, key_path=key))
    seconds = time.perf_counter() - started
    entries = len(service.ledger.entries)
    service.stop()
    return seconds, entries


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_until_healthy(db: str, key: Path, workdir: Path, limit_s: float = 600.0) -> tuple[float, int]:
    """Seconds from starting ``deconfliction serve`` until GET /v1/health answers, and its entries."""
    port = free_port()
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115 - closed below
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "deconfliction.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--db", db, "--key", str(key)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        with httpx.Client(timeout=1.0) as client:
            while time.perf_counter() - started < limit_s:
                if proc.poll() is not None:
                    raise BenchError(f"serve exited with {proc.returncode}: "
                                     f"{(workdir / 'serve.log').read_text(errors='replace')[-2000:]}")
                try:
                    r = client.get(f"http://127.0.0.1:{port}/v1/health")
                    if r.status_code == 200:
                        return time.perf_counter() - started, r.json()["entries"]
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
        raise BenchError(f"serve did not answer within {limit_s:.0f} s")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def copy_of(workdir: Path, name: str, copy: str) -> str:
    """A copy of an SQLite store (the service's clock writes to the store it serves: each run gets
    the log as it was built)."""
    for path in workdir.glob(f"{name}*"):
        shutil.copyfile(path, workdir / (copy + path.name.removeprefix(name)))
    return f"sqlite:///{workdir / copy}"


def empty_store(workdir: Path, k: int) -> tuple[str, Path]:
    return f"sqlite:///{workdir / f'empty-{k}.db'}", workdir / f"empty-{k}.key"


def parts() -> list[tuple[str, object]]:
    """Where a restart's time goes: (what, function) whose cumulative times are printed."""
    from deconfliction.app.commands import scanned_positions
    from deconfliction.app.ledger import Ledger
    from deconfliction.engine.core import Engine
    from deconfliction.engine.tactical import ProximityWatch, ZoneWatch
    from deconfliction.log.chain import check_chain
    from deconfliction.log.store import SQLiteStore
    from deconfliction.log.verify import check_heads
    return [("the engine applying the reports (Engine.report)", Engine.report),
            ("  of which units against units: closest approach, separation (ProximityWatch.update)",
             ProximityWatch.update),
            ("  of which units against zones (ZoneWatch.update)", ZoneWatch.update),
            ("reading each batch from its body (scanned_positions)", scanned_positions),
            ("the hash chain and the payloads' digests (check_chain)", check_chain),
            ("reading the entries from the store (Store.entries)", SQLiteStore.entries),
            ("the signed heads (check_heads)", check_heads),
            ("keeping the entries and the Merkle tree (Ledger._keep)", Ledger._keep)]


def profile(db: str, key: Path, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    service = Service(Settings(db=db, key_path=key))
    profiler.disable()
    service.stop()
    stats = pstats.Stats(profiler)
    table = stats.stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, name), (_, _, _, ct, _) in table.items() if name == "__init__")
    print(f"\nwhere one in-process restart's time goes (cProfile, {total:.2f} s under the profiler; "
          f"cumulative times, a part includes its sub-parts):")
    for what, function in parts():
        code = function.__code__  # type: ignore[attr-defined]
        ct = table.get((code.co_filename, code.co_firstlineno, code.co_name), (0, 0, 0, 0.0))[3]
        print(f"  {what}: {ct:.2f} s ({ct / total:.0%})")
    if top:
        print(f"\nthe {top} functions with the most cumulative time:")
        stats.sort_stats("cumulative").print_stats(top)


def run(workdir: Path, args) -> int:
    db, key = f"sqlite:///{workdir / 'log.db'}", workdir / "log.key"
    entries, events, seconds = build(db, key)
    reports = BATCHES * UNITS
    label = f"{reports / 1e6:g} M-report log"
    size = os.path.getsize(workdir / "log.db") + sum(os.path.getsize(p) for p in workdir.glob("log.db-*"))
    print(f"log written through the service in process: {BATCHES} batches of {UNITS:,} reports "
          f"({BATCHES * UNITS:,} reports, {len(PARTIES)} parties, {len(PARTIES) * UNITS:,} units, "
          f"{len(ZONES)} zones), {events:,} events, {entries:,} entries, {size / 1e6:,.0f} MB on disk, "
          f"in {seconds:.1f} s ({BATCHES * UNITS / seconds:,.0f} reports/s)")

    print("\n1. Service(...) constructed in this process until it returns (rebuilt from the log, heads checked)")
    full, empty = [], []
    for k in range(ROUNDS):
        s, n = restart_in_process(db, key)
        if n != entries:
            raise BenchError(f"the restarted service holds {n} entries, not {entries}")
        full.append(s)
        s, n = restart_in_process(*empty_store(workdir, k))
        if n != 0:
            raise BenchError("the empty store is not empty")
        empty.append(s)
        print(f"  round {k + 1}: {label} {full[-1]:.2f} s; empty store {empty[-1] * 1000:.1f} ms")
    f, e = statistics.median(full), statistics.median(empty)
    print(f"restart in process, median of {ROUNDS}: {label} {f:.2f} s ({reports / f:,.0f} reports/s "
          f"replayed); fresh start (empty store) {e * 1000:.1f} ms; {f / e:,.0f}x the fresh start")

    print("\n2. deconfliction serve started until GET /v1/health answers")
    full_s, empty_s = [], []
    for k in range(ROUNDS):
        s, n = serve_until_healthy(copy_of(workdir, "log.db", f"serve-{k}.db"), key, workdir)
        if n < entries:  # its clock may have fired deadlines that fell due since (more entries)
            raise BenchError(f"the served log holds {n} entries, not {entries}")
        full_s.append(s)
        s, n = serve_until_healthy(*empty_store(workdir, ROUNDS + k), workdir)
        if n != 0:
            raise BenchError("the empty store is not empty")
        empty_s.append(s)
        print(f"  round {k + 1}: {label} {full_s[-1]:.2f} s; empty store {empty_s[-1]:.2f} s")
    f, e = statistics.median(full_s), statistics.median(empty_s)
    print(f"serve until healthy, median of {ROUNDS}: {label} {f:.2f} s; fresh start (empty store) "
          f"{e:.2f} s; {f / e:,.1f}x the fresh start ({f - e:.2f} s more)")

    if args.profile:
        profile(db, key, args.top)
    return 0


def main() -> int:
    global BATCHES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", action="store_true", help="also profile one in-process restart (cProfile)")
    parser.add_argument("--top", type=int, default=0, help="with --profile, also the N functions with the most "
                                                           "cumulative time")
    parser.add_argument("--keep", type=Path, help="build the log in this directory and keep it")
    parser.add_argument("--batches", type=int, default=BATCHES,
                        help=f"batches of {UNITS:,} reports in the log (default {BATCHES}: 1,000,000 reports)")
    args = parser.parse_args()
    BATCHES = args.batches
    try:
        if args.keep is not None:
            if args.keep.exists():
                shutil.rmtree(args.keep)
            args.keep.mkdir(parents=True)
            return run(args.keep, args)
        with tempfile.TemporaryDirectory(prefix="bench-restart-") as tmp:
            return run(Path(tmp), args)
    except BenchError as exc:
        print(f"bench_restart: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
