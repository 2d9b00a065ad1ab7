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

    def __post_init__(self):
        for name in ("perimeter_m", "separation_m", "vertical_m", "lookahead_s", "ack_deadline_s", "track_timeout_s",
                     "encounter_gap_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise GeometryError(f"{name} must be a finite number >= 0")


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
