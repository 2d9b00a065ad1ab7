"""Real ADS-B traffic (OpenSky Network samples shipped by ``traffic``) through the engine, against brute force.

Paris: 30 minutes of the ``quickstart`` collection, every airborne aircraft its own party, are
fed to ``Engine.report`` one timestamp at a time. An independent reference recomputes, at
every one of those update times and for every pair of aircraft, what the contract asks:

* each aircraft is its last report (at most ``track_timeout_s`` old) moved on in a straight
  line: horizontally along its reported course at its reported speed (else the velocity from
  its previous report) with geographiclib's geodesic ``Direct``, vertically at its reported
  vertical rate (ADS-B ``vertical_rate``), else at the climb rate between its last two reported
  altitudes; this is the engine's documented model;
* separation is lost when the geodesic distance (geographiclib ``Inverse``) is below
  ``separation_m`` and the altitude difference below ``vertical_m`` (unknown counts as close);
* a pair is in conflict when, moving straight at constant velocity in the local east/north
  frame of its first aircraft (the second one's velocity carried over along the geodesic
  between them), it is closer than both minima at once at some time in ``[0, lookahead_s]``;
* events follow the one-event-per-encounter rule: an encounter starts at an update time when
  the pair is in conflict and no encounter of it is under way, with ``proximity.predicted``, or
  with ``separation.lost`` when lost at once, and gets one ``separation.lost`` the first time
  separation is lost in it. It ends at the first update time when the pair has been clear
  (not in conflict, which includes one of the aircraft being silent for longer than
  ``track_timeout_s``) at every update time for at least ``encounter_gap_s``, counted from the
  first of those clear update times; from the next update time on, a conflict is a new encounter.

Both sides compute the same quantities with different maths, so a case within 1 % of a limit
(``separation_m``, ``vertical_m`` or ``lookahead_s``) may go either way: the reference is
evaluated with the limits scaled by 0.99 and 1.01, and the engine's events for each pair must be
those of some sequence of outcomes it allows (update times are exact: ``encounter_gap_s`` is
applied as is). To stay fast, pairs are first screened with a vectorised flat-earth version of
the same test with limits 10 % wider, which cannot drop a pair the precise test keeps (the
flat-earth error is far below 1 % at these distances).

Toulouse: the zones of the ``SIV TOULOUSE`` airspace (three stacked shapes) against flights
that cross it, climb through it, stay inside it, or stay clear of it, checked report by report
with shapely in longitude/latitude plus the closed altitude band.
"""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime
from functools import cache
from itertools import groupby

import numpy as np
import pytest
import shapely
from geographiclib.geodesic import Geodesic
from shapely.geometry import LineString

from deconfliction import Engine, Policy, Report


from tests.realdata import samples_or_skip  # noqa: E402

SAMPLES = samples_or_skip()
pd = pytest.importorskip("pandas", reason="pandas reads the ADS-B samples (pip install -e '.[test]')")
from deconfliction.engine.hygiene import KINDS
from deconfliction.formats.adsb import read_airspace, reports_from_adsb

GEOD = Geodesic.WGS84
POLICY = Policy(separation_m=5556.0, vertical_m=300.0, lookahead_s=120.0, track_timeout_s=60.0)
SLICE = (datetime(2021, 10, 7, 12, 30), datetime(2021, 10, 7, 13, 0))
SCALES = (0.99, 1.0, 1.01)
SCREEN = 1.10
IDLE, PREDICTED, LOST, CLEAR = "idle", "proximity.predicted", "separation.lost", "clear"
NO_ENCOUNTER = (IDLE, None)


@cache
def sample(path: str):
    """A sample file as read by pandas, once per test run (callers filter, never modify it)."""
    return pd.read_json(SAMPLES / path)


# -- Paris: unit against unit ----------------------------------------------------------------

@pytest.fixture(scope="module")
def paris():
    frame = sample("collections/quickstart.json.gz")
    start, end = SLICE
    frame = frame[(frame["timestamp"] >= start) & (frame["timestamp"] < end)]
    reports = reports_from_adsb(frame)  # airborne only, each aircraft its own party
    engine = Engine(POLICY)
    events = []
    for t, group in groupby(reports, key=lambda r: r.t):
        events += engine.report(t, list(group))
    # the reference applies every report: none is out of order or repeated; three are jumps of
    # about 2 km in a second, each after an aircraft's position stood still for some seconds in
    # the sample (a stale position, then the real one), held back until the next reports confirm it
    assert [engine.stats[f"reports.{kind}"] for kind in KINDS] == [0, 0, 3, 0]
    assert engine.stats["reports.applied"] == len(reports) - 3
    return reports, events, Reference(reports)


class Reference:
    """Per update time and pair: the outcomes the reference allows, and its exact-limit figures."""

    def __init__(self, reports: list[Report]):
        self.times: list[datetime] = []
        self.step_of: dict[datetime, int] = {}
        self.allowed: dict[tuple[str, str], dict[int, set[str]]] = defaultdict(dict)
        self.figures: dict[tuple[int, tuple[str, str]], list[dict]] = {}
        units: dict[str, dict] = {}
        for t, group in groupby(reports, key=lambda r: r.t):
            for r in group:
                units[r.track] = moved_to(r, units.get(r.track))
            self.step_of[t] = len(self.times)
            self.times.append(t)
            self._update(len(self.times) - 1, t, units)

    def _update(self, step: int, t: datetime, units: dict[str, dict]) -> None:
        names = sorted(n for n, u in units.items() if (t - u["t"]).total_seconds() <= POLICY.track_timeout_s)
        if len(names) < 2:
            return
        now = [at_time(units[n], t) for n in names]
        i, j = np.triu_indices(len(names), k=1)
        keep = screened(now, i, j)
        for a, b in zip(i[keep].tolist(), j[keep].tolist()):
            pair = (names[a], names[b])
            figures = precise(now[a], now[b])
            conflict = [f["conflict"] for f in figures]
            lost = [f["lost"] for f in figures]
            allowed = set()
            if not conflict[0]:
                allowed.add(CLEAR)
            if conflict[2] and not lost[0]:
                allowed.add(PREDICTED)
            if lost[2]:
                allowed.add(LOST)
            self.allowed[pair][step] = allowed
            self.figures[(step, pair)] = figures


def moved_to(r: Report, prev: dict | None) -> dict:
    """The unit after report ``r``: position, altitude (NaN unknown) and velocity (m/s east, north, up)."""
    alt = math.nan if r.alt_m is None else r.alt_m
    dt = (r.t - prev["t"]).total_seconds() if prev else 0.0
    if r.climb_mps is not None:  # the reported vertical rate
        v_up = r.climb_mps
    else:
        v_up = (alt - prev["alt"]) / dt if prev and dt > 0 and not math.isnan(alt - prev["alt"]) else 0.0
    if r.speed_mps is not None and r.course_deg is not None:
        speed, course = r.speed_mps, r.course_deg
    elif prev and dt > 0:
        g = GEOD.Inverse(prev["lat"], prev["lon"], r.lat, r.lon)
        speed, course = g["s12"] / dt, g["azi2"]
    else:
        speed, course = 0.0, 0.0
    return {"t": r.t, "lon": r.lon, "lat": r.lat, "alt": alt, "speed": speed, "course": course, "v_up": v_up}


def at_time(u: dict, t: datetime) -> dict:
    """The unit moved on to ``t`` along its geodesic course."""
    dt = (t - u["t"]).total_seconds()
    lon, lat = u["lon"], u["lat"]
    if dt > 0 and u["speed"] > 0:
        g = GEOD.Direct(lat, lon, u["course"], u["speed"] * dt)
        lon, lat = g["lon2"], g["lat2"]
    return {**u, "lon": lon, "lat": lat, "alt": u["alt"] + u["v_up"] * dt}


def screened(now: list[dict], i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Pairs that may conflict: flat-earth positions at the pair's mid-latitude, limits 10 % wider."""
    lon, lat, alt, speed, course, v_up = (np.array([u[k] for u in now]) for k in
                                          ("lon", "lat", "alt", "speed", "course", "v_up"))
    mid = np.radians((lat[i] + lat[j]) / 2)
    r_m = 6_371_000.0 * np.pi / 180
    px, py = (lon[j] - lon[i]) * r_m * np.cos(mid), (lat[j] - lat[i]) * r_m
    ve, vn = speed * np.sin(np.radians(course)), speed * np.cos(np.radians(course))
    conflict, lost = windows(px, py, ve[j] - ve[i], vn[j] - vn[i], alt[j] - alt[i], v_up[j] - v_up[i],
                             SCREEN)[:2]
    return conflict | lost


def precise(a: dict, b: dict) -> list[dict]:
    """The pair in ``a``'s east/north frame from geodesics, under each scale of the limits."""
    g = GEOD.Inverse(a["lat"], a["lon"], b["lat"], b["lon"])
    azi1, azi2 = math.radians(g["azi1"]), math.radians(g["azi2"])
    px, py = g["s12"] * math.sin(azi1), g["s12"] * math.cos(azi1)
    # b's course relative to the geodesic is kept when carried to a along it
    course_b = math.radians(b["course"]) - azi2 + azi1
    course_a = math.radians(a["course"])
    vx = b["speed"] * math.sin(course_b) - a["speed"] * math.sin(course_a)
    vy = b["speed"] * math.cos(course_b) - a["speed"] * math.cos(course_a)
    args = [np.array([x]) for x in (px, py, vx, vy, b["alt"] - a["alt"], b["v_up"] - a["v_up"])]
    out = []
    for scale in SCALES:
        conflict, lost, cpa_t, cpa_d, vert = windows(*args, scale)
        out.append({"conflict": bool(conflict[0]), "lost": bool(lost[0]), "cpa_t_s": float(cpa_t[0]),
                    "cpa_distance_m": float(cpa_d[0]), "vertical_m": float(vert[0]),
                    "distance_m": g["s12"], "vertical_now_m": abs(b["alt"] - a["alt"])})
    return out


def windows(px, py, vx, vy, dz, dvz, scale: float):
    """Conflict and loss of separation with the policy's limits times ``scale``, and the CPA figures.

    Relative position (m) and velocity (m/s) east and north, altitude difference and its rate.
    """
    sep, vmin, ahead = (scale * x for x in (POLICY.separation_m, POLICY.vertical_m, POLICY.lookahead_s))
    v2 = vx * vx + vy * vy
    moving = v2 > 1e-12
    safe = np.where(moving, v2, 1.0)
    tcpa = np.where(moving, -(px * vx + py * vy) / safe, 0.0)
    room = sep * sep - ((px + vx * tcpa) ** 2 + (py + vy * tcpa) ** 2)
    half = np.sqrt(np.maximum(room, 0.0) / safe)
    h_in = np.where(room > 0, np.where(moving, tcpa - half, -np.inf), np.inf)
    h_out = np.where(room > 0, np.where(moving, tcpa + half, np.inf), -np.inf)
    climbing = np.abs(dvz) > 1e-9
    rate = np.where(climbing, dvz, 1.0)
    close = ~(np.abs(dz) >= vmin)  # unknown altitude counts as close
    t_a, t_b = (-vmin - dz) / rate, (vmin - dz) / rate
    v_in = np.where(climbing, np.fmin(t_a, t_b), np.where(close, -np.inf, np.inf))
    v_out = np.where(climbing, np.fmax(t_a, t_b), np.where(close, np.inf, -np.inf))
    unknown = np.isnan(dz)
    v_in, v_out = np.where(unknown, -np.inf, v_in), np.where(unknown, np.inf, v_out)
    start, end = np.maximum(h_in, v_in), np.minimum(h_out, v_out)
    conflict = (start < end) & (start < ahead) & (end > 0)
    lost = (px * px + py * py < sep * sep) & close
    lo, hi = np.clip(start, 0.0, ahead), np.clip(end, 0.0, ahead)
    cpa_t = np.where(moving, np.clip(tcpa, lo, hi), lo)
    cpa_d = np.hypot(px + vx * cpa_t, py + vy * cpa_t)
    return conflict, lost, cpa_t, cpa_d, np.abs(dz + dvz * cpa_t)


State = tuple[str, datetime | None]
"""A pair's encounter: IDLE (none), or the last event of it and since when the pair is clear (None: in conflict)."""


def step_after(state: State, outcome: str, t: datetime) -> tuple[State, str | None]:
    """The one-event-per-encounter rule at update time ``t``: (state, outcome) -> (next state, event or None)."""
    phase = state[0]
    if outcome == CLEAR:
        return clear_until(state, t, t), None
    if outcome == PREDICTED:
        return ((PREDICTED, None), PREDICTED) if phase == IDLE else ((phase, None), None)
    return ((LOST, None), None) if phase == LOST else ((LOST, None), LOST)


def clear_until(state: State, first: datetime, last: datetime) -> State:
    """The state after the pair is clear at every update time from ``first`` to ``last``."""
    phase, clear_since = state
    if phase == IDLE:
        return state
    clear_since = first if clear_since is None else clear_since
    if (last - clear_since).total_seconds() >= POLICY.encounter_gap_s:
        return NO_ENCOUNTER  # clear long enough: the encounter is over
    return phase, clear_since


def engine_events_by_pair(events) -> dict[tuple[str, str], dict[datetime, str]]:
    out: dict[tuple[str, str], dict[datetime, str]] = defaultdict(dict)
    for e in events:
        if e.type in (PREDICTED, LOST):
            pair = tuple(e.fields["tracks"])
            assert pair[0] < pair[1] and e.t not in out[pair], e
            out[pair][e.t] = e.type
    return out


def check_pair(ref: Reference, pair, seen: dict[datetime, str]) -> str | None:
    """None when the engine's events for the pair follow some outcome sequence the reference allows."""
    allowed = ref.allowed.get(pair, {})
    steps = sorted(set(allowed) | {ref.step_of[t] for t in seen})
    states: set[State] = {NO_ENCOUNTER}
    last = None
    for step in steps:
        if last is not None and step > last + 1:  # surely clear update times in between
            states = {clear_until(s, ref.times[last + 1], ref.times[step - 1]) for s in states}
        last = step
        options = allowed.get(step, {CLEAR})
        expected = seen.get(ref.times[step])
        nxt = set()
        for state in states:
            for outcome in options:
                state2, event = step_after(state, outcome, ref.times[step])
                if event == expected:
                    nxt.add(state2)
        if not nxt:
            around = {ref.times[s].time().isoformat(): sorted(allowed.get(s, {CLEAR}))
                      for s in range(max(step - 3, 0), step + 2)}
            now = sorted((phase, since.time().isoformat() if since else "-") for phase, since in states)
            return (f"{pair} at {ref.times[step].time()}: engine says {expected}, reference allows "
                    f"{sorted(options)} from {now} (state, clear since); around: {around}")
        states = nxt
    return None


def test_paris_slice_has_real_close_encounters(paris):
    reports, events, _ = paris
    kinds = {e.type for e in events}
    assert len(reports) > 30_000 and len({r.track for r in reports}) >= 50
    assert {PREDICTED, LOST} <= kinds
    assert sum(e.type == LOST for e in events) >= 10


def test_paris_events_follow_the_brute_force_reference(paris):
    _, events, ref = paris
    seen = engine_events_by_pair(events)
    problems = [p for pair in sorted(set(seen) | set(ref.allowed)) if (p := check_pair(ref, pair, seen.get(pair, {})))]
    assert not problems, "\n".join(problems[:10])


def test_paris_lost_pairs_are_the_pairs_the_reference_finds_lost(paris):
    _, events, ref = paris
    engine_lost = {tuple(e.fields["tracks"]) for e in events if e.type == LOST}
    surely = {pair for (step, pair), f in ref.figures.items() if f[0]["lost"]}
    maybe = {pair for (step, pair), f in ref.figures.items() if f[2]["lost"]}
    assert surely <= engine_lost <= maybe
    assert len(surely) >= 5


def test_paris_event_figures_match_the_reference(paris):
    _, events, ref = paris
    step_of = ref.step_of
    tolerance = {"cpa_distance_m": 0.01 * POLICY.separation_m, "cpa_t_s": 0.01 * POLICY.lookahead_s,
                 "vertical_m": 0.01 * POLICY.vertical_m}
    checked = 0
    for e in events:
        if e.type not in (PREDICTED, LOST):
            continue
        figures = ref.figures[(step_of[e.t], tuple(e.fields["tracks"]))]
        exact = figures[1]
        if e.type == LOST:
            assert e.fields["distance_m"] == pytest.approx(exact["distance_m"], abs=0.01 * POLICY.separation_m)
            _assert_vertical(e.fields["vertical_m"], exact["vertical_now_m"])
        else:
            got = {"cpa_distance_m": e.fields["cpa_distance_m"], "vertical_m": e.fields["vertical_m"],
                   "cpa_t_s": (e.fields["cpa_t"] - e.t).total_seconds()}
            for name, value in got.items():
                if value is None:  # an altitude is unknown
                    assert math.isnan(exact[name]), (e, name)
                    continue
                span = [f[name] for f in figures if f["conflict"]]
                assert min(span) - tolerance[name] <= value <= max(span) + tolerance[name], (e, name, span)
        checked += 1
    assert checked >= 20


def test_a_steady_approach_is_one_encounter(paris):
    # 4401d1 descends steadily (25 ft every 1.5 s, reported -830 ft/min) towards 3946e0 on the
    # approach to Paris-CDG; the horizontal distance shrinks from 8.3 km at 12:30:05 to 5.5 km at
    # 12:30:37, when separation is lost. (3946e0 is in fact a frozen state vector: OpenSky repeats
    # its last airborne state, 275 ft over the runway 27R final, from 12:28:07 to 12:30:43.)
    # The climb rate from the last two altitudes (25 ft steps) flickered between 0 and 7.6 m/s and
    # cut this approach into eight encounters, each with its own proximity.predicted. With the
    # reported vertical rate the conflict is seen from 12:30:05 on, but for a clear 12:30:14
    # (318 m apart vertically at the closest approach), which the encounter gap rides over.
    _, events, _ = paris
    approach = [(e.t, str(e.type)) for e in events if e.fields.get("tracks") == ["3946e0", "4401d1"]]
    predicted_by, lost_at = (datetime(2021, 10, 7, 12, 30, s, tzinfo=UTC) for s in (6, 37))
    assert [kind for _, kind in approach] == [PREDICTED, LOST]
    assert approach[0][0] <= predicted_by and approach[1][0] == lost_at


def _assert_vertical(got: float | None, expected: float) -> None:
    if math.isnan(expected):
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=0.1)


# -- Toulouse: units against the stacked zones of an airspace ---------------------------------

def toulouse_zones():
    return read_airspace(SAMPLES / "airspaces" / "LFBOTMA.json", parties=("dsna",))


def flight(path: str, callsign: str | None = None, *, every_s: float = 0.0) -> list[Report]:
    """The airborne reports of a sample (of one callsign), optionally thinned to one per ``every_s``."""
    frame = sample(path)
    if callsign is not None:
        frame = frame[frame["callsign"] == callsign]
    reports = reports_from_adsb(frame)
    kept = reports[:1]
    for r in reports[1:]:
        if (r.t - kept[-1].t).total_seconds() >= every_s:
            kept.append(r)
    return kept


def brute_force_zone_events(reports: list[Report], zones) -> list[tuple]:
    """Entries, exits and crossings report by report: shapely in lon/lat plus the closed altitude band."""
    out = []
    for k, zone in enumerate(zones):
        polygon = zone.shape.geometry
        lon = np.array([r.lon for r in reports])
        lat = np.array([r.lat for r in reports])
        footprint = shapely.intersects_xy(polygon, lon, lat)  # closed: the edge is inside
        band = np.array([zone.altitude.lower_m <= r.alt_m <= zone.altitude.upper_m if r.alt_m is not None
                         else True for r in reports])
        inside = footprint & band
        for n, r in enumerate(reports):
            was = bool(inside[n - 1]) if n else False
            if inside[n] and not was:
                out.append((r.t, "zone.entered", zone.id))
            elif was and not inside[n]:
                out.append((r.t, "zone.exited", zone.id))
            elif n and not inside[n] and _crosses(reports[n - 1], r, zone):
                out.append((r.t, "zone.crossed", zone.id))
    return sorted(out)


def _crosses(a: Report, b: Report, zone) -> bool:
    if not LineString([(a.lon, a.lat), (b.lon, b.lat)]).intersects(zone.shape.geometry):
        return False
    alts = [x for x in (a.alt_m, b.alt_m) if x is not None]
    if len(alts) < 2:
        return True
    return min(alts) <= zone.altitude.upper_m and max(alts) >= zone.altitude.lower_m


def zone_events(reports: list[Report], zones) -> list:
    engine = Engine(Policy(perimeter_m=5000.0))
    for zone in zones:
        engine.declare_zone(zone, reports[0].t)
    events = []
    for t, group in groupby(reports, key=lambda r: r.t):
        events += engine.report(t, list(group))
    return [e for e in events if e.type.startswith("zone.")]


def crossing(events) -> list[tuple]:
    return sorted((e.t, str(e.type), e.fields["zone"]) for e in events if e.type != "zone.approaching")


FLIGHTS = {
    # A Boeing 787 test flight at 10,000 ft flies through the FL065-FL115 shape and out again.
    "flies_through": ("featured/dreamliner_airfrance.json.gz", "FWKDL", 0.0),
    # An IGN survey aircraft climbs from FL015 through every shape to FL150, and later back down.
    "climbs_through": ("surveys/ign_lot_et_garonne.json.gz", None, 0.0),
    # The same flight as a sparse feed: one report every 3 minutes skips the top shape twice.
    "climbs_across_sparse": ("surveys/ign_lot_et_garonne.json.gz", None, 180.0),
    # The Toulouse emergency helicopter, inside the lowest shape from its first report to its last.
    "inside": ("ambulances/samu31.json.gz", None, 0.0),
}


@pytest.mark.parametrize("name", sorted(FLIGHTS))
def test_toulouse_zone_events_match_the_brute_force(name):
    path, callsign, every_s = FLIGHTS[name]
    reports = flight(path, callsign, every_s=every_s)
    zones = toulouse_zones()
    expected = brute_force_zone_events(reports, zones)
    kinds = [kind for _, kind, _ in expected]
    # the precondition: the flight really is where this test says it is
    if name == "flies_through":
        assert kinds == ["zone.entered", "zone.exited"] and expected[0][2] == "siv-toulouse/1"
    elif name == "climbs_through":
        assert {z for _, _, z in expected} == {z.id for z in zones} and kinds.count("zone.exited") >= 3
    elif name == "climbs_across_sparse":
        assert kinds.count("zone.crossed") == 2 and {z for _, k, z in expected if k == "zone.crossed"} == {
            "siv-toulouse/2"}
    else:
        assert expected == [(reports[0].t, "zone.entered", "siv-toulouse/0")]
    assert crossing(zone_events(reports, zones)) == expected


@pytest.mark.parametrize("path, callsign", [
    ("featured/dreamliner_airfrance.json.gz", "AFR787V"),  # southern France, 17 km clear of it
    ("collections/quickstart.json.gz", "AFR85FF"),  # near Paris
])
def test_a_flight_clear_of_the_toulouse_airspace_causes_no_zone_event(path, callsign):
    reports = flight(path, callsign)
    zones = toulouse_zones()
    lon, lat = np.array([r.lon for r in reports]), np.array([r.lat for r in reports])
    assert reports and all((z.shape.signed_distance_m(lon, lat) > 5000.0).all() for z in zones)
    assert brute_force_zone_events(reports, zones) == []
    assert zone_events(reports, zones) == []

