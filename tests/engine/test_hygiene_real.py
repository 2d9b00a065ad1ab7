"""Feed hygiene on real ADS-B (the ``traffic`` package's Paris sample): what a real feed holds back,
and a feed heard twice (two receivers) gives the same events as the feed heard once."""
from datetime import datetime
from itertools import groupby

from tests.realdata import samples_or_skip

SAMPLES = samples_or_skip()

import pandas as pd  # noqa: E402 - after the skip: pandas comes with the test extras

from deconfliction import Engine, Policy  # noqa: E402
from deconfliction.engine.hygiene import KINDS  # noqa: E402
from deconfliction.formats.adsb import reports_from_adsb  # noqa: E402

POLICY = Policy(separation_m=5556.0, vertical_m=300.0, lookahead_s=120.0, track_timeout_s=60.0)
SLICE = (datetime(2021, 10, 7, 12, 30), datetime(2021, 10, 7, 12, 45))


def paris_reports():
    frame = pd.read_json(SAMPLES / "collections" / "quickstart.json.gz")
    frame = frame[(frame["timestamp"] >= SLICE[0]) & (frame["timestamp"] < SLICE[1])]
    return reports_from_adsb(frame)


def replayed(reports) -> tuple[list, dict]:
    engine = Engine(POLICY)
    events = []
    for t, group in groupby(reports, key=lambda r: r.t):
        events += [(e.type, e.fields) for e in engine.report(t, list(group))]
    return events, {kind: engine.stats[f"reports.{kind}"] for kind in (*KINDS, "applied", "jumps_accepted")}


def test_a_real_feed_heard_twice_gives_the_same_events_and_counts_every_repeat():
    reports = paris_reports()
    once, counts = replayed(reports)
    twice, doubled = replayed([r for r in reports for _ in range(2)])
    assert twice == once and len(once) > 10
    # the sample itself has no repeats, nothing out of order and, in this quarter of an hour, no
    # jumps (the half hour after 12:30 has three: see test_real_traffic.py)
    assert counts == {"duplicates": 0, "out_of_order": 0, "jumps": 0, "party_mismatch": 0,
                      "applied": len(reports), "jumps_accepted": 0}
    assert doubled == {**counts, "duplicates": len(reports)}
