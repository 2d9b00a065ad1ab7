"""Benchmark: the whole engine replaying real ADS-B traffic, against a naive Python loop.

Data: the ``quickstart`` collection of the ``traffic`` library (OpenSky Network, research and
non-commercial use; see DEVELOPERS.md): 284,505 reports of 213 aircraft around Paris on
2021-10-07, 12:00-15:00 UTC, on the ground and airborne. Parties are airlines (the callsign's
ICAO designator), so aircraft of one airline are not compared with each other.
Zones: 5 km circles around seven Paris airports (CDG, Orly, Le Bourget, Beauvais, Villacoublay,
Toussus-le-Noble, Pontoise), surface to 3,000 ft, 2 km warning band, agreed by "dsna", which
has a direct line to every airline, so the engine's warnings are delivered and followed up.
Policy: 3 NM (5556 m) and 1000 ft (300 m) minima, 120 s look-ahead, 60 s track timeout.

The engine is fed as ``replay`` feeds it: zones first, then one ``Engine.report`` call per
timestamp with the reports of that second, in file order, then the remaining deadlines.

Baseline, "naive Python loop": per timestamp, every pair of active units of different parties
through geographiclib's geodesic Inverse and a straight-line closest approach from the reported
velocities, and every report against every zone with geographiclib; no extrapolation and no
per-encounter bookkeeping, so it does less than the engine. It is too slow for the whole sample
and runs on a 5-minute slice; the engine is timed on that same slice for the ratio.

Run: ``python benchmarks/bench_replay.py`` (needs pandas, geographiclib and the ``traffic``
samples: ``pip install -e '.[test]' && pip install --no-deps traffic==2.13``).
"""
from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from itertools import combinations, groupby
from pathlib import Path

from geographiclib.geodesic import Geodesic

from deconfliction import AltitudeBand, Circle, Engine, Party, Policy, Report, Zone, ZoneKind
from deconfliction.formats.adsb import FOOT_M, party_by_airline, read_adsb_sample, traffic_samples_dir

POLICY = Policy(perimeter_m=2000.0, separation_m=5556.0, vertical_m=300.0, lookahead_s=120.0,
                track_timeout_s=60.0)
AIRPORTS = {  # lon, lat (degrees) of the aerodrome reference points
    "LFPG Paris-Charles de Gaulle": (2.5479, 49.0097),
    "LFPO Paris-Orly": (2.3794, 48.7233),
    "LFPB Paris-Le Bourget": (2.4414, 48.9694),
    "LFOB Beauvais-Tille": (2.1128, 49.4544),
    "LFPV Villacoublay": (2.1917, 48.7742),
    "LFPN Toussus-le-Noble": (2.1106, 48.7519),
    "LFPT Pontoise": (2.0408, 49.0967),
}
RADIUS_M = 5000.0
CEILING_M = 3000 * FOOT_M
SLICE_MIN = 5
BASELINE = "naive Python loop (all pairs + all zones with geographiclib, per timestamp)"
GEOD = Geodesic.WGS84
END_OF_TIME = datetime.max.replace(tzinfo=timezone.utc)


def samples() -> Path:
    root = traffic_samples_dir()
    if root is None:
        sys.exit("the traffic samples are missing: pip install --no-deps traffic==2.13")
    return root


def zones() -> list[Zone]:
    return [Zone(name.split()[0].lower(), Circle(lon, lat, RADIUS_M), parties=("dsna",), allowed=(),
                 kind=ZoneKind.RESTRICTED, name=name, altitude=AltitudeBand(0.0, CEILING_M))
            for name, (lon, lat) in AIRPORTS.items()]


def parties(reports: Sequence[Report]) -> list[Party]:
    airlines = sorted({r.party for r in reports})
    return [Party("dsna", "air navigation service", channels=tuple(airlines))] + [Party(a) for a in airlines]


def run_engine(reports: Sequence[Report]) -> tuple[float, Counter[str]]:
    """Seconds to replay the reports through a fresh engine, and its events by type."""
    start = time.perf_counter()
    engine = Engine(POLICY, parties(reports))
    counts: Counter[str] = Counter()
    for zone in zones():
        counts.update(str(e.type) for e in engine.declare_zone(zone, reports[0].t))
    for t, group in groupby(reports, key=lambda r: r.t):
        counts.update(str(e.type) for e in engine.report(t, list(group)))
    counts.update(str(e.type) for e in engine.advance(END_OF_TIME, inclusive=True))
    return time.perf_counter() - start, counts


def run_naive(reports: Sequence[Report]) -> tuple[float, int, int]:
    """Seconds for the naive loop, and how many pairs it found losing and predicted to lose separation."""
    start = time.perf_counter()
    circles = [(z.shape.lon, z.shape.lat, z.shape.radius_m) for z in zones()]
    last: dict[str, Report] = {}
    lost = predicted = 0
    timeout = timedelta(seconds=POLICY.track_timeout_s)
    for t, group in groupby(reports, key=lambda r: r.t):
        for r in group:
            last[r.track] = r
            for lon, lat, radius in circles:
                GEOD.Inverse(r.lat, r.lon, lat, lon)["s12"] <= radius + POLICY.perimeter_m
        active = [r for r in last.values() if t - r.t <= timeout]
        for a, b in combinations(active, 2):
            if a.party == b.party:
                continue
            g = GEOD.Inverse(a.lat, a.lon, b.lat, b.lon, Geodesic.DISTANCE | Geodesic.AZIMUTH)
            known = a.alt_m is not None and b.alt_m is not None
            dz = abs(a.alt_m - b.alt_m) if known else 0.0  # unknown altitude counts as close
            now, cpa = g["s12"], _miss_m(g, a, b)
            if dz < POLICY.vertical_m and now < POLICY.separation_m:
                lost += 1
            elif dz < POLICY.vertical_m and cpa < POLICY.separation_m:
                predicted += 1
    return time.perf_counter() - start, lost, predicted


def _miss_m(g: dict, a: Report, b: Report) -> float:
    """Straight-line miss distance (m) within the look-ahead, in a's east/north frame."""
    px, py = g["s12"] * math.sin(math.radians(g["azi1"])), g["s12"] * math.cos(math.radians(g["azi1"]))
    va, vb = _velocity(a), _velocity(b)
    vx, vy = vb[0] - va[0], vb[1] - va[1]
    v2 = vx * vx + vy * vy
    tcpa = min(max(-(px * vx + py * vy) / v2, 0.0), POLICY.lookahead_s) if v2 > 0 else 0.0
    return math.hypot(px + vx * tcpa, py + vy * tcpa)


def _velocity(r: Report) -> tuple[float, float]:
    if r.speed_mps is None or r.course_deg is None:
        return 0.0, 0.0
    c = math.radians(r.course_deg)
    return r.speed_mps * math.sin(c), r.speed_mps * math.cos(c)


def main() -> int:
    path = samples() / "collections" / "quickstart.json.gz"
    start = time.perf_counter()
    reports = read_adsb_sample(path, airborne_only=False, party=party_by_airline)
    read_s = time.perf_counter() - start
    units = len({r.track for r in reports})
    airlines = len({r.party for r in reports})
    print(f"read: {len(reports)} reports of {units} units ({airlines} parties) from {path.name} "
          f"in {read_s:.1f} s: {len(reports) / read_s:,.0f} reports/s")

    run_engine(reports[:2000])  # warm up
    seconds, counts = run_engine(reports)
    print(f"replay: {len(reports)} reports, {units} units, {len(AIRPORTS)} zones in {seconds:.1f} s: "
          f"{len(reports) / seconds:,.0f} reports/s")
    print("events: " + ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())))

    first = datetime(2021, 10, 7, 12, 30, tzinfo=timezone.utc)
    window = [r for r in reports if first <= r.t < first + timedelta(minutes=SLICE_MIN)]
    engine_s = min(run_engine(window)[0] for _ in range(3))
    naive_s, lost, predicted = run_naive(window)
    engine_rate, naive_rate = len(window) / engine_s, len(window) / naive_s
    print(f"slice 12:30-12:{30 + SLICE_MIN:02d}: {len(window)} reports, "
          f"{len({r.track for r in window})} units")
    print(f"  engine: {engine_s:.2f} s: {engine_rate:,.0f} reports/s")
    print(f"  baseline, {BASELINE}: {naive_s:.2f} s: {naive_rate:,.0f} reports/s "
          f"({lost} pair-timestamps lost, {predicted} predicted)")
    print(f"  ratio engine / baseline: {engine_rate / naive_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
