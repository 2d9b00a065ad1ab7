"""A zone's own warning band: a zone that sets ``perimeter_m`` is approached within that distance of
its edge, whatever the policy's band; a zone that sets none takes the policy's."""
from datetime import datetime, timedelta, timezone

from geographiclib.geodesic import Geodesic

from deconfliction import Circle, Engine, Party, Policy, Report, Zone, replay
from deconfliction.formats.scenario import parse_scenario

T0 = datetime(2017, 6, 6, tzinfo=timezone.utc)
POLICY_BAND_M = 5_000
RADIUS_M = 1_000
CENTRES = {"wide": (36.0, 33.0), "narrow": (38.0, 33.0), "plain": (40.0, 33.0)}
"""Three zones far apart (about 190 km), so that a unit near one is far from the others."""
OWN_BANDS = {"wide": 20_000, "narrow": 1_000, "plain": None}
"""Each zone's own ``perimeter_m``: wider than the policy's, narrower, and none (the policy's)."""
DISTANCES_KM = (0.5, 3, 12, 30)
"""A unit's distance from the zone's edge: inside every band; inside the policy's band but outside the
narrow one; outside the policy's band but inside the wide one; outside every band."""


def approaching_expected(zone: str, km: float) -> bool:
    band = OWN_BANDS[zone] if OWN_BANDS[zone] is not None else POLICY_BAND_M
    return km * 1000 <= band


def north_of(zone: str, km_from_edge: float) -> tuple[float, float]:
    lon, lat = CENTRES[zone]
    g = Geodesic.WGS84.Direct(lat, lon, 0, RADIUS_M + km_from_edge * 1000)
    return g["lon2"], g["lat2"]


def track(zone: str, km: float) -> str:
    return f"{zone}-{km:g}km"


def zones() -> list[Zone]:
    return [Zone(z, Circle(*CENTRES[z], RADIUS_M), ("coalition",), ("coalition",), perimeter_m=OWN_BANDS[z])
            for z in CENTRES]


def approaching(events) -> set[tuple[str, str]]:
    return {(e.fields["zone"], e.fields["track"]) for e in events if e.type == "zone.approaching"}


EXPECTED = {(z, track(z, km)) for z in CENTRES for km in DISTANCES_KM if approaching_expected(z, km)}


def test_the_expectation_covers_both_directions():
    """The units tell a zone's own band from the policy's both ways."""
    assert ("wide", "wide-12km") in EXPECTED  # outside the policy's band, inside the zone's own
    assert ("narrow", "narrow-3km") not in EXPECTED  # inside the policy's band, outside the zone's own
    assert ("plain", "plain-3km") in EXPECTED and ("plain", "plain-12km") not in EXPECTED  # the policy's band


def test_a_zones_own_perimeter_decides_where_it_is_approached():
    engine = Engine(Policy(perimeter_m=POLICY_BAND_M), [Party("coalition"), Party("militia")])
    for zone in zones():
        engine.declare_zone(zone, T0)
    assert {z.id: engine.perimeter_m(z) for z in engine.zones.values()} == {"wide": 20_000, "narrow": 1_000,
                                                                       "plain": POLICY_BAND_M}
    t = T0 + timedelta(minutes=1)
    reports = [Report(t, track(z, km), "militia", *north_of(z, km)) for z in CENTRES for km in DISTANCES_KM]
    events = engine.report(t, reports)
    assert approaching(events) == EXPECTED
    assert not [e for e in events if e.type == "zone.entered"]


def test_a_unit_moving_from_the_policys_band_into_a_wider_own_band_and_on():
    """One unit coming in from 30 km towards the wide zone: approaching at 12 km (the zone's own band),
    not again at 3 km; the same unit towards the narrow zone: approaching only at 0.5 km."""
    engine = Engine(Policy(perimeter_m=POLICY_BAND_M), [Party("coalition"), Party("militia")])
    for zone in zones():
        engine.declare_zone(zone, T0)
    seen = []
    for step, km in enumerate((30, 12, 3, 0.5)):
        t = T0 + timedelta(minutes=step + 1)
        events = engine.report(t, [Report(t, f"{z}-unit", "militia", *north_of(z, km)) for z in ("wide", "narrow")])
        seen += [(km, e.fields["zone"]) for e in events if e.type == "zone.approaching"]
    assert seen == [(12, "wide"), (0.5, "narrow")]


def test_a_scenario_replay_honours_each_zones_own_perimeter():
    doc = {"scenario": 1, "start": "2017-06-06T00:00:00Z", "policy": {"perimeter_m": POLICY_BAND_M},
           "parties": [{"id": "coalition"}, {"id": "militia"}],
           "zones": [{"id": z, "parties": ["coalition"], "allowed": ["coalition"],
                      "geometry": {"type": "Point", "coordinates": list(CENTRES[z])}, "radius_m": RADIUS_M,
                      **({} if OWN_BANDS[z] is None else {"perimeter_m": OWN_BANDS[z]})} for z in CENTRES],
           "tracks": [{"t": "2017-06-06T00:01:00Z", "id": track(z, km), "party": "militia",
                       "lon": north_of(z, km)[0], "lat": north_of(z, km)[1]} for z in CENTRES for km in DISTANCES_KM]}
    assert approaching(replay(parse_scenario(doc))) == EXPECTED
