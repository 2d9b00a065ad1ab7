"""Accelerated scenario time for demos: a clock the player can hold, and a service whose deadlines fire on it."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from ..engine.events import Event
from .service import Service


class ScenarioClock:
    """Scenario time, ``speed`` scenario seconds per wall-clock second, never past what the player holds.

    ``clock()`` is ``start + (wall_now - wall_start) * speed`` once :meth:`run` has been called
    (``start`` before), but never later than the time given to :meth:`hold`: the player holds the
    clock at the time of its next item until that item is in, so a slow machine slows the demo
    down rather than changing what happens. It never goes back.
    """

    def __init__(self, start: datetime, speed: float, wall: Callable[[], float] = time.monotonic):
        if not speed > 0:
            raise ValueError("speed must be a positive number")
        self.start, self.speed = start, float(speed)
        self._wall = wall
        self._anchor: float | None = None
        self._held: datetime | None = start
        self._last = start
        self._lock = threading.Lock()

    def run(self) -> None:
        """Start the clock running (once; later calls do nothing)."""
        with self._lock:
            if self._anchor is None:
                self._anchor = self._wall()

    def free(self) -> datetime:
        """Where the running clock is, ignoring any hold."""
        anchor = self._anchor
        if anchor is None:
            return self.start
        return self.start + timedelta(seconds=(self._wall() - anchor) * self.speed)

    def __call__(self) -> datetime:
        with self._lock:
            return self._now()

    def _now(self) -> datetime:
        t = self.free()
        if self._held is not None and t > self._held:
            t = self._held
        self._last = max(self._last, t)
        return self._last

    def hold(self, t: datetime | None) -> None:
        """Stop the clock at ``t`` (until the next hold); ``None`` lets it run freely."""
        with self._lock:
            self._held = t

    def may_fire(self, due: datetime) -> bool:
        """A deadline due at ``due`` fires now: it is due, and strictly before the item being held for,
        which goes first, as in a replay (a command fires only the deadlines before its time)."""
        with self._lock:
            return due <= self._now() and (self._held is None or due < self._held)

    def wall_seconds_until(self, t: datetime) -> float:
        """Wall-clock seconds until the running clock reaches ``t`` (0 if it has)."""
        return max((t - self.free()).total_seconds() / self.speed, 0.0)


class ScenarioService(Service):
    """The service on a :class:`ScenarioClock`: each deadline fires at its own due time, in a clock
    command of that time, and not before the items of the instant the clock is held at (a command
    fires only the deadlines before its time, so in a replay they come after that instant's items)."""

    clock: ScenarioClock

    def tick(self) -> list[Event]:
        fired: list[Event] = []
        with self.ledger.lock:
            self.ledger.catch_up()
            while (due := self.ledger.engine.next_due()) is not None and self.clock.may_fire(due):
                events, _ = self.ledger.execute({"type": "clock"}, due)
                fired += events
        return fired
