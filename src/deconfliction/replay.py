"""The scenario driver: a scenario's items fed to the engine on a simulated clock; and the plan check."""
from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from itertools import groupby

from .app.commands import (ack_command, agree_command, broadcast_command, channel_command, decline_command,
                           disown_command, incident_command, message_command, operation_amend_command,
                           operation_cancel_command, operation_command, run, zone_amend_command, zone_command,
                           zone_withdraw_command)
from .engine.core import Engine
from .engine.events import Event, EventType
from .engine.tracks import ReportBatch
from .errors import Problem, ScenarioError
from .formats.messages import (Acknowledgement, Amendment, ChannelChange, CopyOf, Disowning, IncidentReport,
                               ScriptedMessage, Withdrawal, ZoneAnswer)
from .formats.scenario import Scenario
from .geo.volumes import TimeWindow
from .times import format_time

_END_OF_TIME = datetime.max.replace(tzinfo=timezone.utc)
_REPORTS = 1  # at one instant: line changes (0), reports (1), messages (2), answers (3), incidents (4)
_ORDER = {ChannelChange: 0, ScriptedMessage: 2, Acknowledgement: 3, Disowning: 3, ZoneAnswer: 3, Amendment: 3,
          Withdrawal: 3, IncidentReport: 4}


def replay(scenario: Scenario, engine: Engine | None = None,
           progress: Callable[[int, int], None] | None = None, until: datetime | None = None) -> Iterator[Event]:
    """Events of a scenario in log order (see :func:`_replay`).

    An answer to the copy of an area broadcast whose copy has not been sent by then (its party not
    reached) raises ScenarioError naming the item; whether it was depends on the units' reports, so
    it is known only in the replay. The events up to the last such answer are held back until it
    has been applied, so that a file with that problem gives no events at all.
    """
    events = _replay(scenario, engine, progress, until)
    answers = [c.t for c in scenario.commands if getattr(c, "copy", None) is not None]
    if not answers:
        yield from events
        return
    last, held = max(answers), []
    for event in events:
        if held is not None and event.t <= last:
            held.append(event)
            continue
        if held:
            yield from held
        held = None
        yield event
    yield from held or ()


def _replay(scenario: Scenario, engine: Engine | None = None,
            progress: Callable[[int, int], None] | None = None, until: datetime | None = None) -> Iterator[Event]:
    """Events of a scenario in log order (by time, then sequence number).

    Zones and operations are declared at the scenario's start, in file order. Then, in time
    order, with this order at one instant: line changes, position reports (simultaneous ones in
    file order), messages, acknowledgements, disowning and answers to zones (agree, decline),
    incidents. Deadlines fire at their
    own times. The replay stops before ``until``, or the scenario's end, or when nothing is left
    to happen. ``progress(done, total)`` is called now and then with the reports handled.

    Every item becomes the command the live service would log for it, applied through the same
    function (:func:`.app.commands.run`: encoded, decoded, at the time a log keeps), so that a
    scenario played through the service's API and replayed here give the same events.
    """
    engine = engine or Engine(scenario.policy, scenario.parties)
    stop = min(t for t in (until, scenario.end, _END_OF_TIME) if t is not None)
    if scenario.start >= stop:
        return
    for zone, spec in zip(scenario.zones, scenario.specs.get("zones", [None] * len(scenario.zones))):
        yield from _run(engine, zone_command(zone.proposer or zone.parties[0], spec or {"id": zone.id}),
                        scenario.start, zone)
    for op, spec in zip(scenario.operations, scenario.specs.get("operations", [None] * len(scenario.operations))):
        yield from _run(engine, operation_command(op.party, spec or {"id": op.id}), scenario.start, op)
    batches = ((t, _REPORTS, list(g)) for t, g in groupby(scenario.reports, key=lambda r: r.t))
    commands = sorted(((c.t, _ORDER[type(c)], c) for c in scenario.commands), key=lambda x: (x[0], x[1]))
    done, total = 0, len(scenario.reports)
    for t, _, item in heapq.merge(batches, commands, key=lambda x: (x[0], x[1])):
        if t >= stop:
            break
        if isinstance(item, list):
            yield from _run(engine, {"type": "positions", "count": len(item)}, t, [ReportBatch.of(item)])
            done += len(item)
            if progress is not None:
                progress(done, total)
        elif isinstance(item, Amendment):
            version = engine.versions.get(item.item.id, 1)  # the version it stands at: the file's order
            build = zone_amend_command if item.kind == "zone" else operation_amend_command
            yield from _run(engine, build(item.party, item.spec, version), t)
        else:
            if isinstance(item, (Acknowledgement, Disowning)) and item.copy is not None:
                _check_reached(engine, item.copy, t)
            yield from _run(engine, *_command(item))
    yield from engine.advance(stop, inclusive=stop == _END_OF_TIME)


def _check_reached(engine: Engine, copy: CopyOf, t: datetime) -> None:
    """ScenarioError naming the answer unless the broadcast has reached the copy's party by ``t``."""
    record = engine.broadcast_record(copy.broadcast)
    if record is None or copy.party not in dict(record.reached):
        raise ScenarioError([Problem(copy.path, (
            f"{copy.party!r} was not reached by broadcast {copy.broadcast!r} by "
            f"{format_time(t)} (no unit of it inside the area while the broadcast stood), "
            "so it has no copy to answer"))])


def _run(engine: Engine, command: dict, t: datetime, prepared=None) -> list[Event]:
    return run(engine, command, t, prepared).events


def _command(c) -> tuple:
    """(command, time, prepared value) of a scripted item."""
    if isinstance(c, ScriptedMessage) and c.area is not None:
        return broadcast_command(c.id, c.sender, c.area, c.kind, c.text, c.ref), c.t
    if isinstance(c, ScriptedMessage):
        return message_command(c.id, c.sender, c.to, c.kind, c.text, c.ref), c.t
    if isinstance(c, Acknowledgement):
        return ack_command(c.message, c.by), c.t
    if isinstance(c, Disowning):
        return disown_command(c.message, c.by, c.reason), c.t
    if isinstance(c, Withdrawal):
        build = zone_withdraw_command if c.kind == "zone" else operation_cancel_command
        return build(c.id, c.by, c.reason), c.t
    if isinstance(c, ZoneAnswer):
        return (agree_command(c.zone, c.by) if c.agree else decline_command(c.zone, c.by, c.reason)), c.t
    if isinstance(c, ChannelChange):
        return channel_command([c.a, c.b], c.active), c.t
    return incident_command(c.spec or {"id": c.incident.id}), c.t, c.incident


@dataclass(frozen=True, slots=True)
class CheckedConflict:
    """A plan conflict as :func:`check_plans` finds it: a ``plan.conflict`` of the replay, with the
    parties of a zone named as they agreed it, and its window cut short where a change ended it."""

    operation: str
    other: str
    other_kind: str
    parties: tuple[str, ...]
    window: TimeWindow | None
    """The conflict's window, cut short where a change ended it; None when it ended before the window began."""
    ended: tuple[datetime, str] | None
    """When a change of the file (a withdrawal, cancellation or amendment) ended it within its
    window, and why; None when it runs its course."""


_PLAN_CHANGES = (ZoneAnswer, Amendment, Withdrawal)


def check_plans(scenario: Scenario) -> tuple[list[CheckedConflict], list[CheckedConflict]]:
    """The plan conflicts of a scenario's zones and operations under the file's agreements, declines,
    amendments, withdrawals and cancellations: (those that hold at some time, those ended by a
    change before their window began), each in the order the replay finds them.

    It is a replay (:func:`replay`, every item a command applied through :func:`.app.commands.run`)
    of the declarations and those items only: no reports, messages or incidents. A conflict with
    a zone names, besides the operation's party, the zone's parties that had agreed it before the
    conflict's window (as cut short) was over: its proposer, and whoever agreed by then; never a
    party that declined it. These are the parties the replay's events name: the conflict's, and
    those its ``plan.conflict_bound`` events added (an agreement while it was open and its window
    not over: :meth:`.Engine.agree_zone`).
    """
    plans = replace(scenario, reports=(), commands=tuple(c for c in scenario.commands if isinstance(c, _PLAN_CHANGES)))
    engine = Engine(scenario.policy, scenario.parties)
    found: list[list] = []  # [event, ended, parties]
    standing: dict[tuple[str, str], list] = {}
    for event in replay(plans, engine):
        key = (event.fields.get("operation"), event.fields.get("other"))
        if event.type == EventType.PLAN_CONFLICT:
            standing[key] = [event, None, tuple(event.fields["parties"])]
            found.append(standing[key])
        elif event.type == EventType.PLAN_CONFLICT_BOUND and key in standing:
            standing[key][2] = tuple(event.fields["parties"])
        elif event.type == EventType.PLAN_CONFLICT_ENDED and key in standing:
            standing.pop(key)[1] = (event.t, event.fields["reason"])
    held, never = [], []
    for event, ended, parties in found:
        f = event.fields
        start, end = f["window"]["start"], f["window"]["end"]
        if ended is None:  # standing: an amendment may have moved its window (the conflict stays open)
            start, end = _window_now(engine, f["operation"], f["other"]) or (start, end)
        if ended is not None and end is not None and end <= ended[0]:
            ended = None  # ran its course before the change
        if ended is not None:
            end = ended[0]
        conflict = CheckedConflict(f["operation"], f["other"], f["other_kind"], parties,
                                   TimeWindow(start, end) if start is None or end is None or start < end else None,
                                   ended)
        (held if conflict.window is not None else never).append(conflict)
    return held, never


def _window_now(engine: Engine, operation: str, other: str) -> tuple[datetime | None, datetime | None] | None:
    """The window of the standing conflict of ``operation`` with ``other`` (a zone or operation) as
    the items stand now (the engine checks the operation again, as it would a new one)."""
    for c in engine.check_operation(engine.operations[operation]):
        if c.other == other:
            return c.window.start, c.window.end
    return None
