"""Position reports from a request body, checked column by column.

A batch of a thousand ordinary reports is checked with a few whole-column tests (types, ranges,
ids, times) instead of one Python pass per report. Anything unusual — a missing or unknown
field, a wrong type, a value out of range — makes :func:`plain_batch` return None, and the caller
runs the full scenario checks, which name the field and the reason.
"""
from __future__ import annotations

import math
from datetime import datetime
from operator import itemgetter, methodcaller
from typing import Any

import numpy as np

from ..engine.tracks import ReportBatch, to_us
from .scenario import parse_time

_NUMBER = {int, float}
_REQUIRED = ("t", "id", "lon", "lat")
_OPTIONAL = ("alt_m", "speed_mps", "course_deg", "climb_mps")
_KEYS = frozenset((*_REQUIRED, "party", *_OPTIONAL))


def plain_batch(items: list[Any], party: str, not_before: datetime) -> list[ReportBatch] | None:
    """The reports of ``party`` in ``items`` as batches of one time each (in time order), or None
    when any report needs the full checks. Times must not be before ``not_before``."""
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
    for k in present.difference(_REQUIRED):
        try:
            columns[k] = list(map(itemgetter(k), items))  # in every report (the usual case)
        except KeyError:
            columns[k] = list(map(methodcaller("get", k), items))
    if "party" in columns and set(columns["party"]) != {party}:
        return None
    ids = columns["id"]
    if set(map(type, ids)) != {str}:
        return None
    lengths = set(map(len, ids))
    if min(lengths) == 0 or max(lengths) > 200:
        return None
    joined = "\x00".join(ids)
    if joined.split() != [joined]:  # no id holds white space
        return None
    numbers = {}
    for k in ("lon", "lat", *_OPTIONAL):
        values = columns.get(k)
        if values is None:
            numbers[k] = np.full(n, np.nan)
            continue
        kinds = set(map(type, values))
        if not kinds <= _NUMBER | {type(None)} or (kinds & {type(None)} and k in _REQUIRED):
            return None
        if type(None) in kinds:  # absent in some reports only
            values = [math.nan if v is None else v for v in values]
        try:
            column = np.fromiter(values, dtype=float, count=n)
        except OverflowError:  # an integer too large for a double
            return None
        if not np.isfinite(column[~np.isnan(column)] if k not in _REQUIRED else column).all():
            return None
        numbers[k] = column
    lon, lat, speed, course = numbers["lon"], numbers["lat"], numbers["speed_mps"], numbers["course_deg"]
    with np.errstate(invalid="ignore"):
        if ((np.abs(lon) > 180).any() or (np.abs(lat) > 90).any() or (speed < 0).any()
                or (course < 0).any() or (course > 360).any()):
            return None
    texts = columns["t"]
    if set(map(type, texts)) != {str}:
        return None
    times: dict[str, int] = {}
    for text in set(texts):
        problems: list = []
        t = parse_time(text, "t", problems)
        if problems or t is None or t < not_before:
            return None
        times[text] = to_us(t)
    t_us = np.fromiter(map(times.__getitem__, texts), dtype=np.int64, count=n)
    whole = ReportBatch(t_us, ids, [party] * n, lon, lat, numbers["alt_m"], speed, course, numbers["climb_mps"])
    if len(times) == 1:
        return [whole]
    order = np.argsort(t_us, kind="stable")
    cuts = np.flatnonzero(np.diff(t_us[order])) + 1
    return [whole.take(part) for part in np.split(order, cuts)]
