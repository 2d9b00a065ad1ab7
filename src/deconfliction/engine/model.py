"""What parties declare and report: policy, parties, zones, operations and position reports."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from ..errors import GeometryError
from ..geo.shapes import Shape
from ..geo.volumes import AltitudeBand, TimeWindow, Volume4D


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules every party agreed to; distances in metres, durations in seconds."""

    perimeter_m: float = 5000.0
    """Default width of the warning band outside each zone."""
    separation_m: float = 1000.0
    """Horizontal minimum between units of different parties."""
    vertical_m: float = 300.0
    """Vertical minimum between units of different parties."""
    lookahead_s: float = 300.0
    """How far ahead closest approaches are predicted."""
    ack_deadline_s: float = 900.0
    """Time a party has to acknowledge a warning."""
    escalation: tuple[str, ...] = ("advisory", "warning", "final_warning")
    """Ordered warning levels."""
    track_timeout_s: float = 900.0
    """A unit silent for longer than this is no longer predicted or compared."""
    encounter_gap_s: float = 60.0
    """Two units are a new encounter only after they were clear of each other this long."""
    # Physical plausibility: a report beyond these is refused (it is a mistake, or worse), and a
    # velocity beyond them is never predicted. They are wide enough for aircraft, ships and ground
    # units alike; a party whose units go beyond them agrees other rules with the others.
    max_speed_mps: float = 1200.0
    """Largest horizontal speed, told or implied by two reports of a unit. The fastest aircraft in
    service (MiG-25, MiG-31: Mach 2.8 to 3.2 at altitude) stay below 1,000 m/s of airspeed, a
    jet-stream tail wind adds up to about 100 m/s of ground speed, and the rest is margin. With the
    default look-ahead it also keeps each unit's predicted path (360 km) within the distances for
    which the closest-approach index is proven (800 km for a pair)."""
    position_noise_m: float = 250.0
    """How far a unit's reported position may wander beyond what ``max_speed_mps`` allows before a
    report counts as a jump (held back, see :mod:`.hygiene`): the noise of two measured positions
    (GNSS, ADS-B and AIS positions wander by tens of metres, and by hundreds with a poor fix), which
    matters when two reports are seconds apart."""
    max_climb_mps: float = 500.0
    """Largest vertical speed, up or down, told or implied by two altitudes. Fighters climb at up to
    about 300 m/s (F-15, Su-27); dives and zoom climbs briefly go faster."""
    min_alt_m: float = -1000.0
    """Lowest altitude above the WGS84 ellipsoid. The lowest dry land (the Dead Sea shore, about 430 m
    below sea level) with the lowest geoid (106 m below the ellipsoid) is above -540 m; submarines
    report depths too, and seldom go below 600 m."""
    max_alt_m: float = 60000.0
    """Highest altitude above the WGS84 ellipsoid: above the record altitudes of aircraft (37.6 km, a
    MiG-25 zoom climb) and of stratospheric balloons (53 km); spacecraft are not this project's units."""

    def __post_init__(self):
        for name in ("perimeter_m", "separation_m", "vertical_m", "lookahead_s", "ack_deadline_s", "track_timeout_s",
                     "encounter_gap_s", "position_noise_m"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise GeometryError(f"{name} must be a finite number >= 0")
        for name in ("max_speed_mps", "max_climb_mps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise GeometryError(f"{name} must be a finite number > 0")
        if not (math.isfinite(self.min_alt_m) and math.isfinite(self.max_alt_m) and self.min_alt_m < self.max_alt_m):
            raise GeometryError("min_alt_m and max_alt_m must be finite numbers, min_alt_m below max_alt_m")

    def limit_problems(self, speed_mps: float | None, climb_mps: float | None,
                       alt_m: float | None) -> list[tuple[str, str]]:
        """(field, reason) for each value of a report outside the physical limits."""
        out = []
        if speed_mps is not None and speed_mps > self.max_speed_mps:
            out.append(("speed_mps", f"{speed_mps} m/s is above the policy's max_speed_mps "
                                     f"({self.max_speed_mps:.12g} m/s)"))
        if climb_mps is not None and abs(climb_mps) > self.max_climb_mps:
            out.append(("climb_mps", f"{climb_mps} m/s is beyond the policy's max_climb_mps "
                                     f"(+/-{self.max_climb_mps:.12g} m/s)"))
        if alt_m is not None and alt_m > self.max_alt_m:
            out.append(("alt_m", f"{alt_m} m is above the policy's max_alt_m ({self.max_alt_m:.12g} m)"))
        if alt_m is not None and alt_m < self.min_alt_m:
            out.append(("alt_m", f"{alt_m} m is below the policy's min_alt_m ({self.min_alt_m:.12g} m)"))
        return out


@dataclass(frozen=True, slots=True)
class Party:
    """A participant: an armed force, an agency, an airspace user. ``channels``: ids it has a direct line to."""

    id: str
    name: str = ""
    channels: tuple[str, ...] = ()


class ZoneKind(StrEnum):
    """What a zone is for; the rules are the same for every kind."""

    DECONFLICTION = "deconfliction"
    PROTECTED_SITE = "protected_site"
    RESTRICTED = "restricted"
    CORRIDOR = "corridor"


@dataclass(frozen=True, slots=True)
class Zone:
    """An agreed area. ``parties`` agreed it; units of parties not in ``allowed`` are watched in it."""

    id: str
    shape: Shape
    parties: tuple[str, ...]
    allowed: tuple[str, ...]
    kind: ZoneKind = ZoneKind.DECONFLICTION
    name: str = ""
    perimeter_m: float | None = None
    """Width of the warning band; None takes the policy's."""
    altitude: AltitudeBand = AltitudeBand()
    window: TimeWindow = TimeWindow()
    notify: tuple[str, ...] = ()
    """Parties the declaring party notifies of the zone (each is sent a notification to acknowledge)."""
    proposer: str | None = None
    """The party that proposed it (one of ``parties``): the zone binds the others only once they
    agree (see :mod:`.agreement`). None: agreed by all its parties when declared."""

    @property
    def volume(self) -> Volume4D:
        return Volume4D(self.shape, self.altitude, self.window)


@dataclass(frozen=True, slots=True)
class Operation:
    """A planned movement: one or more 4-D volumes of one party. Higher ``priority`` wins."""

    id: str
    party: str
    volumes: tuple[Volume4D, ...]
    priority: int = 0
    name: str = ""
    notify: tuple[str, ...] = ()
    """Parties the operation's party notifies of it (each is sent a notification to acknowledge)."""


@dataclass(frozen=True, slots=True)
class Report:
    """A position report of one unit (``track``). Degrees, metres, m/s, degrees true."""

    t: datetime
    track: str
    party: str
    lon: float
    lat: float
    alt_m: float | None = None
    speed_mps: float | None = None
    course_deg: float | None = None
    climb_mps: float | None = None
    """Vertical speed in m/s, positive up; when absent it is taken from the last two altitudes."""
    order: int = field(default=0, compare=False)
    """Position in the input, to keep simultaneous reports in a stable order."""


@dataclass(frozen=True, slots=True)
class Incident:
    """Something that happened at a place and time, reported by a party (e.g. a strike on a site)."""

    id: str
    reporter: str
    kind: str
    shape: Shape
    text: str = ""
