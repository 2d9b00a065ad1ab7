"""The quick time tests of the plan checks answer as the windows' intersection does."""
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from deconfliction.engine.strategic import _times_meet
from deconfliction.geo.shapes import Circle
from deconfliction.geo.volumes import TimeWindow, Volume4D

T0 = datetime(2026, 1, 1, tzinfo=UTC)
bound = st.one_of(st.none(), st.integers(0, 20).map(lambda m: T0 + timedelta(minutes=m)))


@st.composite
def windows(draw) -> TimeWindow:
    a, b = draw(bound), draw(bound)
    if a is not None and b is not None:
        a, b = min(a, b), max(a, b)
        if a == b:
            b += timedelta(minutes=draw(st.integers(1, 3)))
    return TimeWindow(a, b)


@given(windows(), windows())
def test_overlaps_is_a_non_empty_intersection(a, b):
    assert a.overlaps(b) is (a.intersection(b) is not None)


@given(st.lists(windows(), min_size=1, max_size=3), st.lists(windows(), min_size=1, max_size=3))
def test_the_prefilter_is_some_pair_of_windows_overlapping(mine, theirs):
    volumes = [Volume4D(Circle(0.0, 0.0, 100.0), window=w) for w in theirs]
    expected = any(a.overlaps(b) for a in mine for b in theirs)
    assert _times_meet([(w.start, w.end) for w in mine], volumes) is expected
