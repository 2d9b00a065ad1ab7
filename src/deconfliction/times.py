"""Times in one place: RFC 3339 in UTC as the log and the contract write them, and back."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import Problem

EXAMPLE = "2017-06-06T05:00:00Z"


def format_time(t: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``; milliseconds only when the time has a fraction of a second."""
    t = t.astimezone(timezone.utc)
    if t.microsecond:
        t = t.replace(microsecond=0) + timedelta(milliseconds=round(t.microsecond / 1000))
    if t.microsecond:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    """A time the log wrote (:func:`format_time`), as an aware UTC datetime; ValueError if it is not one."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def parse_time(value: Any, path: str, problems: list[Problem]) -> datetime | None:
    """An RFC 3339 time with a UTC offset (``Z`` or ``+hh:mm``) from input, as an aware UTC
    datetime; None, with the problem named by ``path`` added to ``problems``, when it is not one."""
    if not isinstance(value, str):
        problems.append(Problem(path, f"must be an RFC 3339 time such as {EXAMPLE}"))
        return None
    try:
        t = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        problems.append(Problem(path, f"cannot parse {value!r} as an RFC 3339 time (e.g. {EXAMPLE})"))
        return None
    if t.tzinfo is None:
        problems.append(Problem(path, f"{value!r} has no UTC offset; add Z for UTC"))
        return None
    return t.astimezone(timezone.utc)
