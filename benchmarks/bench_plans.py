"""Plan submission against 100,000 active volumes: declared operations per second, per process.

Builds 100,000 active one-volume operations (circles and corridors of several parties over a
region about 10 x 10 degrees, with altitude bands and time windows), then submits 2,000 more
through Engine.declare_operation (conflict checks against zones and every other party's plans,
events and warnings included). Baseline, in the same run: the same checks scanning every
declared operation (no index), timed on 20 submissions.
"""
from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta, timezone

from deconfliction import AltitudeBand, Circle, Corridor, Engine, Operation, Party, Policy, TimeWindow, Volume4D
from deconfliction.engine.strategic import conflicts_with_operations, conflicts_with_zones

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
PARTIES = [f"operator-{k}" for k in range(20)]


def volume(rng: random.Random) -> Volume4D:
    lon, lat = rng.uniform(30, 40), rng.uniform(28, 38)
    if rng.random() < 0.7:
        shape = Circle(lon, lat, rng.uniform(100, 2000))
    else:
        shape = Corridor(((lon, lat), (lon + rng.uniform(-0.05, 0.05), lat + rng.uniform(-0.05, 0.05))),
                         rng.uniform(50, 500))
    lower = rng.uniform(0, 400)
    start = T0 + timedelta(minutes=rng.uniform(0, 24 * 60))
    return Volume4D(shape, AltitudeBand(lower, lower + rng.uniform(20, 200)),
                    TimeWindow(start, start + timedelta(minutes=rng.uniform(10, 120))))


def main() -> int:
    rng = random.Random(7)
    engine = Engine(Policy(), [Party(p) for p in PARTIES])
    started = time.perf_counter()
    for k in range(100_000):
        op = Operation(f"op-{k}", PARTIES[k % len(PARTIES)], (volume(rng),))
        engine._plans.add(op.id, op.volumes)  # bulk load without conflict checks
        engine.operations[op.id] = op
    print(f"loaded 100,000 active volumes in {time.perf_counter() - started:.1f} s")

    new = [Operation(f"new-{k}", PARTIES[k % len(PARTIES)], (volume(rng),)) for k in range(2_000)]
    started = time.perf_counter()
    conflicts = 0
    for op in new:
        events = engine.declare_operation(op, T0)
        conflicts += sum(e.type == "plan.conflict" for e in events)
    seconds = time.perf_counter() - started
    rate = len(new) / seconds
    print(f"plan submission: 2000 operations against 100,000 active volumes in {seconds:.2f} s: "
          f"{rate:,.0f} submissions/s, {conflicts} conflicts (goal >= 2,000/s: {'met' if rate >= 2000 else 'NOT met'})")

    sample = [Operation(f"scan-{k}", PARTIES[k % len(PARTIES)], (volume(rng),)) for k in range(20)]
    started = time.perf_counter()
    for op in sample:
        conflicts_with_zones(op, engine.zones.values()) + conflicts_with_operations(op, engine.operations.values())
    scan = len(sample) / (time.perf_counter() - started)
    print(f"  baseline, scanning every declared operation (no index): {scan:,.1f} submissions/s; ratio {rate / scan:,.0f}x")

    indexed = {(c.operation, c.other) for op in sample for c in engine.check_operation(op)}
    scanned = {(c.operation, c.other) for op in sample for c in conflicts_with_operations(op, engine.operations.values())}
    print(f"  indexed and scanning checks find the same conflicts on the sample: {'yes' if indexed == scanned else 'NO'}")
    return 0 if indexed == scanned else 1


if __name__ == "__main__":
    sys.exit(main())
