"""Position reports from a request body, checked column by column.

A batch of a thousand ordinary reports is checked with a few whole-column tests (types, ranges,
the policy's physical limits, ids, times) instead of one Python pass per report:
:func:`scanned_batch` reads the columns straight from the request body's bytes (:mod:`.scan`),
:func:`plain_batch` takes them from decoded items. Anything unusual — a missing or unknown field,
a wrong type, a value out of range or beyond the limits — makes either return None, and the
caller runs the full scenario checks, which name the field and the reason.
"""
from __future__ import annotations

import math
from datetime import datetime
from operator import itemgetter, methodcaller
from typing import Any

import numpy as np

from ..engine.model import Policy
from ..engine.tracks import ReportBatch, to_us
from .scan import FIELDS, LONG, MAX_ID, TEXTS, scan_reports
from .scenario import parse_time
from .values import is_text

_NUMBER = {int, float}
_REQUIRED = ("t", "id", "lon", "lat")
_OPTIONAL = ("alt_m", "speed_mps", "course_deg", "climb_mps")
_KEYS = frozenset((*_REQUIRED, "party", *_OPTIONAL))
_GAP = object()
"""In a column, a report without the field."""


def plain_batch(items: list[Any], party: str, not_before: datetime, limits: Policy) -> ReportBatch | None:
    """The reports of ``party`` in ``items`` as one batch in the items' order, or None when any
    report needs the full checks. Times must not be before ``not_before``; speeds, climb rates and
    altitudes must be within the physical limits of ``limits``."""
    n = len(items)
    if not n or set(map(type, items)) != {dict}:
        return None
    present = set().union(*items)
    if not present <= _KEYS or any(k not in present for k in _REQUIRED):
        return None
    try:
        columns = {k: list(map(itemgetter(k), items)) for k in _REQUIRED}
    except KeyError:  # a report without a required field
        return None
    partial = set()
    for k in present.difference(_REQUIRED):
        try:
            columns[k] = list(map(itemgetter(k), items))  # in every report (the usual case)
        except KeyError:
            columns[k] = list(map(methodcaller("get", k, _GAP), items))
            partial.add(k)
    if "party" in columns and set(columns["party"]) != {party}:
        return None
    ids = columns["id"]
    if set(map(type, ids)) != {str}:
        return None
    lengths = set(map(len, ids))
    if min(lengths) == 0 or max(lengths) > MAX_ID:
        return None
    joined = "\x00".join(ids)
    if joined.split() != [joined] or not is_text(joined):  # no id holds white space or a lone surrogate
        return None
    numbers = {}
    for k in ("lon", "lat", *_OPTIONAL):
        values = columns.get(k)
        if values is None:
            numbers[k] = np.full(n, np.nan)
            continue
        given = None
        if k in partial:  # absent in some reports only: NaN there
            given = np.fromiter((v is not _GAP for v in values), dtype=bool, count=n)
            values = [math.nan if v is _GAP else v for v in values]
        if not set(map(type, values)) <= _NUMBER:  # null included: the full checks name it
            return None
        try:
            column = np.fromiter(values, dtype=float, count=n)
        except OverflowError:  # an integer too large for a double
            return None
        if not np.isfinite(column if given is None else column[given]).all():
            return None
        numbers[k] = column
    if not _in_range(numbers, limits):
        return None
    texts = columns["t"]
    if set(map(type, texts)) != {str}:
        return None
    distinct = list(dict.fromkeys(texts))
    index = {text: k for k, text in enumerate(distinct)}
    return _batch(distinct, np.fromiter(map(index.__getitem__, texts), dtype=np.int64, count=n), ids, party,
                  numbers, not_before)


def scanned_batch(body: bytes, ndjson: bool, party: str, not_before: datetime, limits: Policy) -> ReportBatch | None:
    """The reports of ``party`` in a request body (a JSON array, or NDJSON) as one batch in the body's
    order, read straight from the bytes (:mod:`.scan`); None when the body needs the general path
    (which names what is wrong, a value beyond the physical limits of ``limits`` included)."""
    scanned = scan_reports(body, ndjson, party)
    if scanned is None:
        return None
    numbers = {}
    for f in range(TEXTS, len(FIELDS)):
        column = scanned.numbers[f]
        long = np.flatnonzero(scanned.kinds[f] == LONG)
        if len(long):
            column[long] = [float(body[a:b]) for a, b in zip(scanned.starts[f, long].tolist(),
                                                             scanned.ends[f, long].tolist())]
            if not np.isfinite(column[long]).all():
                return None
        numbers[FIELDS[f]] = column
    if not _in_range(numbers, limits):
        return None
    texts = [body[a:b].decode("ascii") for a, b in scanned.times]  # a scanned body is plain ASCII
    return _batch(texts, scanned.time_of, scanned.ids, party, numbers, not_before)


def by_time(whole: ReportBatch) -> list[ReportBatch]:
    """A batch split into batches of one time each, in time order (reports of one time keep their order)."""
    t_us = whole.t_us
    if len(t_us) == 0 or t_us.min() == t_us.max():
        return [whole]
    order = np.argsort(t_us, kind="stable")
    cuts = np.flatnonzero(np.diff(t_us[order])) + 1
    return [whole.take(part) for part in np.split(order, cuts)]


def _in_range(numbers: dict[str, np.ndarray], limits: Policy) -> bool:
    """Whether every value is in its range and within the physical limits (NaN, a value not given, is)."""
    lon, lat, speed, course = numbers["lon"], numbers["lat"], numbers["speed_mps"], numbers["course_deg"]
    climb, alt = numbers["climb_mps"], numbers["alt_m"]
    with np.errstate(invalid="ignore"):
        return not ((np.abs(lon) > 180).any() or (np.abs(lat) > 90).any() or (speed < 0).any()
                    or (course < 0).any() or (course > 360).any() or (speed > limits.max_speed_mps).any()
                    or (np.abs(climb) > limits.max_climb_mps).any() or (alt < limits.min_alt_m).any()
                    or (alt > limits.max_alt_m).any())


def _batch(texts: list[str], time_of: np.ndarray, ids: list[str], party: str, numbers: dict[str, np.ndarray],
           not_before: datetime) -> ReportBatch | None:
    """The batch, once each time text (``texts``; report i has ``texts[time_of[i]]``) is valid."""
    times = np.empty(len(texts), dtype=np.int64)
    for k, text in enumerate(texts):
        problems: list = []
        t = parse_time(text, "t", problems)
        if problems or t is None or t < not_before:
            return None
        times[k] = to_us(t)
    return ReportBatch(times[time_of], ids, [party] * len(ids), numbers["lon"], numbers["lat"], numbers["alt_m"],
                       numbers["speed_mps"], numbers["course_deg"], numbers["climb_mps"])
