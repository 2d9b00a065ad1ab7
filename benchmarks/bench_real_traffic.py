"""Benchmark: the engine's alarms on real traffic against an interpolated brute-force oracle (issue 13).

Quality bar (issue 13): every clear loss of separation found, and no ``separation.lost`` pair
that never came within 1.25 times the minima on any second when both positions are measured or
interpolated between reports that bracket it.

Data, read from the installed packages (never copied into the repository):
- Paris ADS-B: the ``quickstart`` collection of ``traffic`` (OpenSky Network, research and
  non-commercial use), 7 October 2021, 12:00-15:00 UTC, airborne reports, every aircraft its own
  party; 5 km circles, surface to 3,000 ft, around seven aerodromes;
- Switzerland ADS-B: the ``switzerland`` collection, 1 August 2018, 05:00-22:00 UTC, one report
  every 10 s per aircraft (no zones);
- New York AIS: ``tracktable-data``'s first hour of 30 June 2020 in New York harbour (about one
  report a minute per vessel), the reports at 1 knot or more, every vessel its own party; circles
  around Liberty, Ellis and Governors Islands.
Minima: 3 NM and 1,000 ft for aircraft, 150 m for vessels; every other setting is the default
policy's (``track_timeout_s`` 900 s), and each dataset is replayed again with
``track_timeout_s`` 20 s, the issue's comparison.

The oracle (``tests/realtraffic.py``): on every whole second where both units of a pair are
measured or interpolated (at most 60 s between ADS-B reports, 180 s between AIS reports, and no
impossible move in between), the geodesic distance and the altitude difference. Columns:
clear losses (pairs below both minima on some second), found (of those, reported
``separation.lost``), engine pairs (pairs reported ``separation.lost``), false pairs (engine pairs
never within 1.25 times the minima), entries (a unit inside a zone and its altitude band on some
second: found with ``zone.entered`` or ``zone.crossed`` / clear), and the engine's run time (one
``Engine.report`` call per instant, as ``replay`` feeds it; the oracle is not timed).

Run: ``python benchmarks/bench_real_traffic.py [paris switzerland new-york]`` (needs
``pip install -e '.[test]' && pip install --no-deps traffic==2.13``). Exits 1 when a dataset is
missing; the goals are reported, not enforced (today's engine is the baseline to beat).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the oracle lives with the tests

from tests.realtraffic import DATASETS, NEAR, entry_truth, score, separation_truth, units_of  # noqa: E402

TIMEOUTS_S = (None, 20.0)


def main(names: list[str]) -> int:
    print(__doc__.splitlines()[0])
    header = ("dataset", "track_timeout_s", "reports", "clear losses", "found", "recall", "engine pairs",
              f"false pairs (never within {NEAR}x)", "entries found/clear", "engine run time")
    rows = []
    for name in names:
        data = DATASETS[name]()
        if data is None:
            print(f"{name}: the data is not installed (pip install -e '.[test]' && "
                  f"pip install --no-deps traffic==2.13)")
            return 1
        started = time.perf_counter()
        units = units_of(data.reports)
        truth = separation_truth(units, data.minima, data.limits)
        entries = entry_truth(units, data.zones, data.limits)
        print(f"{data.name}: {len(data.reports)} reports of {len(units)} units; oracle "
              f"{time.perf_counter() - started:.1f} s")
        for timeout_s in TIMEOUTS_S:
            policy = data.policy() if timeout_s is None else data.policy(track_timeout_s=timeout_s)
            s = score(data, policy, truth, entries)
            recall = len(s.found) / len(s.clear_losses) if s.clear_losses else 1.0
            rows.append((data.name, f"{policy.track_timeout_s:g}", f"{s.reports:,}", str(len(s.clear_losses)),
                         str(len(s.found)), f"{recall:.1%}", str(len(s.engine_pairs)), str(len(s.false_pairs)),
                         f"{len(s.entries_found)}/{len(s.clear_entries)}",
                         f"{s.engine_s:.1f} s ({s.reports / s.engine_s:,.0f} reports/s)"))
            print("  " + " | ".join(rows[-1][1:]))
            if s.missed:  # how close each missed pair came, in times the minima
                print("    missed: " + ", ".join(f"{a}-{b} {truth.closest[(a, b)][0]:.3f}" for a, b in sorted(s.missed)))
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(DATASETS)))
