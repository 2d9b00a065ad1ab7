"""Benchmark: what one 5,000 km zone costs everyone, beside 10,000 ordinary zones.

Quality bar: with the big zone, position batches, zone declarations and a restart each take at
most 2x what they take in the same run without it.

The log (commands as the service writes them, through the ledger with an in-memory store, one
signed head per command): parties coalition and militia; the 10,000 zones of bench_zones.py
(3/4 circles, 1/4 12-vertex polygons over 35-50 E, 28-40 N, with their bands) declared by the
coalition; then, in the runs with it, the big zone: a geodesic circle of 5,000 km radius
centred on that region (34 N, 42.5 E), band 5 km; then 1,000 militia units reporting in 60
batches of 1,000 (a JSON body each, as sent; a second apart; speeds 10-250 m/s, speed and course
told) with, after every 6th batch, one more ordinary zone declared (10 in all).

Three runs, in the same process: without the big zone (the baseline), with it and the militia
allowed in it (what the zone itself costs: it is checked against every report, and every unit is
inside it), and with it and the militia not allowed (every unit also enters it: its events and
warnings on top). Measured in each:

- position batch: the median time of a batch that does not follow a declaration;
- zone declaration: the median time of a declaration plus the batch after it (which brings the
  zone index up to date), as a party sees it;
- restart: a new ledger replaying the whole log (every command again, events compared);
- and, for a closer look, the zone checks alone: the zone index's answer for the last batch's
  1,000 positions (best of 20).

The three runs are made twice, in turn, and each figure is the better of its two (this shared
machine's speed moves by a third from one minute to the next).

Run: ``python benchmarks/bench_big_zone.py``. Exit 0 whether or not the bar is met.
"""
from __future__ import annotations

import json
import math
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_zones import zone_set  # noqa: E402  (the same ordinary zones)

import numpy as np  # noqa: E402

from deconfliction.app.commands import apply, positions_command  # noqa: E402
from deconfliction.app.ledger import Ledger, Request  # noqa: E402
from deconfliction.engine.model import Policy  # noqa: E402
from deconfliction.geo.shapes import Circle  # noqa: E402
from deconfliction.log.signing import SigningKey  # noqa: E402
from deconfliction.log.store import MemoryStore  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
UNITS = 1_000
BATCHES = 60
DECLARE_EVERY = 6
ROUNDS = 2
GOAL_RATIO = 2.0
BIG = {"id": "big", "name": "5,000 km", "parties": ["coalition"], "perimeter_m": 5_000,
       "geometry": {"type": "Point", "coordinates": [42.5, 34.0]}, "radius_m": 5_000_000}
RUNS = {"without the big zone": None, "big zone, militia allowed in it": ["coalition", "militia"],
        "big zone, militia not allowed": ["coalition"]}


def zone_spec(k: int, shape, band_m: float) -> dict:
    spec = {"id": f"z{k}", "parties": ["coalition"], "perimeter_m": float(band_m)}
    if isinstance(shape, Circle):
        point = {"type": "Point", "coordinates": [shape.lon, shape.lat]}
        return {**spec, "geometry": point, "radius_m": shape.radius_m}
    ring = [list(p) for p in shape.geometry.exterior.coords]
    return {**spec, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def bodies(rng: random.Random) -> list[bytes]:
    """BATCHES bodies of UNITS reports, a second apart, units moving straight at their speed."""
    units = [(rng.uniform(35, 50), rng.uniform(28, 40), rng.uniform(0, 360), rng.uniform(10, 250))
             for _ in range(UNITS)]
    out = []
    for k in range(BATCHES):
        t = (T0 + timedelta(hours=1, seconds=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
        batch = []
        for i, (lon, lat, course, speed) in enumerate(units):
            step = speed * k / 111_000.0  # degrees, roughly
            c = math.radians(course)
            east = step * math.sin(c) / math.cos(math.radians(lat))
            batch.append({"t": t, "id": f"m{i}", "lon": round(lon + east, 6), "lat": round(lat + step * math.cos(c), 6),
                          "speed_mps": round(speed, 1), "course_deg": round(course, 1)})
        out.append(json.dumps(batch, separators=(",", ":")).encode())
    return out


class Run:
    """One run: its ledger, and the time each command took."""

    def __init__(self):
        self.ledger = Ledger(MemoryStore(), SigningKey.generate(), Policy(), apply)
        self.t = T0

    def execute(self, command: dict, payload: bytes | None = None, t: datetime | None = None) -> float:
        self.t = t or self.t
        started = time.perf_counter()
        [outcome] = self.ledger.execute_many([Request(command, self.t, payload=payload)])
        if isinstance(outcome, BaseException):
            raise outcome
        return time.perf_counter() - started


def run(allowed: list[str] | None, ordinary: list[dict], extra: list[dict], batches: list[bytes]) -> dict:
    r = Run()
    for party in ("coalition", "militia"):
        r.execute({"type": "party.add", "id": party, "name": party, "channels": []})
    started = time.perf_counter()
    for spec in ordinary:
        r.execute({"type": "zone.declare", "party": "coalition", "zone": spec})
    setup_s = time.perf_counter() - started
    if allowed is not None:
        r.execute({"type": "zone.declare", "party": "coalition", "zone": {**BIG, "allowed": allowed}})
    batch_s, declare_s = [], []
    for k, body in enumerate(batches):
        declared = 0.0
        if k and k % DECLARE_EVERY == 0:
            declared = r.execute({"type": "zone.declare", "party": "coalition", "zone": extra[k // DECLARE_EVERY - 1]})
        command, payload = positions_command("militia", body, False)
        seconds = r.execute(command, payload, T0 + timedelta(hours=1, seconds=k))
        (declare_s.append(declared + seconds) if declared else batch_s.append(seconds))
    entries = r.ledger.store.entries()
    started = time.perf_counter()
    Ledger(MemoryStore(entries), SigningKey.generate(), Policy(), apply)
    restart_s = time.perf_counter() - started
    return {"batch": statistics.median(batch_s[1:]), "declare": statistics.median(declare_s), "restart": restart_s,
            "checks": zone_checks_s(r.ledger.engine, batches[-1]), "entries": len(entries), "setup": setup_s}


def zone_checks_s(engine, body: bytes) -> float:
    reports = json.loads(body)
    lon, lat = (np.array([r[k] for r in reports]) for k in ("lon", "lat"))
    best = math.inf
    for _ in range(20):
        started = time.perf_counter()
        engine.index.query(lon, lat)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    print(__doc__.splitlines()[0])
    shapes, bands = zone_set()
    specs = [zone_spec(k, s, b) for k, (s, b) in enumerate(zip(shapes, bands))]
    ordinary, extra = specs[: len(specs) - BATCHES // DECLARE_EVERY], specs[len(specs) - BATCHES // DECLARE_EVERY:]
    batches = bodies(random.Random(3))
    warm = Run()  # compiles (or loads) the kernels before anything is timed
    for party in ("coalition", "militia"):
        warm.execute({"type": "party.add", "id": party, "name": party, "channels": []})
    warm.execute({"type": "zone.declare", "party": "coalition", "zone": {**BIG, "allowed": ["coalition"]}})
    warm.execute(*positions_command("militia", batches[0], False), T0 + timedelta(hours=1))
    results: dict[str, dict] = {}
    for round_ in range(ROUNDS):
        for name, allowed in RUNS.items():
            res = run(allowed, ordinary, extra, batches)
            print(f"round {round_ + 1}, {name}: position batch {res['batch'] * 1e3:.1f} ms (median, {UNITS:,} "
                  f"reports); zone declaration with the next batch {res['declare'] * 1e3:.0f} ms (median of "
                  f"{BATCHES // DECLARE_EVERY - 1}); restart {res['restart']:.1f} s ({res['entries']:,} entries); "
                  f"zone checks alone {res['checks'] * 1e3:.2f} ms; {len(ordinary):,} zones declared in "
                  f"{res['setup']:.1f} s")
            best = results.setdefault(name, res)
            results[name] = {k: min(v, best[k]) for k, v in res.items()}
    base = results["without the big zone"]
    print(f"without the big zone (best of {ROUNDS}): position batch {base['batch'] * 1e3:.1f} ms, zone declaration "
          f"{base['declare'] * 1e3:.0f} ms, restart {base['restart']:.1f} s, zone checks alone "
          f"{base['checks'] * 1e3:.2f} ms")
    for name in list(RUNS)[1:]:
        res = results[name]
        ratios = {k: res[k] / base[k] for k in ("batch", "declare", "restart", "checks")}
        met = all(ratios[k] <= GOAL_RATIO for k in ("batch", "declare", "restart"))
        print(f"{name} (best of {ROUNDS}): position batch {res['batch'] * 1e3:.1f} ms ({ratios['batch']:.2f}x), "
              f"zone declaration {res['declare'] * 1e3:.0f} ms ({ratios['declare']:.2f}x), restart "
              f"{res['restart']:.1f} s ({ratios['restart']:.2f}x) (goal each <= {GOAL_RATIO:.0f}x: "
              f"{'met' if met else 'NOT met'}); zone checks alone {res['checks'] * 1e3:.2f} ms "
              f"({ratios['checks']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
