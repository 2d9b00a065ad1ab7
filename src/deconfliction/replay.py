"""The scenario driver: feeds a scenario's declarations and reports to the engine on a simulated clock."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import groupby

from .engine.core import Engine
from .engine.events import Event
from .formats.scenario import Scenario


def replay(scenario: Scenario, engine: Engine | None = None,
           progress: Callable[[int, int], None] | None = None) -> Iterator[Event]:
    """Events of a scenario in log order (by time, then sequence number).

    Zones and operations are declared at the scenario's start, in file order; position reports
    follow in time order, simultaneous reports in file order. ``progress(done, total)`` is called
    now and then with the number of reports handed to the engine.
    """
    engine = engine or Engine(scenario.policy, scenario.parties)
    for zone in scenario.zones:
        yield from engine.declare_zone(zone, scenario.start)
    for op in scenario.operations:
        yield from engine.declare_operation(op, scenario.start)
    done, total = 0, len(scenario.reports)
    for t, group in groupby(scenario.reports, key=lambda r: r.t):
        batch = list(group)
        yield from engine.report(t, batch)
        done += len(batch)
        if progress is not None:
            progress(done, total)
