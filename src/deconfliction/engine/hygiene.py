"""Feed hygiene: which reports of a batch repeat, come out of time order or jump, found column by column.

A surveillance tracker keeps such reports out of its picture and counts them: a duplicate adds
nothing, a report older than the track's last would move the unit back in time, and a position
the unit could not have reached at the policy's ``max_speed_mps`` is a mistake, a garbled
message or another unit reusing the id. None of them reaches detection (zones, separation,
prediction). A unit that really moved that far (an id reused, a position corrected after a run
of wrong ones) is not held back for ever: after :data:`JUMP_CONFIRMATIONS` reports in a row that
agree with one another at the new place, the last of them is applied as a new start.

Everything here is a function of the reports and the track table, so a replay of the same log
holds back the same reports.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geo.wgs84 import A_M, E2, geodesic_distance_m
from .tracks import ReportBatch, TrackTable

JUMP_CONFIRMATIONS = 3
"""How many reports in a row, each plausible from the one before, confirm a unit's new place after
a jump (the last of them is applied). Three is a few seconds for ADS-B, half a minute for AIS."""

MAX_M_PER_DEG = A_M / math.sqrt(1.0 - E2) * math.pi / 180.0 * (1.0 + 1e-9)
"""Metres per degree of latitude at the poles (111,694 m), more than any degree of longitude or
latitude anywhere: a path straight in longitude/latitude is at most this long per degree."""

KINDS = ("duplicates", "out_of_order", "jumps", "party_mismatch")
"""The kinds of report held back, as counted in ``Engine.stats`` (``reports.<kind>``)."""


@dataclass(slots=True)
class Screening:
    """What becomes of each report of a batch."""

    keep: np.ndarray
    """Applied (bool)."""
    restart: np.ndarray
    """Applied as a new start: a jump confirmed by the reports before it (no path from the last place)."""
    counts: dict[str, int]
    """How many reports were held back, by kind (see :data:`KINDS`), and ``jumps_accepted``."""


def same_place(lon, lat, alt_m, lon2, lat2, alt2_m) -> np.ndarray:
    """Whether two columns of positions are equal, an unknown altitude equal to an unknown one."""
    return (lon == lon2) & (lat == lat2) & ((alt_m == alt2_m) | (np.isnan(alt_m) & np.isnan(alt2_m)))


def reach_m(dt_s, max_speed_mps: float, noise_m: float):
    """How far a unit may seem to move in ``dt_s`` seconds: ``max_speed_mps`` for that long, plus
    ``noise_m`` for the noise of two measured positions (GNSS, ADS-B and AIS positions wander by
    tens of metres, so a report a second after another may seem to have moved much faster).

    >>> reach_m(np.array([1.0, 60.0]), 20.0, 250.0).tolist()
    [270.0, 1450.0]
    """
    return max_speed_mps * dt_s + noise_m


def beyond_reach(batch: ReportBatch, which: np.ndarray, lon, lat, dt_s, max_speed_mps: float,
                 noise_m: float) -> np.ndarray:
    """Which reports (among ``which``) are farther along the geodesic from (``lon``, ``lat``), where
    the unit was ``dt_s`` seconds earlier, than :func:`reach_m` allows."""
    reach = reach_m(dt_s, max_speed_mps, noise_m)
    dlon = (batch.lon - lon + 180.0) % 360.0 - 180.0
    # only reports that may be that far by the longest a straight lon/lat path can be are measured
    with np.errstate(invalid="ignore"):
        maybe = np.flatnonzero(which & (np.hypot(dlon, batch.lat - lat) * MAX_M_PER_DEG > reach))
    out = np.zeros(len(batch), dtype=bool)
    if len(maybe):
        out[maybe] = geodesic_distance_m(lon[maybe], lat[maybe], batch.lon[maybe], batch.lat[maybe]) > reach[maybe]
    return out


def screen(batch: ReportBatch, rows: np.ndarray, party: np.ndarray, table: TrackTable, max_speed_mps: float,
           noise_m: float) -> Screening:
    """Screen a batch of one time against each unit's last applied report (``rows``: the units' rows,
    -1 for new units; ``party``: the reports' party codes). Held-back jumps are remembered in the
    table as the unit's candidate new place."""
    known = rows >= 0
    safe = np.where(known, rows, 0)
    last_t = table.t_us[safe]
    duplicate = known & (batch.t_us == last_t) & same_place(batch.lon, batch.lat, batch.alt_m, table.lon[safe],
                                                            table.lat[safe], table.alt_m[safe])
    late = known & (batch.t_us <= last_t) & ~duplicate
    mismatch = known & ~late & ~duplicate & (party != table.party[safe])
    if len(set(batch.ids)) != len(batch):
        duplicate, late, mismatch = _repeats_in_batch(batch, duplicate, late, mismatch)
    fine = ~(duplicate | late | mismatch)
    dt_s = (batch.t_us - last_t) / 1e6
    far = beyond_reach(batch, fine & known, table.lon[safe], table.lat[safe], dt_s, max_speed_mps, noise_m)
    restart = np.zeros(len(batch), dtype=bool)
    counts = dict.fromkeys(KINDS, 0)
    if far.any():
        far, again, restart = _jumps(batch, far, safe, table, max_speed_mps, noise_m)
        duplicate = duplicate | again
    counts.update(duplicates=int(duplicate.sum()), out_of_order=int(late.sum()), jumps=int(far.sum()),
                  party_mismatch=int(mismatch.sum()), jumps_accepted=int(restart.sum()))
    return Screening(fine & ~far & ~duplicate, restart, counts)


def _jumps(batch: ReportBatch, far: np.ndarray, safe: np.ndarray, table: TrackTable, max_speed_mps: float,
           noise_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(held back as jumps, repeats of a held-back jump, applied as a new start) among the jumps ``far``.

    A jump that is plausible from the unit's candidate new place (its last held-back jump) and later
    adds one to the candidate's count; the one that reaches :data:`JUMP_CONFIRMATIONS` is applied.
    A jump from elsewhere starts a new count. One dated at or before the candidate (and not its
    repeat) is held back and leaves the candidate as it was."""
    count = np.where(far, table.cand_n[safe], 0)
    has = count > 0
    cand_t = table.cand_t_us[safe]
    again = has & (batch.t_us == cand_t) & same_place(batch.lon, batch.lat, batch.alt_m, table.cand_lon[safe],
                                                      table.cand_lat[safe], table.cand_alt_m[safe])
    after = has & (batch.t_us > cand_t)
    near = after & ~beyond_reach(batch, after, table.cand_lon[safe], table.cand_lat[safe],
                                 (batch.t_us - cand_t) / 1e6, max_speed_mps, noise_m)
    moves = far & ~again & (after | ~has)  # the jumps that change the candidate
    count = np.where(near, count + 1, 1)
    restart = moves & (count >= JUMP_CONFIRMATIONS)
    hold = moves & ~restart
    if hold.any():
        r = safe[hold]
        table.cand_t_us[r], table.cand_n[r] = batch.t_us[hold], count[hold]
        table.cand_lon[r], table.cand_lat[r], table.cand_alt_m[r] = batch.lon[hold], batch.lat[hold], batch.alt_m[hold]
    return far & ~again & ~restart, again, restart


def _repeats_in_batch(batch: ReportBatch, duplicate, late, mismatch):
    """A unit twice in one batch (one time): only its first report can apply; a later one at the
    same place is a duplicate, elsewhere out of order."""
    first: dict[str, int] = {}
    duplicate, late, mismatch = duplicate.copy(), late.copy(), mismatch.copy()
    for i, track in enumerate(batch.ids):
        j = first.get(track)
        if j is None:
            if not (duplicate[i] or late[i] or mismatch[i]):
                first[track] = i
            continue
        same = bool(same_place(batch.lon[i], batch.lat[i], batch.alt_m[i], batch.lon[j], batch.lat[j], batch.alt_m[j]))
        duplicate[i], late[i], mismatch[i] = same, not same, False
    return duplicate, late, mismatch
