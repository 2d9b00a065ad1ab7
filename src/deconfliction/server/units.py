"""Units for the map: a party's own units, and another party's units only while they concern it.

The engine keeps only each unit's last report, so the trails are folded from the log: the
``positions`` commands give the reports, and the detections that follow each command say
which other parties a unit concerns. Folding is incremental (each call reads only the entries
appended since the last one) and happens under the ledger's lock.

Need-to-know: another party's unit is shown to a party while it is in a conflict with that
party's items, which is while one of these is open:

- the unit is approaching or inside a zone the party agreed (from ``zone.approaching`` or
  ``zone.entered`` until ``zone.exited``; a crossing between two reports is an alert, with its
  position, but opens nothing);
- the unit is in a predicted closest approach or a loss of separation with one of the party's
  units (for the look-ahead plus the encounter gap of the policy after the detection).

Only the reports made while a concern was open (and the one that closed it) are in its trail.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..engine.events import format_time
from ..app.ledger import Ledger
from ..times import parse_instant
from ..app.commands import position_reports

TRAIL_POINTS = 20
"""How many reports a unit's trail keeps (the latest position is the last of them)."""

_ZONE_OPEN = {"zone.approaching", "zone.entered"}
_ZONE_CLOSE = {"zone.exited"}
_NEAR = {"proximity.predicted", "separation.lost"}


@dataclass(slots=True)
class _Trail:
    party: str
    points: deque = field(default_factory=lambda: deque(maxlen=TRAIL_POINTS))
    last: dict = field(default_factory=dict)


@dataclass(slots=True)
class _Concern:
    """Why another party's unit concerns a party: open zones, and encounters until a time."""

    zones: set[str] = field(default_factory=set)
    near: dict[str, datetime] = field(default_factory=dict)
    points: deque = field(default_factory=lambda: deque(maxlen=TRAIL_POINTS))
    last: dict = field(default_factory=dict)

    def open(self, now: datetime) -> bool:
        return bool(self.zones) or any(until > now for until in self.near.values())


def _point(report: dict) -> dict:
    return {"t": report["t"], "lon": report["lon"], "lat": report["lat"]}


class UnitView:
    """The units each party may see, with their trails, folded from a ledger's entries."""

    def __init__(self, ledger: Ledger):
        self._ledger = ledger
        self._reset()

    def _reset(self) -> None:
        self._seen: list | None = None
        self._done = 0
        self._trails: dict[str, _Trail] = {}
        self._concerns: dict[tuple[str, str], _Concern] = {}  # (viewing party, track)
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

    def _concern(self, party: str, track: str) -> _Concern:
        key = (party, track)
        if key not in self._concerns:
            self._concerns[key] = _Concern()
            self._watchers.setdefault(track, []).append(party)
        return self._concerns[key]

    def _apply_event(self, event: dict, hold: timedelta) -> set[str]:
        """Open or close concerns; returns the tracks the event names."""
        kind = event.get("type")
        if kind in _ZONE_OPEN or kind in _ZONE_CLOSE:
            zone = self._ledger.engine.zones.get(event["zone"])
            for party in (zone.parties if zone is not None else ()):
                if party != event["party"]:
                    zones = self._concern(party, event["track"]).zones
                    if kind in _ZONE_OPEN:
                        zones.add(event["zone"])
                    else:
                        zones.discard(event["zone"])
            return {event["track"]}
        if kind in _NEAR:
            (a, b), (pa, pb) = event["tracks"], event["parties"]
            until = parse_instant(event["t"]) + hold
            self._concern(pb, a).near[b] = until
            self._concern(pa, b).near[a] = until
            return {a, b}
        return set()

    def _move(self, reports: list[dict]) -> set[str]:
        """Add reports to the units' trails; returns the tracks that moved."""
        moved: set[str] = set()
        for r in reports:
            track = str(r["id"])
            trail = self._trails.get(track)
            if trail is None:
                trail = self._trails[track] = _Trail(str(r.get("party", "")))
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
    def units(self, party: str, now: datetime) -> list[dict]:
        """The units ``party`` may see at ``now``, by track id."""
        with self._ledger.lock:
            self._fold()
            out = [self._unit(track, t.party, t.points, t.last, True) for track, t in self._trails.items()
                   if t.party == party and t.points]
            for (viewer, track), concern in self._concerns.items():
                trail = self._trails.get(track)
                if viewer != party or trail is None or trail.party == party:
                    continue
                if concern.open(now) and concern.points:
                    unit = self._unit(track, trail.party, concern.points, concern.last, False)
                    unit["concerns"] = {"zones": sorted(concern.zones),
                                        "units": sorted(o for o, until in concern.near.items() if until > now)}
                    out.append(unit)
        return sorted(out, key=lambda u: u["id"])

    @staticmethod
    def _unit(track: str, party: str, points, last: dict, own: bool) -> dict:
        tip = points[-1]
        unit = {"id": track, "party": party, "own": own, "t": format_time(parse_instant(tip["t"])),
                "lon": tip["lon"], "lat": tip["lat"],
                "trail": [{"t": format_time(parse_instant(p["t"])), "lon": p["lon"], "lat": p["lat"]} for p in points]}
        if last and last.get("t") == tip["t"]:
            for name in ("alt_m", "speed_mps", "course_deg"):
                if isinstance(last.get(name), (int, float)):
                    unit[name] = last[name]
        return unit
