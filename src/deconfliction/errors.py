"""The error tree: one root with stable codes.

    DeconflictionError            code "error"
    ├── Refused                   code "error"             (a command the rules refuse; nothing changed)
    │   └── RateLimited           code "rate_limited"      (too many of a party's commands of a kind; retry_after_s)
    ├── ScenarioError             code "invalid_scenario"  (carries a list of Problem)
    └── GeometryError             code "invalid_geometry"

The engine knows no HTTP status or exit code; drivers map `code` to theirs.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where (a path like ``zones[2].radius_m``) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class DeconflictionError(Exception):
    """Root of every error this package raises on purpose."""

    code = "error"


class Refused(DeconflictionError):
    """A command the rules refuse (a duplicate id, rules changed too late), found before the engine
    changed anything: the ledger answers it and goes on. Any other error while a command is applied
    may have left the engine half-changed, and the ledger rebuilds it from the log."""


class RateLimited(Refused):
    """A party made as many commands of a kind (dry runs) as the limit allows in a while; it may
    try again after ``retry_after_s`` seconds."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class GeometryError(DeconflictionError, ValueError):
    """A shape that cannot be handled correctly (rather than silently wrong)."""

    code = "invalid_geometry"


class ScenarioError(DeconflictionError, ValueError):
    """A scenario (or request) with one or more problems; nothing of it was applied."""

    code = "invalid_scenario"

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
