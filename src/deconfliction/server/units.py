"""Units for the map: every unit's trail, and why each concerns other parties, folded from the log.

The engine keeps only each unit's last report, so the trails are folded from the log: the
``positions`` commands give the reports, and the detections that follow each command say
which other parties a unit concerns (:func:`.access.unit_concerns`). Folding is incremental
(each call reads only the entries appended since the last one) and happens under the ledger's
lock. What a party is shown of it is :meth:`.access.Access.units`'s to decide: its own units,
and another party's unit while that unit's :class:`.access.Concern` for it is open, which is
while one of these lasts:

- the unit is approaching or inside a zone the party agreed (from ``zone.approaching`` or
  ``zone.entered`` until ``zone.exited``; a crossing between two reports is an alert, with its
  position, but opens nothing);
- the unit is in a predicted closest approach or a loss of separation with one of the party's
  units (for the look-ahead plus the encounter gap of the policy after the detection).

Only the reports made while a concern was open (and the one that closed it) are in its trail.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..app.ledger import Ledger
from ..times import parse_instant
from ..app.commands import position_reports
from .access import NEAR, ZONE_CLOSES, ZONE_OPENS, Concern, unit_concerns
from .render import TRAIL_POINTS


@dataclass(slots=True)
class Trail:
    """A unit's party, its latest reports (oldest first) and the last of them as it was sent."""

    party: str
    points: deque = field(default_factory=lambda: deque(maxlen=TRAIL_POINTS))
    last: dict = field(default_factory=dict)


def _point(report: dict) -> dict:
    return {"t": report["t"], "lon": report["lon"], "lat": report["lat"]}


class UnitView:
    """Every unit's trail and its concerns for other parties, folded from a ledger's entries."""

    def __init__(self, ledger: Ledger):
        self._ledger = ledger
        self._reset()

    def _reset(self) -> None:
        self._seen: list | None = None
        self._done = 0
        self._trails: dict[str, Trail] = {}
        self._concerns: dict[tuple[str, str], Concern] = {}  # (viewing party, track)
        self._watchers: dict[str, list[str]] = {}  # track -> parties it concerns (or concerned)

    # -- folding -------------------------------------------------------------------------------
    def _fold(self) -> None:
        entries = self._ledger.entries
        if entries is not self._seen or len(entries) < self._done:  # the ledger was rebuilt
            self._reset()
            self._seen = entries
        policy = self._ledger.engine.policy  # the scenario may have set its own
        hold = timedelta(seconds=policy.lookahead_s + policy.encounter_gap_s)
        touched: set[str] = set()
        before: set[tuple[str, str]] = set()
        now = None
        for entry in entries[self._done:]:
            if entry.kind == "command":
                if now is not None:
                    self._show(touched, before, now)
                now = parse_instant(entry.t)
                # concerns are judged as they stood before the command and after its detections
                touched = self._move(self._reports(entry))
                before = self._open_for(touched, now)
            else:
                touched |= self._apply_event(entry.body, hold)
        if now is not None:
            self._show(touched, before, now)
        self._done = len(entries)

    def _open_for(self, tracks: set[str], now: datetime) -> set[tuple[str, str]]:
        """(party, track) of the given tracks whose concern is open at ``now``."""
        return {(party, track) for track in tracks for party in self._watchers.get(track, ())
                if self._concerns[(party, track)].open(now)}

    def _reports(self, entry) -> list[dict]:
        """The reports of a logged positions command (whichever form it was logged in)."""
        if entry.body.get("type") != "positions":
            return []
        reports = position_reports(entry.body, self._ledger.payload(entry))
        return [r for r in reports if isinstance(r, dict) and "id" in r]

    def _concern(self, party: str, track: str) -> Concern:
        key = (party, track)
        if key not in self._concerns:
            self._concerns[key] = Concern()
            self._watchers.setdefault(track, []).append(party)
        return self._concerns[key]

    def _apply_event(self, event: dict, hold: timedelta) -> set[str]:
        """Open or close concerns; returns the tracks the event names."""
        kind = event.get("type")
        concerns = unit_concerns(event, self._ledger.engine.bound)
        if kind in ZONE_OPENS or kind in ZONE_CLOSES:
            for party, track, zone in concerns:
                zones = self._concern(party, track).zones
                if kind in ZONE_OPENS:
                    zones.add(zone)
                else:
                    zones.discard(zone)
            return {event["track"]}
        if kind in NEAR:
            until = parse_instant(event["t"]) + hold
            for party, track, other in concerns:
                self._concern(party, track).near[other] = until
            return set(event["tracks"])
        return set()

    def _move(self, reports: list[dict]) -> set[str]:
        """Add reports to the units' trails; returns the tracks that moved."""
        moved: set[str] = set()
        for r in reports:
            track = str(r["id"])
            trail = self._trails.get(track)
            if trail is None:
                trail = self._trails[track] = Trail(str(r.get("party", "")))
            elif str(r.get("party", "")) != trail.party or (trail.points and
                                                           parse_instant(r["t"]) <= parse_instant(trail.points[-1]["t"])):
                continue  # the engine ignores it too: another party's id, or not later than the last report
            trail.points.append(_point(r))
            trail.last = r
            moved.add(track)
        return moved

    def _show(self, tracks: set[str], before: set[tuple[str, str]], now: datetime) -> None:
        """Give each concern the unit's latest report while it is open (and the one that closed it)."""
        for track in tracks:
            trail = self._trails.get(track)
            if trail is None or not trail.last:
                continue
            for party in self._watchers.get(track, ()):
                concern = self._concerns[(party, track)]
                if ((party, track) in before or concern.open(now)) and concern.last is not trail.last:
                    concern.points.append(_point(trail.last))
                    concern.last = trail.last

    # -- reading -------------------------------------------------------------------------------
    @contextmanager
    def folded(self) -> Iterator[tuple[dict[str, Trail], dict[tuple[str, str], Concern]]]:
        """Under the ledger's lock, with every entry folded in: the trails by track, and the concerns
        by (party concerned, track). Read them only inside the ``with`` block."""
        with self._ledger.lock:
            self._fold()
            yield self._trails, self._concerns
