"""The scenario driver: feeds a scenario's declarations, reports and traffic to the engine on a simulated clock."""
from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from itertools import groupby

from .engine.core import Engine
from .engine.events import Event
from .formats.messages import Acknowledgement, ChannelChange, Disowning, IncidentReport, ScriptedMessage
from .formats.scenario import Scenario

_END_OF_TIME = datetime.max.replace(tzinfo=timezone.utc)
_REPORTS = 1  # at one instant: line changes (0), reports (1), messages (2), answers (3), incidents (4)
_ORDER = {ChannelChange: 0, ScriptedMessage: 2, Acknowledgement: 3, Disowning: 3, IncidentReport: 4}


def replay(scenario: Scenario, engine: Engine | None = None,
           progress: Callable[[int, int], None] | None = None, until: datetime | None = None) -> Iterator[Event]:
    """Events of a scenario in log order (by time, then sequence number).

    Zones and operations are declared at the scenario's start, in file order. Then, in time
    order, with this order at one instant: line changes, position reports (simultaneous ones in
    file order), messages, acknowledgements and disowning, incidents. Deadlines fire at their
    own times. The replay stops before ``until``, or the scenario's end, or when nothing is left
    to happen. ``progress(done, total)`` is called now and then with the reports handled.
    """
    engine = engine or Engine(scenario.policy, scenario.parties)
    stop = min(t for t in (until, scenario.end, _END_OF_TIME) if t is not None)
    if scenario.start >= stop:
        return
    for zone in scenario.zones:
        yield from engine.declare_zone(zone, scenario.start)
    for op in scenario.operations:
        yield from engine.declare_operation(op, scenario.start)
    batches = ((t, _REPORTS, list(g)) for t, g in groupby(scenario.reports, key=lambda r: r.t))
    commands = sorted(((c.t, _ORDER[type(c)], c) for c in scenario.commands), key=lambda x: (x[0], x[1]))
    done, total = 0, len(scenario.reports)
    for t, _, item in heapq.merge(batches, commands, key=lambda x: (x[0], x[1])):
        if t >= stop:
            break
        if isinstance(item, list):
            yield from engine.report(t, item)
            done += len(item)
            if progress is not None:
                progress(done, total)
        else:
            yield from _apply(engine, item)
    yield from engine.advance(stop, inclusive=stop == _END_OF_TIME)


def _apply(engine: Engine, c) -> list[Event]:
    if isinstance(c, ScriptedMessage):
        return engine.send(c.t, c.id, c.sender, c.to, c.kind, c.text, c.ref)
    if isinstance(c, Acknowledgement):
        return engine.acknowledge(c.t, c.message, c.by)
    if isinstance(c, Disowning):
        return engine.disown(c.t, c.message, c.by, c.reason)
    if isinstance(c, ChannelChange):
        return engine.set_channel(c.t, c.a, c.b, c.active)
    return engine.report_incident(c.t, c.incident)
