"""Position reports read straight from the bytes of a request body into columns.

A batch of a thousand reports is about 130 kB of JSON. Decoding it into a thousand dicts and then
taking the dicts apart field by field costs more than everything else the service does with the
batch. :func:`scan_reports` reads the usual shape of a batch in one compiled pass over the bytes,
straight into columns:

- a JSON array of objects, or NDJSON (one object per line);
- flat objects whose keys are report fields, each at most once;
- texts in plain printable ASCII without escapes;
- numbers: those of at most 2^53 as digits with a power of ten up to 10^22 are converted in the
  pass, by the fast path of Clinger (W. D. Clinger, "How to read floating point numbers
  accurately", PLDI 1990): both are exact doubles, so one correctly rounded multiplication or
  division gives the same double as a full decimal conversion; any other number is marked, and
  converted from its text afterwards.

Anything else makes it answer None: an unknown or repeated field, a null, an escape, a syntax
error, another party's name. The caller then decodes the body in full and runs the
general checks, which name the field and the reason of any error. The answer never depends on
which path was taken.
"""
from __future__ import annotations

import numpy as np
from numba import njit

FIELDS = ("t", "id", "party", "lon", "lat", "alt_m", "speed_mps", "course_deg", "climb_mps")
"""The fields of a report, the texts first."""
TEXTS = 3
T, ID, PARTY, LON, LAT = 0, 1, 2, 3, 4

ABSENT, NUMBER, TEXT, LONG = 0, 1, 2, 3
"""What each field of each report held (LONG: a number to convert from its text)."""

MAX_ID = 200
"""The longest track id, in characters (as the scenario schema says)."""

_KEYS = np.zeros((len(FIELDS), max(map(len, FIELDS))), dtype=np.uint8)
for _f, _name in enumerate(FIELDS):
    _KEYS[_f, :len(_name)] = np.frombuffer(_name.encode(), dtype=np.uint8)
_KEY_LENGTHS = np.array([len(name) for name in FIELDS], dtype=np.int64)
_POW10 = np.array([10.0 ** k for k in range(23)])  # each exact in a double
_EXACT = 2 ** 53
_SHORTEST = len('{"t":"","id":"x","lon":0,"lat":0}')
"""The shortest report the pass may take."""

_SPACE, _TAB, _LF, _CR = 32, 9, 10, 13
_QUOTE, _BACKSLASH, _COMMA, _COLON, _MINUS, _PLUS, _DOT = 34, 92, 44, 58, 45, 43, 46
_OPEN_ARRAY, _CLOSE_ARRAY, _OPEN_OBJECT, _CLOSE_OBJECT = 91, 93, 123, 125
_ZERO, _NINE = 48, 57


class Scanned:
    """The columns of a scanned body, in the body's order."""

    __slots__ = ("kinds", "starts", "ends", "numbers", "ids", "time_of", "times")

    def __init__(self, kinds, starts, ends, numbers, ids, time_of, times):
        self.kinds = kinds
        """(field, report) -> ABSENT, NUMBER, TEXT or LONG."""
        self.starts, self.ends = starts, ends
        """(field, report) -> where a text's characters (or a LONG number) begin and end in the body."""
        self.numbers = numbers
        """(field, report) -> the number, NaN where there is none (or it is LONG)."""
        self.ids = ids
        """Each report's track id."""
        self.time_of = time_of
        """report -> index into ``times``."""
        self.times = times
        """(start, end) of the time texts (adjacent reports with the same text share one)."""


def scan_reports(body: bytes, ndjson: bool, party: str) -> Scanned | None:
    """The reports of ``body`` as columns, or None when the body is not of the usual shape (see the
    module's text), a report lacks a required field, or names a party other than ``party``."""
    capacity = len(body) // _SHORTEST + 1  # more reports than this make the pass give up: the general path reads them
    buf = np.frombuffer(body, dtype=np.uint8)
    kinds = np.zeros((len(FIELDS), capacity), dtype=np.int8)
    starts = np.empty((len(FIELDS), capacity), dtype=np.int64)
    ends = np.empty((len(FIELDS), capacity), dtype=np.int64)
    numbers = np.empty((len(FIELDS), capacity))
    names = np.empty(len(body), dtype=np.uint8)
    count, used = _scan(buf, ndjson, _KEYS, _KEY_LENGTHS, np.frombuffer(party.encode("utf-8"), dtype=np.uint8),
                        kinds, starts, ends, numbers, names, _POW10)
    if count <= 0:
        return None
    kinds, starts, ends, numbers = kinds[:, :count], starts[:, :count], ends[:, :count], numbers[:, :count]
    if (kinds[[T, ID, LON, LAT]] == ABSENT).any():  # (a text field holds a text, a number field a number)
        return None
    time_of, first = _time_codes(buf, starts[T], ends[T])
    times = list(zip(starts[T, first].tolist(), ends[T, first].tolist()))
    ids = names[:used].tobytes().decode("ascii").split("\x00")  # one string each, made in one call
    return Scanned(kinds, starts, ends, numbers, ids, time_of, times)


# ---- the compiled pass ----
# One function on purpose: a call to a compiled helper per field (or per byte) costs more than the
# work it does, and numba does not inline such calls well.

@njit(cache=True, nogil=True)
def _scan(buf, ndjson, keys, key_lengths, party, kinds, starts, ends, numbers, names, pow10):
    """(the number of reports read into the columns, or -1 if the body is not of the usual shape;
    the length of ``names``, which gets the track ids one after another, separated by NUL)."""
    n = len(buf)
    used = 0
    capacity = kinds.shape[1]
    breaks = not ndjson  # inside an NDJSON object a line break would end the line, and so the object
    count = 0
    i = 0
    if not ndjson:
        while i < n and (buf[i] == _SPACE or buf[i] == _TAB or buf[i] == _LF or buf[i] == _CR):
            i += 1
        if i >= n or buf[i] != _OPEN_ARRAY:
            return -1, 0
        i += 1
    while True:
        # -- before a report: white space, line breaks included
        while i < n and (buf[i] == _SPACE or buf[i] == _TAB or buf[i] == _LF or buf[i] == _CR):
            i += 1
        if i >= n and ndjson:
            break
        if i >= n or buf[i] != _OPEN_OBJECT or count >= capacity:
            return -1, 0
        i += 1
        row = count
        for f in range(len(key_lengths)):
            numbers[f, row] = np.nan
        # -- the report's fields
        while True:
            while i < n and (buf[i] == _SPACE or buf[i] == _TAB or (breaks and (buf[i] == _LF or buf[i] == _CR))):
                i += 1
            if i >= n or buf[i] != _QUOTE:
                return -1, 0
            i += 1
            if i >= n:
                return -1, 0
            f = -1  # the field whose name, and then a quote, follow
            for k in range(len(key_lengths)):
                length = key_lengths[k]
                if keys[k, 0] == buf[i] and i + length < n and buf[i + length] == _QUOTE:
                    f = k
                    for m in range(1, length):
                        if buf[i + m] != keys[k, m]:
                            f = -1
                            break
                    if f >= 0:
                        break
            if f < 0 or kinds[f, row] != ABSENT:
                return -1, 0
            i += key_lengths[f] + 1
            while i < n and (buf[i] == _SPACE or buf[i] == _TAB or (breaks and (buf[i] == _LF or buf[i] == _CR))):
                i += 1
            if i >= n or buf[i] != _COLON:
                return -1, 0
            i += 1
            while i < n and (buf[i] == _SPACE or buf[i] == _TAB or (breaks and (buf[i] == _LF or buf[i] == _CR))):
                i += 1
            if i >= n:
                return -1, 0
            if f < TEXTS:
                # a text: plain printable ASCII, no escapes
                if buf[i] != _QUOTE:
                    return -1, 0
                i += 1
                start = i
                while i < n and buf[i] != _QUOTE:
                    if buf[i] == _BACKSLASH or buf[i] < _SPACE or buf[i] >= 127:
                        return -1, 0
                    i += 1
                if i >= n:
                    return -1, 0
                if f == ID:
                    if i == start or i - start > MAX_ID:
                        return -1, 0
                    if row > 0:
                        names[used] = 0
                        used += 1
                    for m in range(start, i):
                        if buf[m] == _SPACE:
                            return -1, 0
                        names[used] = buf[m]
                        used += 1
                elif f == PARTY:
                    if i - start != len(party):
                        return -1, 0
                    for m in range(i - start):
                        if buf[start + m] != party[m]:
                            return -1, 0
                kinds[f, row] = TEXT
                starts[f, row] = start
                ends[f, row] = i
                i += 1
            else:
                # a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
                start = i
                negative = buf[i] == _MINUS
                if negative:
                    i += 1
                if i >= n or buf[i] < _ZERO or buf[i] > _NINE:
                    return -1, 0
                digits = 0
                scale = 0
                fits = True
                if buf[i] == _ZERO:
                    i += 1
                    if i < n and _ZERO <= buf[i] <= _NINE:  # no leading zeros in JSON
                        return -1, 0
                else:
                    while i < n and _ZERO <= buf[i] <= _NINE:
                        if fits:
                            digits = digits * 10 + (buf[i] - _ZERO)
                            fits = digits <= _EXACT
                        i += 1
                whole = True
                if i < n and buf[i] == _DOT:
                    whole = False
                    i += 1
                    if i >= n or buf[i] < _ZERO or buf[i] > _NINE:
                        return -1, 0
                    while i < n and _ZERO <= buf[i] <= _NINE:
                        if fits:
                            digits = digits * 10 + (buf[i] - _ZERO)
                            fits = digits <= _EXACT
                            scale -= 1
                        i += 1
                if i < n and (buf[i] == 101 or buf[i] == 69):  # e, E
                    whole = False
                    i += 1
                    sign = 1
                    if i < n and (buf[i] == _PLUS or buf[i] == _MINUS):
                        if buf[i] == _MINUS:
                            sign = -1
                        i += 1
                    if i >= n or buf[i] < _ZERO or buf[i] > _NINE:
                        return -1, 0
                    exponent = 0
                    while i < n and _ZERO <= buf[i] <= _NINE:
                        if exponent < 10_000:
                            exponent = exponent * 10 + (buf[i] - _ZERO)
                        else:  # not followed further: the number is converted from its text
                            fits = False
                        i += 1
                    scale += sign * exponent
                if fits and -22 <= scale <= 22:
                    value = float(digits)
                    if scale > 0:
                        value *= pow10[scale]
                    elif scale < 0:
                        value /= pow10[-scale]
                    if negative and not (whole and digits == 0):  # -0 is the integer 0; -0.0 keeps its sign
                        value = -value
                    kinds[f, row] = NUMBER
                    numbers[f, row] = value
                else:  # converted from its text afterwards
                    kinds[f, row] = LONG
                    starts[f, row] = start
                    ends[f, row] = i
            while i < n and (buf[i] == _SPACE or buf[i] == _TAB or (breaks and (buf[i] == _LF or buf[i] == _CR))):
                i += 1
            if i >= n:
                return -1, 0
            if buf[i] == _CLOSE_OBJECT:
                i += 1
                break
            if buf[i] != _COMMA:
                return -1, 0
            i += 1
        count += 1
        # -- after a report
        if ndjson:
            while i < n and (buf[i] == _SPACE or buf[i] == _TAB):
                i += 1
            if i < n and buf[i] != _LF and buf[i] != _CR:
                return -1, 0
            continue
        while i < n and (buf[i] == _SPACE or buf[i] == _TAB or buf[i] == _LF or buf[i] == _CR):
            i += 1
        if i >= n:
            return -1, 0
        if buf[i] == _COMMA:
            i += 1
            continue
        if buf[i] != _CLOSE_ARRAY:
            return -1, 0
        i += 1
        while i < n and (buf[i] == _SPACE or buf[i] == _TAB or buf[i] == _LF or buf[i] == _CR):
            i += 1
        if i != n:
            return -1, 0
        break
    return count, used


@njit(cache=True, nogil=True)
def _time_codes(buf, starts, ends):
    """Each report's index into a list of time texts, and where each of those is first seen; a
    text equal to the previous report's shares its index (others may repeat in the list)."""
    count = len(starts)
    codes = np.empty(count, dtype=np.int64)
    first = np.empty(count, dtype=np.int64)
    distinct = 0
    for r in range(count):
        same = r > 0
        if same:
            p = first[distinct - 1]
            length = ends[r] - starts[r]
            if ends[p] - starts[p] != length:
                same = False
            else:
                for k in range(length):
                    if buf[starts[r] + k] != buf[starts[p] + k]:
                        same = False
                        break
        if not same:
            first[distinct] = r
            distinct += 1
        codes[r] = distinct - 1
    return codes, first[:distinct]
