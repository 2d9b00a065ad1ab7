"""Altitude bands, time windows and 4-D volumes (footprint x altitude x time)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ..errors import GeometryError
from .shapes import Shape


class AltitudeReference(StrEnum):
    """What an altitude is measured from."""

    WGS84 = "WGS84"
    """Height above the WGS84 ellipsoid (the default)."""
    AMSL = "AMSL"
    """Above mean sea level."""
    AGL = "AGL"
    """Above ground level."""


@dataclass(frozen=True, slots=True)
class AltitudeBand:
    """A closed altitude interval ``[lower_m, upper_m]`` in metres; unbounded by default.

    Bands with different references cannot be compared without terrain or geoid models, which
    this package does not ship; such comparisons are answered conservatively (they overlap).
    """

    lower_m: float = -math.inf
    upper_m: float = math.inf
    reference: AltitudeReference = AltitudeReference.WGS84

    def __post_init__(self):
        if math.isnan(self.lower_m) or math.isnan(self.upper_m):
            raise GeometryError("altitudes must be numbers, not NaN")
        if self.lower_m > self.upper_m:
            raise GeometryError(f"lower_m {self.lower_m} is above upper_m {self.upper_m}")

    def contains(self, alt_m: float | None, reference: AltitudeReference = AltitudeReference.WGS84) -> bool:
        """True when ``alt_m`` lies in the band (boundaries included); unknown altitude counts as inside."""
        if alt_m is None or math.isnan(alt_m) or reference != self.reference:
            return True
        return self.lower_m <= alt_m <= self.upper_m

    def overlaps(self, other: "AltitudeBand") -> bool:
        """True when the bands share an altitude (touching counts)."""
        if other.reference != self.reference:
            return True
        return self.lower_m <= other.upper_m and other.lower_m <= self.upper_m

    def to_json(self) -> dict:
        out: dict = {}
        if math.isfinite(self.lower_m):
            out["lower_m"] = self.lower_m
        if math.isfinite(self.upper_m):
            out["upper_m"] = self.upper_m
        if self.reference != AltitudeReference.WGS84:
            out["reference"] = str(self.reference)
        return out


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A half-open UTC interval ``[start, end)``; ``None`` means unbounded on that side."""

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self):
        for t in (self.start, self.end):
            if t is not None and t.tzinfo is None:
                raise GeometryError("times must be timezone-aware (UTC)")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise GeometryError("the window's end is not after its start")

    def contains(self, t: datetime) -> bool:
        """True when ``start <= t < end``."""
        return (self.start is None or self.start <= t) and (self.end is None or t < self.end)

    def intersection(self, other: "TimeWindow") -> "TimeWindow | None":
        """The common part of two windows, or None when they do not overlap (back to back is no overlap)."""
        starts = [t for t in (self.start, other.start) if t is not None]
        ends = [t for t in (self.end, other.end) if t is not None]
        start = max(starts) if starts else None
        end = min(ends) if ends else None
        if start is not None and end is not None and end <= start:
            return None
        return TimeWindow(start, end)

    def overlaps(self, other: "TimeWindow") -> bool:
        """Whether :meth:`intersection` is not None, without building it (the plan checks ask this
        of every candidate pair)."""
        start = other.start if self.start is None else (self.start if other.start is None or other.start <= self.start
                                                         else other.start)
        end = other.end if self.end is None else (self.end if other.end is None or self.end <= other.end else other.end)
        return start is None or end is None or start < end

    def overlaps_span(self, first: datetime, last: datetime) -> bool:
        """True when some instant of the closed span ``[first, last]`` lies in the window."""
        return (self.start is None or last >= self.start) and (self.end is None or first < self.end)


@dataclass(frozen=True, slots=True)
class Volume4D:
    """A footprint with an altitude band and a time window: the unit of strategic deconfliction."""

    shape: Shape
    altitude: AltitudeBand = AltitudeBand()
    window: TimeWindow = TimeWindow()

    def conflict_window(self, other: "Volume4D") -> TimeWindow | None:
        """The shared time window when the volumes intersect in time, altitude and footprint, else None."""
        window = self.window.intersection(other.window)
        if window is None or not self.altitude.overlaps(other.altitude):
            return None
        return window if self.shape.overlaps(other.shape) else None
