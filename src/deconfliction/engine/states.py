"""Operation states: planned until the first volume's window starts, active until the last one ends,
then ended; or cancelled. The changes by time are timers on the engine's clock."""
from __future__ import annotations

import heapq
from datetime import datetime
from enum import StrEnum

from .model import Operation


class OperationState(StrEnum):
    """Where an operation stands."""

    PLANNED = "planned"
    """Before the earliest start of its volumes' windows."""
    ACTIVE = "active"
    """From the earliest start (or always, with an open start) until the latest end."""
    ENDED = "ended"
    """From the latest end of its volumes' windows on (never, with an open end)."""
    CANCELLED = "cancelled"
    """Its party cancelled it; no time changes it again."""


def span(op: Operation) -> tuple[datetime | None, datetime | None]:
    """The earliest start and the latest end of the operation's windows (None: open)."""
    starts = [v.window.start for v in op.volumes]
    ends = [v.window.end for v in op.volumes]
    return (None if None in starts else min(starts)), (None if None in ends else max(ends))


def state_at(op: Operation, t: datetime) -> OperationState:
    """The state its windows give the operation at ``t`` (windows are half-open: active at the start,
    ended at the end)."""
    start, end = span(op)
    if start is not None and t < start:
        return OperationState.PLANNED
    if end is not None and t >= end:
        return OperationState.ENDED
    return OperationState.ACTIVE


class OperationClock:
    """The state of each operation and the next change its windows bring, in time order.

    :meth:`set` (a declaration, an amendment) puts the operation in the state of its windows at that
    time and schedules its next change; an earlier schedule of the operation lapses, so that moved
    windows bring no stale or second change. :meth:`fire` gives the changes falling due, each at its
    own time, in time order (at one time, in the order they were scheduled)."""

    def __init__(self) -> None:
        self.states: dict[str, OperationState] = {}
        self._ops: dict[str, Operation] = {}
        self._timers: list[tuple[datetime, int, str, int]] = []
        """(due, order, operation, generation)."""
        self._generation: dict[str, int] = {}
        self._order = 0

    def set(self, op: Operation, t: datetime) -> OperationState:
        """The operation as declared or amended at ``t``: its state then, and its next change scheduled."""
        self._ops[op.id] = op
        self._generation[op.id] = self._generation.get(op.id, 0) + 1
        state = self.states[op.id] = state_at(op, t)
        self._schedule(op.id, state)
        return state

    def cancel(self, op_id: str) -> None:
        """Cancelled: its scheduled change lapses."""
        self.states[op_id] = OperationState.CANCELLED
        self._generation[op_id] = self._generation.get(op_id, 0) + 1

    def _schedule(self, op_id: str, state: OperationState) -> None:
        start, end = span(self._ops[op_id])
        due = start if state == OperationState.PLANNED else end if state == OperationState.ACTIVE else None
        if due is not None:
            self._order += 1
            heapq.heappush(self._timers, (due, self._order, op_id, self._generation[op_id]))

    def next_due(self) -> datetime | None:
        """When the next change falls due, or None. Lapsed changes are dropped from the front of the
        queue on the way (so it is not a read to make while another thread changes the engine)."""
        while self._timers and self._lapsed(self._timers[0]):
            heapq.heappop(self._timers)  # amended or cancelled since: nothing would fire
        return self._timers[0][0] if self._timers else None

    def _lapsed(self, timer: tuple[datetime, int, str, int]) -> bool:
        return timer[3] != self._generation[timer[2]]

    def fire(self, until: datetime) -> list[tuple[datetime, str, OperationState]]:
        """(time, operation, new state) of the changes falling due up to ``until`` (inclusive)."""
        out = []
        while self._timers and self._timers[0][0] <= until:
            timer = heapq.heappop(self._timers)
            if self._lapsed(timer):
                continue
            due, _, op_id, _ = timer
            state = OperationState.ACTIVE if self.states[op_id] == OperationState.PLANNED else OperationState.ENDED
            self.states[op_id] = state
            self._schedule(op_id, state)
            out.append((due, op_id, state))
        return out
