"""Reading position reports straight from a body's bytes gives exactly what decoding the body and
checking it in full gives, or steps aside (None) so that the full checks run."""
from __future__ import annotations

import json
import math
import re
from itertools import groupby
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import event, given, settings, strategies as st

from deconfliction.engine.core import Engine
from deconfliction.engine.model import Party, Policy
from deconfliction.errors import ScenarioError
from deconfliction.engine.tracks import ReportBatch
from deconfliction.formats.batch import by_time, plain_batch
from deconfliction.app.commands import decode_reports, parse_items, scanned_positions

PARTY = "militia"


def engine_of(policy: Policy) -> Engine:
    engine = Engine(policy)
    engine.add_party(Party(PARTY, "Militia"), datetime(2017, 6, 6, tzinfo=timezone.utc))
    return engine


ENGINE = engine_of(Policy())
TIGHT = engine_of(Policy(max_speed_mps=50.0, max_climb_mps=5.0, min_alt_m=0.0, max_alt_m=100.0))
"""Rules whose physical limits ordinary numbers often exceed."""


def reference(body: bytes, ndjson: bool, engine: Engine = ENGINE):
    """What the full checks make of a body: its batches, or the error they raise. Checked on the
    way: where the column checks of decoded items (plain_batch) answer, they answer the same."""
    try:
        items = decode_reports(body.decode("utf-8"), ndjson)
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(items, list) or any(isinstance(r, dict) and r.get("party", PARTY) != PARTY for r in items):
        return "refused"
    try:
        named = [{**r, "party": PARTY} if isinstance(r, dict) else r for r in items]
        reports = parse_items(engine, "tracks", named).reports
        want = [ReportBatch.of(list(group)) for _, group in groupby(reports, key=lambda r: r.t)]
    except ScenarioError:
        want = "invalid"
    plain = plain_batch(items, PARTY, datetime(1970, 1, 1, tzinfo=timezone.utc), engine.policy)
    if plain is not None:
        assert isinstance(want, list) and same_batches(by_time(plain), want), (body[:300], want)
    return want


def same_batches(got, want) -> bool:
    if len(got) != len(want):
        return False
    for a, b in zip(got, want):
        if a.ids != b.ids or a.parties != b.parties or not np.array_equal(a.t_us, b.t_us):
            return False
        for name in ("lon", "lat", "alt_m", "speed_mps", "course_deg", "climb_mps"):
            x, y = getattr(a, name), getattr(b, name)
            if x.dtype != np.float64 or not np.array_equal(x.view(np.int64), y.view(np.int64)):  # -0.0 and NaN too
                return False
    return True


def check(body: bytes, ndjson: bool, engine: Engine = ENGINE):
    """The scanned batch, after checking it against the general path."""
    whole = scanned_positions(body, ndjson, PARTY, engine.policy)
    want = reference(body, ndjson, engine)
    if whole is not None:
        assert isinstance(want, list), (body[:300], want)
        assert same_batches(by_time(whole), want), body[:300]
    return whole


def report(k: int, t: str = "2017-06-06T05:00:00Z", **extra) -> dict:
    return {"t": t, "id": f"u{k}", "lon": 38.5 + k / 1000, "lat": 33.25 - k / 1000, **extra}


def as_body(reports, ndjson: bool = False) -> bytes:
    if ndjson:
        return "".join(json.dumps(r) + "\n" for r in reports).encode()
    return json.dumps(reports).encode()


# -- the usual shapes are read in the pass ---------------------------------------------------------
@pytest.mark.parametrize("ndjson", [False, True])
def test_a_usual_batch_is_read_in_one_pass(ndjson):
    reports = [report(k, alt_m=500, speed_mps=10.5, course_deg=k % 360, **({"climb_mps": 1} if k % 2 else {}))
               for k in range(300)]
    whole = check(as_body(reports, ndjson), ndjson)
    assert whole is not None and len(whole) == 300
    assert whole.ids[:2] == ["u0", "u1"] and whole.lon[1] == 38.501 and whole.alt_m[0] == 500.0
    assert math.isnan(whole.climb_mps[0]) and whole.climb_mps[1] == 1.0


def test_compact_indented_and_own_party_forms_are_read():
    reports = [report(1, party=PARTY), report(2)]
    for body in (json.dumps(reports, separators=(",", ":")), json.dumps(reports, indent=2),
                 "\r\n [ " + json.dumps(reports)[1:-1] + " ] \n"):
        assert check(body.encode(), False) is not None


def test_times_in_any_order_become_batches_of_one_time_in_time_order():
    reports = [report(1, t="2017-06-06T05:00:02Z"), report(2, t="2017-06-06T05:00:01Z"),
               report(3, t="2017-06-06T05:00:02+00:00"), report(4, t="2017-06-06T05:00:01Z")]
    batches = by_time(check(as_body(reports), False))
    assert [b.ids for b in batches] == [["u2", "u4"], ["u1", "u3"]]


def test_numbers_beyond_the_fast_conversion_are_converted_from_their_text():
    body = b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":38.123456789012345678,"lat":-33.1e0,' \
           b'"alt_m":123456789012345678901234,"speed_mps":1.5e-30,"course_deg":-0.0e5}]'
    whole = check(body, False, engine_of(Policy(max_alt_m=1e30)))  # an altitude no default rule would take
    assert whole is not None
    assert whole.lon[0] == 38.123456789012345678 and whole.alt_m[0] == 1.2345678901234568e23
    assert whole.speed_mps[0] == 1.5e-30


def test_an_exponent_too_long_to_follow_is_converted_from_the_text():
    infinite = "0." + "0" * 12_344 + "1e123456"  # the digits and the exponent nearly cancel; the value is infinite
    assert check(b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":%s,"lat":2}]' % infinite.encode(), False) is None
    one = "1" + "0" * 30 + "e-30"
    whole = check(b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":%s,"lat":2}]' % one.encode(), False)
    assert whole is not None and whole.lon[0] == 1.0


def test_minus_zero_as_the_general_path_reads_it():
    whole = check(b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":-0,"lat":-0.0}]', False)
    assert whole is not None and math.copysign(1, whole.lon[0]) == 1 and math.copysign(1, whole.lat[0]) == -1


# -- anything else steps aside ---------------------------------------------------------------------
ASIDE = {
    "an escape in an id": b'[{"t":"2017-06-06T05:00:00Z","id":"u\\u0031","lon":1,"lat":2}]',
    "non-ASCII id": '[{"t":"2017-06-06T05:00:00Z","id":"ü","lon":1,"lat":2}]'.encode(),
    "an unknown field": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2,"x":3}]',
    "a repeated field": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2,"lat":3}]',
    "another party": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2,"party":"russia"}]',
    "a longer party name": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2,"party":"militias"}]',
    "no latitude": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1}]',
    "latitude null": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":null}]',
    "altitude null": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2,"alt_m":null}]',
    "latitude 95": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":95}]',
    "a text for a number": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":"1","lat":2}]',
    "a number for a text": b'[{"t":"2017-06-06T05:00:00Z","id":1,"lon":1,"lat":2}]',
    "a space in an id": b'[{"t":"2017-06-06T05:00:00Z","id":"u 1","lon":1,"lat":2}]',
    "an empty id": b'[{"t":"2017-06-06T05:00:00Z","id":"","lon":1,"lat":2}]',
    "a bad time": b'[{"t":"yesterday","id":"u1","lon":1,"lat":2}]',
    "a time without offset": b'[{"t":"2017-06-06T05:00:00","id":"u1","lon":1,"lat":2}]',
    "a time before 1970": b'[{"t":"1969-06-06T05:00:00Z","id":"u1","lon":1,"lat":2}]',
    "a number too large": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1e400,"lat":2}]',
    "NaN": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":NaN,"lat":2}]',
    "a leading zero": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":01,"lat":2}]',
    "a bare dot": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1.,"lat":2}]',
    "a trailing comma": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2},]',
    "text after the array": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2}] x',
    "an empty array": b"[]",
    "an object": b'{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2}',
    "an empty object": b"[{}]",
    "nested": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":[1],"lat":2}]',
    "true for a number": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":true,"lat":2}]',
    "a byte order mark": b'\xef\xbb\xbf[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2}]',
    "truncated": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2',
    "ending in a key's quote": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2,"',
}


@pytest.mark.parametrize("name", ASIDE)
def test_anything_unusual_is_left_to_the_full_checks(name):
    assert check(ASIDE[name], False) is None


LIMITS = Policy()
BEYOND_THE_LIMITS = {
    "speed_mps": (LIMITS.max_speed_mps, LIMITS.max_speed_mps + 0.001, 1e8),
    "climb_mps": (-LIMITS.max_climb_mps, -LIMITS.max_climb_mps - 0.001, 1e300),
    "alt_m": (LIMITS.max_alt_m, LIMITS.max_alt_m + 0.001, LIMITS.min_alt_m - 0.001),
}


@pytest.mark.parametrize("ndjson", [False, True])
@pytest.mark.parametrize("field", BEYOND_THE_LIMITS)
def test_values_beyond_the_policys_physical_limits_are_refused_on_both_paths(field, ndjson):
    """At a limit a report is read in the pass; beyond it, the pass steps aside and the full checks
    refuse it, naming the field."""
    at_limit, *beyond = BEYOND_THE_LIMITS[field]
    assert check(as_body([report(1), report(2, **{field: at_limit})], ndjson), ndjson) is not None
    for value in beyond:
        body = as_body([report(1), report(2, **{field: value})], ndjson)
        assert check(body, ndjson) is None
        assert reference(body, ndjson) == "invalid"
        with pytest.raises(ScenarioError) as refused:
            parse_items(ENGINE, "tracks", [{**r, "party": PARTY} for r in decode_reports(body.decode(), ndjson)])
        assert [p.path for p in refused.value.problems] == [f"[1].{field}"]


NDJSON_ASIDE = {
    "an object over two lines": b'{"t":"2017-06-06T05:00:00Z","id":"u1",\n"lon":1,"lat":2}\n',
    "two objects on one line": b'{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2} '
                               b'{"t":"2017-06-06T05:00:00Z","id":"u2","lon":1,"lat":2}\n',
    "an array": b'[{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2}]\n',
    "a form feed between lines": b'{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2}\x0c'
                                 b'{"t":"2017-06-06T05:00:00Z","id":"u2","lon":1,"lat":2}\n',
}


@pytest.mark.parametrize("name", NDJSON_ASIDE)
def test_unusual_ndjson_is_left_to_the_full_checks(name):
    assert check(NDJSON_ASIDE[name], True) is None


def test_blank_lines_and_crlf_in_ndjson_are_read():
    body = b'\r\n{"t":"2017-06-06T05:00:00Z","id":"u1","lon":1,"lat":2}\r\n  \n' \
           b'\t{"t":"2017-06-06T05:00:00Z","id":"u2","lon":1,"lat":2}'
    whole = check(body, True)
    assert whole is not None and whole.ids == ["u1", "u2"]


# -- any body: the same answer as the general path, or aside -----------------------------------------
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(min_value=-10 ** 25, max_value=10 ** 25),
    st.decimals(allow_nan=False, allow_infinity=False, places=6).map(float),
    st.sampled_from([0, -0.0, 0.0, 1e22, 1e23, 5e-324, 2 ** 53, 2 ** 53 + 1, 9007199254740993]),
    st.sampled_from([LIMITS.max_speed_mps, LIMITS.max_speed_mps + 1e-9, LIMITS.max_climb_mps, -LIMITS.max_climb_mps,
                     -LIMITS.max_climb_mps - 1e-9, LIMITS.max_alt_m, LIMITS.max_alt_m + 1e-9, LIMITS.min_alt_m,
                     LIMITS.min_alt_m - 1e-9, 50, 50.000001, 5, -5.000001, 100, 100.000001, -0.000001]),
)
angle_like = st.floats(min_value=-180, max_value=180).map(lambda x: round(x, 6))
texts = st.one_of(st.text(max_size=6), st.sampled_from(["2017-06-06T05:00:00Z", "2017-06-06T05:00:01.5Z",
                                                         "2017-06-06T07:00:00+02:00", "u1", "u 2"]))
literals = st.from_regex(r"\A-?(0|[1-9][0-9]{0,19})(\.[0-9]{1,19})?([eE][+-]?[0-9]{1,6})?\Z").map(lambda s: f"#{s}#")
"""Number literals written as they come (placed in the body as they are, in place of ``"#...#"``)."""
values = st.one_of(numbers, angle_like, literals, texts, st.none(), st.booleans())
keys = st.sampled_from(["t", "id", "lon", "lat", "alt_m", "speed_mps", "course_deg", "climb_mps", "party", "x"])
plain = st.builds(lambda k, t, lon, lat, extra: {"t": t, "id": f"u{k}", "lon": lon, "lat": lat, **extra},
              st.integers(0, 5), st.sampled_from(["2017-06-06T05:00:00Z", "2017-06-06T05:00:01Z"]),
              angle_like, angle_like.map(lambda x: x / 2),
              st.dictionaries(st.sampled_from(["alt_m", "speed_mps", "course_deg", "climb_mps", "party"]),
                              st.one_of(numbers, literals, st.none(), st.just(PARTY)), max_size=3))
bodies = st.one_of(st.lists(plain, max_size=6), st.lists(st.one_of(plain, st.dictionaries(keys, values, max_size=6)),
                                                         max_size=6))


@settings(max_examples=400, deadline=None)
@given(bodies, st.sampled_from(["compact", "spaced", "indented", "ndjson"]), st.sampled_from([ENGINE, TIGHT]))
def test_any_body_is_read_as_the_general_path_reads_it_or_left_to_it(items, form, engine):
    """Under the default rules and under tight physical limits."""
    if form == "ndjson":
        body = "".join(json.dumps(r) + "\n" for r in items).encode()
    elif form == "compact":
        body = json.dumps(items, separators=(",", ":")).encode()
    else:
        body = json.dumps(items, indent=2 if form == "indented" else None).encode()
    body = re.sub(rb'"#([-+.0-9eE]+)#"', rb"\1", body)
    event("read in the pass" if check(body, form == "ndjson", engine) is not None else "left to the general path")
