"""Units' last positions kept column by column, and batches of position reports as columns.

A live service applies thousands of reports per request; keeping them as numpy columns lets the
engine check order, work out velocities and find zone hits for a whole batch at once instead of
one Python object per report.
"""
from __future__ import annotations

import bisect
from itertools import repeat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from .model import Report

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)


def to_us(t: datetime) -> int:
    """A UTC time as whole microseconds since 1970 (exact, unlike float seconds)."""
    return (t - _EPOCH) // _US


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _column(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@dataclass(slots=True)
class ReportBatch:
    """Position reports as columns; a missing optional value is NaN (reports never carry NaN)."""

    t_us: np.ndarray
    """Each report's time, microseconds since 1970 (int64)."""
    ids: list[str]
    parties: list[str]
    lon: np.ndarray
    lat: np.ndarray
    alt_m: np.ndarray
    speed_mps: np.ndarray
    course_deg: np.ndarray
    climb_mps: np.ndarray
    rows: tuple | None = None
    """(table, its size then, each report's row there): the rows as looked up earlier (by the
    service, to refuse another party's track), used again while the table has not grown."""
    held_back: dict[str, int] | None = None
    """Set when the engine has applied the batch: how many of its reports it held back, by kind
    (duplicates, out_of_order, jumps, party_mismatch; see :mod:`.hygiene`)."""

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def of(cls, reports: Sequence[Report]) -> "ReportBatch":
        times: dict[datetime, int] = {}
        t_us = np.array([times[r.t] if r.t in times else times.setdefault(r.t, to_us(r.t)) for r in reports],
                        dtype=np.int64)
        return cls(t_us, [r.track for r in reports], [r.party for r in reports],
                   np.array([r.lon for r in reports], dtype=float), np.array([r.lat for r in reports], dtype=float),
                   _column(r.alt_m for r in reports), _column(r.speed_mps for r in reports),
                   _column(r.course_deg for r in reports), _column(r.climb_mps for r in reports))

    def take(self, index: np.ndarray) -> "ReportBatch":
        """The reports at ``index`` (in that order)."""
        pick = index.tolist()
        return ReportBatch(self.t_us[index], [self.ids[i] for i in pick], [self.parties[i] for i in pick],
                           self.lon[index], self.lat[index], self.alt_m[index], self.speed_mps[index],
                           self.course_deg[index], self.climb_mps[index])


@dataclass(frozen=True, slots=True)
class TrackState:
    """The last applied report of a unit (at time ``t``), with its velocity (m/s east, north, up)."""

    track: str
    party: str
    t: datetime
    lon: float
    lat: float
    alt_m: float
    v_east_mps: float = 0.0
    v_north_mps: float = 0.0
    v_up_mps: float = 0.0


class TrackTable(Mapping[str, TrackState]):
    """The last applied report of every unit, one row (slot) per unit, in numpy columns.

    Read as a mapping of track id to :class:`TrackState`; the engine writes whole batches with
    :meth:`put`.
    """

    _COLUMNS = ("lon", "lat", "alt_m", "v_east", "v_north", "v_up", "cand_lon", "cand_lat", "cand_alt_m")
    _COUNTS = ("party", "t_us", "cand_t_us", "cand_n")
    """Integer columns. ``cand_*``: the unit's candidate new place, its last report held back as a
    jump, and how many reports in a row confirm it (0: none; see :mod:`.hygiene`)."""

    def __init__(self):
        self.ids: list[str] = []
        self.slot: dict[str, int] = {}
        self.parties: list[str] = []
        self._party_code: dict[str, int] = {}
        self._sorted_ids: list[str] = []
        self._order: np.ndarray | None = np.zeros(0, dtype=np.int64)
        size = 64
        for name in self._COUNTS:
            setattr(self, name, np.zeros(size, dtype=np.int64))
        for name in self._COLUMNS:
            setattr(self, name, np.zeros(size))

    # -- the mapping view ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.ids))

    def __contains__(self, track: object) -> bool:
        return track in self.slot

    def __getitem__(self, track: str) -> TrackState:
        s = self.slot[track]
        return TrackState(track, self.parties[self.party[s]], from_us(self.t_us[s]), float(self.lon[s]),
                          float(self.lat[s]), float(self.alt_m[s]), float(self.v_east[s]), float(self.v_north[s]),
                          float(self.v_up[s]))

    def party_of(self, track: str) -> str | None:
        s = self.slot.get(track)
        return None if s is None else self.parties[self.party[s]]

    # -- writing ---------------------------------------------------------------------------------
    def code(self, party: str) -> int:
        """A small integer for a party name (stable for the table's life)."""
        c = self._party_code.get(party)
        if c is None:
            c = self._party_code[party] = len(self.parties)
            self.parties.append(party)
        return c

    def codes(self, parties: Sequence[str]) -> np.ndarray:
        """The codes of a column of party names."""
        if len(set(parties)) == 1:
            return np.full(len(parties), self.code(parties[0]), dtype=np.int64)
        return np.fromiter(map(self.code, parties), dtype=np.int64, count=len(parties))

    def code_of(self, party: str) -> int:
        """The party's code, or -1 if no unit of it was ever applied (reads only)."""
        return self._party_code.get(party, -1)

    def rows_of(self, batch: ReportBatch) -> np.ndarray:
        """Row of each report's unit (-1 for new units); remembered on the batch (see ReportBatch.rows)."""
        if batch.rows is not None and batch.rows[0] is self and batch.rows[1] == len(self.ids):
            return batch.rows[2]  # rows are only ever added, so an unchanged size means unchanged rows
        size = len(self.ids)  # before the look-up: a unit added meanwhile (by another thread) shows as growth
        rows = self.slots(batch.ids)
        batch.rows = (self, size, rows)
        return rows

    def slots(self, ids: Sequence[str], create: bool = False, rows: np.ndarray | None = None) -> np.ndarray:
        """Row of each id; -1 for unknown ids unless ``create``, which adds rows for them.

        ``rows``: the ids' rows as looked up earlier (-1 where unknown), to fill in only the new ones.
        """
        if rows is None:
            rows = np.fromiter(map(self.slot.get, ids, repeat(-1)), dtype=np.int64, count=len(ids))
        else:
            rows = rows.copy()
        if create and (rows < 0).any():
            for k in np.flatnonzero(rows < 0).tolist():
                track = ids[k]
                row = self.slot.get(track)
                if row is None:  # the map first, then the list: rows_of() reads the size before the map
                    row = self.slot[track] = len(self.ids)
                    self.ids.append(track)
                    bisect.insort(self._sorted_ids, track)
                    self._order = None
                rows[k] = row
            self._grow(len(self.ids))
        return rows

    def _grow(self, n: int) -> None:
        size = len(self.t_us)
        if n <= size:
            return
        while size < n:
            size *= 2
        for name in (*self._COUNTS, *self._COLUMNS):
            old = getattr(self, name)
            new = np.zeros(size, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def put(self, rows: np.ndarray, party: np.ndarray, t_us: np.ndarray, lon, lat, alt, ve, vn, vu) -> None:
        self.party[rows], self.t_us[rows] = party, t_us
        self.lon[rows], self.lat[rows], self.alt_m[rows] = lon, lat, alt
        self.v_east[rows], self.v_north[rows], self.v_up[rows] = ve, vn, vu
        self.cand_n[rows] = 0  # a report applied: no new place waits for confirmation

    # -- reading for detection -------------------------------------------------------------------
    def sorted_rows(self) -> np.ndarray:
        """Every row, in the order of the track ids (so results never depend on arrival order)."""
        if self._order is None:
            self._order = np.array([self.slot[t] for t in self._sorted_ids], dtype=np.int64)
        return self._order
