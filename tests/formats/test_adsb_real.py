"""The ADS-B converter on the real OpenSky Network samples shipped by ``traffic``: counts, units, order."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest


from tests.realdata import samples_or_skip  # noqa: E402

SAMPLES = samples_or_skip()
pd = pytest.importorskip("pandas", reason="pandas reads the ADS-B samples (pip install -e '.[test]')")
from deconfliction import Area, ScenarioError, ZoneKind  # noqa: E402
from deconfliction.formats.adsb import (  # noqa: E402
    FOOT_M, KNOT_MPS, party_by_airline, read_adsb_sample, read_airspace, reports_from_adsb,
)

QUICKSTART = SAMPLES / "collections" / "quickstart.json.gz"
UTC = timezone.utc


@lru_cache(maxsize=None)
def frame(path: Path):
    return pd.read_json(path)


@lru_cache(maxsize=None)
def quickstart(airborne_only: bool):
    return read_adsb_sample(QUICKSTART, airborne_only=airborne_only)


def test_conversion_factors():
    assert KNOT_MPS == pytest.approx(0.514444, abs=1e-6)
    assert FOOT_M == 0.3048


def test_quickstart_keeps_every_report_of_every_aircraft():
    reports = quickstart(False)
    assert len(reports) == 284_505
    assert len({r.track for r in reports}) == 213
    assert reports[0].t == datetime(2021, 10, 7, 12, 0, 1, tzinfo=UTC)
    assert reports[-1].t == datetime(2021, 10, 7, 14, 59, 59, tzinfo=UTC)


def test_airborne_only_leaves_out_the_reports_on_the_ground():
    raw = frame(QUICKSTART)
    reports = quickstart(True)
    assert len(reports) == int((~raw["onground"]).sum()) == 229_134
    assert not raw["onground"].to_numpy()[[r.order for r in reports]].any()


def test_reports_are_in_time_then_input_order_with_the_input_row_as_order():
    reports = quickstart(False)
    keys = [(r.t, r.order) for r in reports]
    assert keys == sorted(keys)
    assert sorted(r.order for r in reports) == list(range(len(reports)))
    assert all(r.t.tzinfo is UTC for r in reports[:1000])


def test_units_are_converted_row_by_row():
    raw = frame(QUICKSTART)
    reports = quickstart(False)
    rows = raw.iloc[[r.order for r in reports]]
    alt = np.array([math.nan if r.alt_m is None else r.alt_m for r in reports])
    speed = np.array([math.nan if r.speed_mps is None else r.speed_mps for r in reports])
    course = np.array([math.nan if r.course_deg is None else r.course_deg for r in reports])
    np.testing.assert_allclose(alt, rows["altitude"].to_numpy() * 0.3048, rtol=1e-12)
    np.testing.assert_allclose(speed, rows["groundspeed"].to_numpy() * 0.514444, rtol=1e-6)
    np.testing.assert_array_equal(course, rows["track"].to_numpy())
    np.testing.assert_array_equal([r.lon for r in reports], rows["longitude"].to_numpy())
    np.testing.assert_array_equal([r.lat for r in reports], rows["latitude"].to_numpy())
    assert [r.track for r in reports[:100]] == rows["icao24"].tolist()[:100]
    times = pd.to_datetime(rows["timestamp"]).dt.tz_localize("UTC")
    assert [r.t for r in reports[::5000]] == [t.to_pydatetime() for t in times.iloc[::5000]]


def test_missing_values_become_none_and_are_kept():
    raw = frame(QUICKSTART)
    airborne = raw[~raw["onground"]]
    reports = quickstart(True)
    assert sum(r.alt_m is None for r in reports) == int(airborne["altitude"].isna().sum()) == 570
    assert sum(r.speed_mps is None for r in reports) == int(airborne["groundspeed"].isna().sum()) == 2769
    assert sum(r.course_deg is None for r in reports) == int(airborne["track"].isna().sum())


def test_cruising_aircraft_have_plausible_values_in_metres_and_mps():
    reports = [r for r in quickstart(True) if r.alt_m is not None and r.speed_mps is not None]
    alt = np.array([r.alt_m for r in reports])
    speed = np.array([r.speed_mps for r in reports])
    # arrivals, departures and overflights around Paris: in metres and m/s, not feet and knots
    assert 2_000 < np.median(alt) < 4_000 and -100 < np.percentile(alt, 0.1) < np.percentile(alt, 99.9) < 13_000
    assert 100 < np.median(speed) < 200 and np.percentile(speed, 99.9) < 300
    assert all(0 <= r.course_deg <= 360 for r in reports[:10_000])


def test_each_aircraft_has_one_party():
    per_aircraft = quickstart(True)
    assert all(r.party == r.track for r in per_aircraft)
    by_airline = reports_from_adsb(frame(QUICKSTART), party=party_by_airline)
    parties: dict[str, set[str]] = {}
    for r in by_airline:
        parties.setdefault(r.track, set()).add(r.party)
    assert all(len(p) == 1 for p in parties.values())
    assert {"AFR", "EJU", "RYR"} <= {p for (p,) in parties.values()}
    assert reports_from_adsb(frame(QUICKSTART).head(50), party="opensky")[0].party == "opensky"


def test_a_sample_in_no_particular_order_comes_out_sorted():
    path = SAMPLES / "surveys" / "pixair_toulouse.json.gz"
    raw = frame(path)
    assert not raw["timestamp"].is_monotonic_increasing  # the file is not in time order
    reports = read_adsb_sample(path)  # no onground column: every row is kept
    assert len(reports) == len(raw) == 1819
    assert [r.t for r in reports] == sorted(r.t for r in reports)
    assert {r.track for r in reports} == {"39b861"}


def test_rows_without_a_position_are_dropped_or_refused():
    rows = frame(SAMPLES / "ambulances" / "samu31.json.gz").head(10).copy()
    rows.loc[rows.index[3], "latitude"] = math.nan
    assert [r.order for r in reports_from_adsb(rows)] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    with pytest.raises(ScenarioError, match="row 3"):
        reports_from_adsb(rows, drop_unpositioned=False)


def test_aware_timestamps_are_read_as_utc():
    rows = frame(SAMPLES / "ambulances" / "samu31.json.gz").head(5).copy()
    naive = reports_from_adsb(rows)
    rows["timestamp"] = rows["timestamp"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris")
    assert [r.t for r in reports_from_adsb(rows)] == [r.t for r in naive]
    assert naive[0].t == datetime(2019, 5, 17, 11, 23, 15, tzinfo=UTC)


def test_airspace_shapes_become_zones_with_bands_in_metres():
    zones = read_airspace(SAMPLES / "airspaces" / "LFBOTMA.json", parties=("dsna",))
    assert [z.id for z in zones] == ["siv-toulouse/0", "siv-toulouse/1", "siv-toulouse/2"]
    assert [(z.altitude.lower_m, z.altitude.upper_m) for z in zones] == [
        (0.0, 6500 * 0.3048), (6500 * 0.3048, 11500 * 0.3048), (11500 * 0.3048, 14500 * 0.3048)]
    assert all(isinstance(z.shape, Area) and z.kind == ZoneKind.RESTRICTED for z in zones)
    assert zones[0].name == "SIV TOULOUSE FL000-FL065"
    assert zones[0].parties == ("dsna",) and zones[0].allowed == ()
    blagnac, paris = (1.3678, 43.6293), (2.35, 48.85)
    assert all(bool(z.shape.contains(*blagnac)[0]) for z in zones)
    assert not any(bool(z.shape.contains(*paris)[0]) for z in zones)
