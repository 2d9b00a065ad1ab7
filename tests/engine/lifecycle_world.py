"""The small world of the lifecycle tests: four parties (alpha with lines to bravo and charlie,
bravo to charlie, delta with none), a clock from 6 June 2017 and a circle far from everything."""
from datetime import datetime, timedelta, timezone

from deconfliction import Circle, Engine, Party, Policy

T0 = datetime(2017, 6, 6, tzinfo=timezone.utc)
FAR = Circle(30.0, 20.0, 1000.0)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def world() -> Engine:
    lines = {"alpha": ["bravo", "charlie"], "bravo": ["charlie"], "charlie": [], "delta": []}
    return Engine(Policy(perimeter_m=10_000), [Party(p, channels=tuple(c)) for p, c in lines.items()])
