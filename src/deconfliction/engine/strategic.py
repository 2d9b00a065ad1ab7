"""Strategic checks: a planned operation against zones and against other parties' operations."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product

from ..geo.volumes import TimeWindow, Volume4D
from .model import Operation, Zone


@dataclass(frozen=True, slots=True)
class PlanConflict:
    """``operation`` meets ``other`` (a zone or another party's operation) in space, altitude and time."""

    operation: str
    other: str
    other_kind: str
    """"zone" or "operation"."""
    parties: tuple[str, ...]
    window: TimeWindow
    """From the start of the first overlap to the end of the last."""


def _boxes_meet(a: Volume4D, b: Volume4D) -> bool:
    ax0, ay0, ax1, ay1 = a.shape.bounds_deg()
    bx0, by0, bx1, by1 = b.shape.bounds_deg()
    return ax0 <= bx1 and bx0 <= ax1 and ay0 <= by1 and by0 <= ay1


def _overlap(mine: Iterable[Volume4D], theirs: Iterable[Volume4D]) -> TimeWindow | None:
    windows = []
    theirs = list(theirs)
    for a in mine:
        for b in theirs:
            # cheapest first: time, altitude, boxes, then the exact footprint test
            if a.window.overlaps(b.window) and a.altitude.overlaps(b.altitude) and _boxes_meet(a, b):
                w = a.conflict_window(b)
                if w is not None:
                    windows.append(w)
    if not windows:
        return None
    starts = [w.start for w in windows]
    ends = [w.end for w in windows]
    return TimeWindow(
        None if None in starts else min(starts),
        None if None in ends else max(ends),
    )


def conflicts_with_zones(op: Operation, zones: Iterable[Zone]) -> list[PlanConflict]:
    """Zones the operation enters although its party is not on the zone's ``allowed`` list."""
    out = []
    for zone in zones:
        if op.party in zone.allowed:
            continue
        window = _overlap(op.volumes, [zone.volume])
        if window is not None:
            parties = (op.party, *(p for p in zone.parties if p != op.party))
            out.append(PlanConflict(op.id, zone.id, "zone", parties, window))
    return out


def _times_meet(mine: list[tuple], theirs: Iterable[Volume4D]) -> bool:
    """Whether some window of ``mine`` ((start, end) pairs) overlaps some window of ``theirs``, as
    :meth:`TimeWindow.overlaps` says: the quick first test of a candidate operation, most of which
    share a grid cell but not the time."""
    for v in theirs:
        start, end = v.window.start, v.window.end
        for s, e in mine:
            if not ((e is not None and start is not None and e <= start) or
                    (end is not None and s is not None and end <= s)):
                return True
    return False


def conflicts_with_operations(op: Operation, others: Iterable[Operation]) -> list[PlanConflict]:
    """Other parties' operations sharing space, altitude and time with this one."""
    out = []
    mine = [(v.window.start, v.window.end) for v in op.volumes]
    for other in others:
        if other.party == op.party or other.id == op.id or not _times_meet(mine, other.volumes):
            continue
        window = _overlap(op.volumes, other.volumes)
        if window is not None:
            out.append(PlanConflict(op.id, other.id, "operation", (op.party, other.party), window))
    return out


class VolumeIndex:
    """A grid over longitude/latitude boxes: which declared items might meet a new volume.

    Insertion is incremental (a plan is added as it is declared); a query returns the keys of
    items whose box shares a cell with the volume's box, in insertion order, for the exact test.
    A volume whose box covers more than :data:`MAX_CELLS` cells is kept in a list of large ones
    instead, tested box against box: so what a volume costs is bounded whatever its size (a
    hemisphere covers 460,000 cells), and large volumes are few.
    """

    MAX_CELLS = 256

    def __init__(self, cell_deg: float = 0.25):
        self.cell_deg = cell_deg
        self.cells: dict[tuple[int, int], list[str]] = {}
        self.order: dict[str, int] = {}
        self.large: list[tuple[str, tuple[float, float, float, float]]] = []
        """(key, box) of the large volumes, in insertion order."""

    def _span(self, volume: Volume4D) -> tuple[range, range]:
        x0, y0, x1, y1 = volume.shape.bounds_deg()
        c = self.cell_deg
        return range(int(x0 // c), int(x1 // c) + 1), range(int(y0 // c), int(y1 // c) + 1)

    def add(self, key: str, volumes: Iterable[Volume4D]) -> None:
        self.order.setdefault(key, len(self.order))
        for volume in volumes:
            xs, ys = self._span(volume)
            if len(xs) * len(ys) > self.MAX_CELLS:
                self.large.append((key, volume.shape.bounds_deg()))
                continue
            for cell in product(xs, ys):
                bucket = self.cells.setdefault(cell, [])
                if not bucket or bucket[-1] != key:
                    bucket.append(key)

    def candidates(self, volumes: Iterable[Volume4D]) -> list[str]:
        found: set[str] = set()
        for volume in volumes:
            xs, ys = self._span(volume)
            x0, y0, x1, y1 = box = volume.shape.bounds_deg()
            found.update(key for key, (a0, b0, a1, b1) in self.large if a0 <= x1 and x0 <= a1 and b0 <= y1 and y0 <= b1)
            if len(xs) * len(ys) > len(self.cells):  # a large volume: fewer buckets to look through than cells
                found.update(key for cell, bucket in self.cells.items() if _cell_meets(cell, self.cell_deg, box)
                             for key in bucket)
                continue
            for cell in product(xs, ys):
                found.update(self.cells.get(cell, ()))
        return sorted(found, key=self.order.__getitem__)


def _cell_meets(cell: tuple[int, int], cell_deg: float, box: tuple[float, float, float, float]) -> bool:
    """Whether grid cell ``cell`` is one of those the box covers (the cells _span lists)."""
    x0, y0, x1, y1 = box
    return (int(x0 // cell_deg) <= cell[0] <= int(x1 // cell_deg)
            and int(y0 // cell_deg) <= cell[1] <= int(y1 // cell_deg))
