"""What really happened in real traffic, by brute force, to judge the engine's alarms against.

An oracle independent of the engine: each unit's position is known only where it was measured,
or where it can be interpolated, linearly in longitude, latitude and altitude, between two of
its reports that bracket the instant, are at most ``Limits.gap_s`` apart and imply a possible
motion (a move or climb between them faster than ``Limits`` is a bad report, not a path: an
altitude of -15 m between two of 7,700 m 37 s apart would otherwise put an aircraft on a
runway's approach path for half a minute). Nothing is extrapolated. On every whole second where both units of a pair are known that way, the pair's
separation is measured: horizontally along the geodesic (pyproj's ``Geod.inv`` on WGS84; the
pairs to measure are picked, two minutes at a time, by the boxes of their positions and then a
flat-earth distance, both with limits 1.5 times wider), vertically as the
difference of altitudes (an unknown altitude counts as close, as in the engine). A pair's
*closeness* at a second is the larger of its horizontal distance over ``separation_m`` and its
vertical difference over ``vertical_m``: below 1 both minima are infringed at once.

* a **clear loss** of separation: a pair of units of different parties whose closeness falls
  below 1 on some second;
* a **false pair**: an engine ``separation.lost`` pair whose closeness never falls below 1.25 on
  any second (it never came within 1.25 times the minima where both positions were measured);
* a **clear entry**: a unit whose position is inside a zone's footprint (a circle: geodesic
  distance to its centre at most its radius) and altitude band on some second; the engine finds it
  with ``zone.entered`` or ``zone.crossed`` for that unit and zone.

The datasets are the real samples the environment ships, read from the installed packages:
the ``traffic`` package's ADS-B collections (OpenSky Network) and ``tracktable-data``'s AIS of
New York harbour (MarineCadastre). See ``benchmarks/bench_real_traffic.py`` for the table.
"""
from __future__ import annotations

import importlib.util
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path

import numpy as np
from pyproj import Geod

from deconfliction import AltitudeBand, Circle, Engine, Policy, Report, Zone, ZoneKind
from deconfliction.formats.adsb import FOOT_M, KNOT_MPS, reports_from_adsb, traffic_samples_dir

WGS84 = Geod(ellps="WGS84")
_A_M, _E2 = 6_378_137.0, 6.694379990141317e-3
NEAR = 1.25
"""A reported pair that never came within this many times the minima is a false pair."""
_SCREEN = 1.5
_CHUNK_S = 120
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
LOST, ENTERED, CROSSED = "separation.lost", "zone.entered", "zone.crossed"


@dataclass(frozen=True, slots=True)
class Minima:
    """Horizontal and vertical minima (metres); ``vertical_m`` None: altitude is not compared."""

    separation_m: float
    vertical_m: float | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """What a unit can do between two reports: interpolate across at most ``gap_s``, at speeds and
    climb rates (m/s) up to these."""

    gap_s: float
    speed_mps: float
    climb_mps: float


@dataclass(slots=True)
class Unit:
    """One unit's reports in time order: seconds since 1970, degrees, metres (NaN unknown)."""

    party: str
    t_s: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    alt_m: np.ndarray


def units_of(reports: Iterable[Report]) -> dict[str, Unit]:
    """The reports grouped by unit, each in time order; a report not later than the unit's
    previous one is left out (the engine ignores it too)."""
    rows: dict[str, list[Report]] = {}
    for r in reports:
        rows.setdefault(r.track, []).append(r)
    out = {}
    for track, rs in rows.items():
        rs.sort(key=lambda r: r.t)
        kept = [rs[0]]
        for r in rs[1:]:
            if r.t > kept[-1].t:
                kept.append(r)
        out[track] = Unit(kept[0].party, np.array([(r.t - _EPOCH).total_seconds() for r in kept]),
                          np.array([r.lon for r in kept]), np.array([r.lat for r in kept]),
                          np.array([math.nan if r.alt_m is None else r.alt_m for r in kept]))
    return out


def interpolated(unit: Unit, seconds: np.ndarray, limits: Limits) -> tuple[np.ndarray, ...]:
    """(known, lon, lat, alt_m) at ``seconds``: measured there, or interpolated between the two
    reports around it when they are at most ``limits.gap_s`` apart and the move between them is
    possible; never extrapolated."""
    t = unit.t_s
    k = np.searchsorted(t, seconds, side="right") - 1
    before = np.clip(k, 0, len(t) - 1)
    after = np.clip(k + 1, 0, len(t) - 1)
    at_report = (k >= 0) & (t[before] == seconds)
    span = t[after] - t[before]
    between = (k >= 0) & (k + 1 < len(t)) & (span <= limits.gap_s) & _possible(unit, before, after, limits)
    known = at_report | between
    w = np.where(span > 0, (seconds - t[before]) / np.where(span > 0, span, 1.0), 0.0)
    dlon = (unit.lon[after] - unit.lon[before] + 180.0) % 360.0 - 180.0
    lon = (unit.lon[before] + w * dlon + 180.0) % 360.0 - 180.0
    lat = unit.lat[before] + w * (unit.lat[after] - unit.lat[before])
    alt = unit.alt_m[before] + w * (unit.alt_m[after] - unit.alt_m[before])
    return known, lon, lat, alt


def _possible(unit: Unit, before: np.ndarray, after: np.ndarray, limits: Limits) -> np.ndarray:
    """Whether the moves from reports ``before`` to reports ``after`` are within the limits."""
    span = np.maximum(unit.t_s[after] - unit.t_s[before], 1e-9)
    kx, ky = _metres_per_degree((unit.lat[before] + unit.lat[after]) / 2)
    dx = ((unit.lon[after] - unit.lon[before] + 180.0) % 360.0 - 180.0) * kx
    speed = np.hypot(dx, (unit.lat[after] - unit.lat[before]) * ky) / span
    climb = np.abs(unit.alt_m[after] - unit.alt_m[before]) / span
    return (speed <= limits.speed_mps) & ~(climb > limits.climb_mps)  # an unknown altitude is no jump


def _metres_per_degree(lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s2 = np.sin(np.radians(lat)) ** 2
    n = _A_M / np.sqrt(1 - _E2 * s2)
    m = _A_M * (1 - _E2) / (1 - _E2 * s2) ** 1.5
    return n * np.cos(np.radians(lat)) * np.pi / 180, m * np.pi / 180


@dataclass
class Truth:
    """Per pair of units (ids in order) that came within 1.5 times the minima: its least closeness
    and the second (since 1970) it was reached."""

    closest: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)

    def within(self, scale: float) -> set[tuple[str, str]]:
        """Pairs whose closeness fell below ``scale`` on some second."""
        return {pair for pair, (c, _) in self.closest.items() if c < scale}

    @property
    def lost(self) -> set[tuple[str, str]]:
        """The clear losses of separation."""
        return self.within(1.0)


def separation_truth(units: dict[str, Unit], minima: Minima, limits: Limits) -> Truth:
    """Every pair of units of different parties, every second both are known: see the module docstring."""
    names = sorted(units)
    first = np.array([units[n].t_s[0] for n in names])
    last = np.array([units[n].t_s[-1] for n in names])
    party = np.array([units[n].party for n in names], dtype=object)
    truth = Truth()
    if not names:
        return truth
    start, end = math.ceil(first.min()), math.floor(last.max())
    for c0 in range(start, end + 1, _CHUNK_S):
        seconds = np.arange(c0, min(c0 + _CHUNK_S, end + 1), dtype=float)
        live = np.flatnonzero((first <= seconds[-1]) & (last >= seconds[0]))
        if len(live) < 2:
            continue
        known, lon, lat, alt = (np.stack(c, axis=1) for c in
                                zip(*(interpolated(units[names[u]], seconds, limits) for u in live.tolist())))
        i, j = np.triu_indices(len(live), k=1)
        keep = (party[live[i]] != party[live[j]]) & _boxes_near(known, lon, lat, i, j, _SCREEN * minima.separation_m)
        i, j = i[keep], j[keep]
        both = known[:, i] & known[:, j]
        close = _closeness_flat(lon[:, i], lat[:, i], alt[:, i], lon[:, j], lat[:, j], alt[:, j], minima)
        close = np.where(both, close, np.inf)
        for p in np.flatnonzero(close.min(axis=0) < _SCREEN).tolist():
            s = np.flatnonzero(close[:, p] < _SCREEN)
            a, b = i[p], j[p]
            exact = _closeness(lon[s, a], lat[s, a], alt[s, a], lon[s, b], lat[s, b], alt[s, b], minima)
            best = int(np.argmin(exact))
            pair = (names[live[a]], names[live[b]])
            if exact[best] < truth.closest.get(pair, (math.inf, 0.0))[0]:
                truth.closest[pair] = (float(exact[best]), float(seconds[s[best]]))
    return truth


def _boxes_near(known, lon, lat, i, j, distance_m: float) -> np.ndarray:
    """Pairs (columns i, j) whose boxes of known positions over the chunk may come within
    ``distance_m``: a screen, the boxes widened by that distance at the fewest metres per degree
    in them; a box near the antimeridian is always near."""
    x0, x1 = np.where(known, lon, np.inf).min(axis=0), np.where(known, lon, -np.inf).max(axis=0)
    y0, y1 = np.where(known, lat, np.inf).min(axis=0), np.where(known, lat, -np.inf).max(axis=0)
    seen = known.any(axis=0)
    highest = np.where(seen, np.minimum(np.maximum(np.abs(y0), np.abs(y1)) + 0.1, 89.9), 0.0)
    kx, ky = _metres_per_degree(highest)
    wx, wy = distance_m / kx, distance_m / ky
    edge = (x0 < -179.0) | (x1 > 179.0)
    near_y = np.maximum(y0[j] - y1[i], y0[i] - y1[j]) <= np.maximum(wy[i], wy[j])
    near_x = np.maximum(x0[j] - x1[i], x0[i] - x1[j]) <= np.maximum(wx[i], wx[j])
    return seen[i] & seen[j] & near_y & (near_x | edge[i] | edge[j])


def _vertical_part(alt_a, alt_b, minima: Minima) -> np.ndarray:
    if minima.vertical_m is None:
        return np.zeros(np.shape(alt_a))
    v = np.abs(alt_a - alt_b) / minima.vertical_m
    return np.where(np.isnan(v), 0.0, v)  # unknown altitude counts as close


def _closeness_flat(lon_a, lat_a, alt_a, lon_b, lat_b, alt_b, minima: Minima) -> np.ndarray:
    kx, ky = _metres_per_degree((lat_a + lat_b) / 2)
    dx = ((lon_b - lon_a + 180.0) % 360.0 - 180.0) * kx
    h = np.hypot(dx, (lat_b - lat_a) * ky)
    return np.maximum(h / minima.separation_m, _vertical_part(alt_a, alt_b, minima))


def _closeness(lon_a, lat_a, alt_a, lon_b, lat_b, alt_b, minima: Minima) -> np.ndarray:
    _, _, h = WGS84.inv(lon_a, lat_a, lon_b, lat_b)
    return np.maximum(np.asarray(h) / minima.separation_m, _vertical_part(alt_a, alt_b, minima))


def entry_truth(units: dict[str, Unit], zones: Sequence[Zone], limits: Limits) -> set[tuple[str, str]]:
    """(unit, zone id) for each unit inside a zone (circles only) and its altitude band on some second."""
    out = set()
    for track, unit in units.items():
        seconds = np.arange(math.ceil(unit.t_s[0]), math.floor(unit.t_s[-1]) + 1, dtype=float)
        known, lon, lat, alt = interpolated(unit, seconds, limits)
        lon, lat, alt = lon[known], lat[known], alt[known]
        for zone in zones:
            shape = zone.shape
            if not isinstance(shape, Circle):
                raise TypeError(f"zone {zone.id}: the oracle knows circles only")
            if any(unit.party == p for p in zone.allowed):
                continue
            kx, ky = _metres_per_degree(np.array([shape.lat]))
            near = np.flatnonzero(np.hypot((lon - shape.lon) * kx[0], (lat - shape.lat) * ky[0])
                                  < 1.01 * shape.radius_m + 10.0)
            if not len(near):
                continue
            _, _, d = WGS84.inv(np.full(len(near), shape.lon), np.full(len(near), shape.lat), lon[near], lat[near])
            a = alt[near]
            band = np.isnan(a) | ((zone.altitude.lower_m <= a) & (a <= zone.altitude.upper_m))
            if ((np.asarray(d) <= shape.radius_m) & band).any():
                out.add((track, zone.id))
    return out


# -- the datasets --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dataset:
    """Real reports, the minima that apply to them, zones to enter, and what is interpolated across."""

    name: str
    reports: list[Report]
    minima: Minima
    zones: list[Zone]
    limits: Limits

    def before(self, t: datetime) -> "Dataset":
        """The dataset's reports before ``t`` only."""
        return Dataset(self.name, [r for r in self.reports if r.t < t], self.minima, self.zones, self.limits)

    def policy(self, **changes) -> Policy:
        """The default policy with the dataset's minima (and ``changes``)."""
        vertical = {} if self.minima.vertical_m is None else {"vertical_m": self.minima.vertical_m}
        return Policy(separation_m=self.minima.separation_m, **vertical, **changes)


AIRCRAFT = Minima(separation_m=3 * 1852.0, vertical_m=1000 * FOOT_M)
"""3 NM and 1,000 ft."""
VESSELS = Minima(separation_m=150.0)
AIRCRAFT_LIMITS = Limits(gap_s=60.0, speed_mps=400.0, climb_mps=60.0)
"""ADS-B samples report every 1 to 10 s while covered; a longer silence is not interpolated.
Airliners fly below 400 m/s over the ground and climb or descend below 60 m/s (12,000 ft/min)."""
VESSEL_LIMITS = Limits(gap_s=180.0, speed_mps=30.0, climb_mps=math.inf)
"""The AIS sample keeps about one report a minute per vessel (90 % of gaps up to 181 s); harbour
traffic moves below 30 m/s (58 knots)."""
MOVING_KNOTS = 1.0
PARIS_AIRPORTS = {  # lon, lat (degrees) of the aerodrome reference points
    "lfpg": (2.5479, 49.0097), "lfpo": (2.3794, 48.7233), "lfpb": (2.4414, 48.9694),
    "lfob": (2.1128, 49.4544), "lfpv": (2.1917, 48.7742), "lfpn": (2.1106, 48.7519), "lfpt": (2.0408, 49.0967),
}
HARBOUR_SITES = {  # lon, lat, radius (m): protected sites on the water
    "liberty-island": (-74.0445, 40.6892, 400.0), "ellis-island": (-74.0396, 40.6995, 300.0),
    "governors-island": (-74.0168, 40.6895, 700.0),
}


def tracktable_data_dir() -> Path | None:
    """The example data folder of the installed ``tracktable-data`` package, or None (located, not imported)."""
    spec = importlib.util.find_spec("tracktable_data")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(spec.submodule_search_locations[0]) / "python_example_data"
    return root if root.is_dir() else None


def _circles(sites: dict, ceiling_m: float | None) -> list[Zone]:
    band = AltitudeBand(0.0, ceiling_m) if ceiling_m is not None else AltitudeBand(-1000.0, 100_000.0)
    return [Zone(name, Circle(*where[:2], where[2] if len(where) > 2 else 5000.0), parties=("authority",),
                 allowed=(), kind=ZoneKind.RESTRICTED, name=name, altitude=band) for name, where in sites.items()]


def adsb_collection(name: str) -> Dataset | None:
    """A ``traffic`` collection, airborne reports, every aircraft its own party; None when absent.

    Paris (``quickstart``) gets 5 km circles, surface to 3,000 ft, around seven aerodromes."""
    import pandas as pd  # only the readers need it

    root = traffic_samples_dir()
    path = None if root is None else root / "collections" / f"{name}.json.gz"
    if path is None or not path.is_file():
        return None
    reports = reports_from_adsb(pd.read_json(path))
    zones = _circles(PARIS_AIRPORTS, 3000 * FOOT_M) if name == "quickstart" else []
    label = {"quickstart": "Paris ADS-B (quickstart)", "switzerland": "Switzerland ADS-B"}.get(name, name)
    return Dataset(label, reports, AIRCRAFT, zones, AIRCRAFT_LIMITS)


def new_york_ais() -> Dataset | None:
    """AIS of New York harbour, 30 June 2020, 00:00-01:00 UTC (``tracktable-data``); None when absent.

    Moving vessels: reports at 1 knot or more, each vessel (MMSI) its own party. Knots and AIS's
    "not available" values (speed 102.3, course 360 and beyond or negative) end here."""
    import pandas as pd

    root = tracktable_data_dir()
    path = None if root is None else root / "NYHarbor_2020_06_30_first_hour.csv"
    if path is None or not path.is_file():
        return None
    frame = pd.read_csv(path)
    frame = frame[(frame["SOG"] >= MOVING_KNOTS) & (frame["SOG"] < 102.3)]
    times = pd.to_datetime(frame["BaseDateTime"], utc=True)
    micros = (times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)
    order = np.lexsort((np.arange(len(frame)), micros.to_numpy()))
    reports = []
    for k in order.tolist():
        row = frame.iloc[k]
        cog = float(row["COG"])
        reports.append(Report(
            t=datetime.fromtimestamp(int(micros.iloc[k]) / 1e6, tz=timezone.utc), track=str(row["MMSI"]),
            party=str(row["MMSI"]), lon=float(row["LON"]), lat=float(row["LAT"]),
            speed_mps=float(row["SOG"]) * KNOT_MPS, course_deg=cog if 0.0 <= cog < 360.0 else None, order=k))
    zones = _circles(HARBOUR_SITES, None)
    return Dataset("New York AIS (moving vessels)", reports, VESSELS, zones, VESSEL_LIMITS)


DATASETS: dict[str, Callable[[], Dataset | None]] = {
    "paris": lambda: adsb_collection("quickstart"),
    "switzerland": lambda: adsb_collection("switzerland"),
    "new-york": new_york_ais,
}


# -- the engine against the oracle -------------------------------------------------------------

@dataclass
class Score:
    """The engine's alarms on a dataset against the oracle's truth."""

    dataset: str
    reports: int
    clear_losses: set
    engine_pairs: set
    false_pairs: set
    clear_entries: set
    engine_entries: set
    engine_s: float
    events: Counter

    @property
    def found(self) -> set:
        return self.clear_losses & self.engine_pairs

    @property
    def missed(self) -> set:
        return self.clear_losses - self.engine_pairs

    @property
    def entries_found(self) -> set:
        return self.clear_entries & self.engine_entries


def replay(data: Dataset, policy: Policy) -> tuple[list, float]:
    """The engine's events for the dataset (zones declared first, then one call per instant) and the seconds it took."""
    engine = Engine(policy)
    started = time.perf_counter()
    events = []
    if data.reports:
        for zone in data.zones:
            events += engine.declare_zone(zone, data.reports[0].t)
    for t, group in groupby(data.reports, key=lambda r: r.t):
        events += engine.report(t, list(group))
    return events, time.perf_counter() - started


def score(data: Dataset, policy: Policy, truth: Truth, entries: set) -> Score:
    events, seconds = replay(data, policy)
    pairs = {tuple(e.fields["tracks"]) for e in events if e.type == LOST}
    near = truth.within(NEAR)
    engine_entries = {(e.fields["track"], e.fields["zone"]) for e in events if e.type in (ENTERED, CROSSED)}
    return Score(data.name, len(data.reports), truth.lost, pairs, pairs - near, entries, engine_entries, seconds,
                 Counter(str(e.type) for e in events))
