"""A zone's own warning band through the HTTP API, and again after a restart (the log replayed): a
zone declared with ``perimeter_m`` is approached within that distance of its edge, whatever the
policy's band; a zone without one takes the policy's."""
import dataclasses

from deconfliction.app.commands import policy_command
from tests.engine.test_zone_perimeter import (
    CENTRES, DISTANCES_KM, EXPECTED, OWN_BANDS, POLICY_BAND_M, RADIUS_M, north_of, track,
)
from tests.server.test_log_cli import verify
from tests.server.world import POLICY, World, at


def zone_spec(zone: str) -> dict:
    spec = {"id": zone, "kind": "restricted", "parties": ["coalition"], "allowed": ["coalition"],
            "geometry": {"type": "Point", "coordinates": list(CENTRES[zone])}, "radius_m": RADIUS_M}
    if OWN_BANDS[zone] is not None:
        spec["perimeter_m"] = OWN_BANDS[zone]
    return spec


def approaching(world: World, party: str) -> set[tuple[str, str]]:
    return {(e["zone"], e["track"]) for e in world.events(party) if e["type"] == "zone.approaching"}


def test_a_zones_own_perimeter_decides_where_it_is_approached_over_http_and_after_a_restart(store_url, tmp_path,
                                                                                            capsys):
    key_path = tmp_path / "k.key"
    world = World(store_url, key_path).add_parties()
    # the log's rules: a policy band of 5 km (as serve --policy writes them)
    world.service.ledger.execute(policy_command(dataclasses.replace(POLICY, perimeter_m=POLICY_BAND_M)),
                                 world.clock())
    for zone in CENTRES:
        r = world.post("/v1/zones", "coalition", zone_spec(zone))
        assert r.status_code == 201, r.text
    bands = {z["id"]: z["perimeter_m"] for z in world.get("/v1/zones", "coalition")}
    assert bands == {"wide": 20_000, "narrow": 1_000, "plain": POLICY_BAND_M}

    world.clock.set(1)
    reports = [{"t": at(1), "id": track(z, km), "lon": north_of(z, km)[0], "lat": north_of(z, km)[1]}
               for z in CENTRES for km in DISTANCES_KM]
    r = world.post("/v1/positions", "militia", reports)
    assert r.status_code == 202, r.text
    assert approaching(world, "coalition") == EXPECTED
    assert approaching(world, "militia") == EXPECTED
    assert ("wide", "wide-12km") in EXPECTED and ("narrow", "narrow-3km") not in EXPECTED
    views = world.all_views()

    again = world.reopen()  # the log replayed through a fresh engine: the same bands, the same events
    try:
        assert again.all_views() == views
        assert approaching(again, "coalition") == EXPECTED
        assert {z["id"]: z["perimeter_m"] for z in again.get("/v1/zones", "coalition")} == bands
        # a unit moving on after the restart: the bands of the replayed zones still hold
        again.clock.set(2)
        r = again.post("/v1/positions", "militia", [
            {"t": at(2), "id": track("narrow", 3), "lon": north_of("narrow", 0.5)[0], "lat": north_of("narrow", 0.5)[1]},
            {"t": at(2), "id": track("plain", 12), "lon": north_of("plain", 3)[0], "lat": north_of("plain", 3)[1]},
            {"t": at(2), "id": track("wide", 30), "lon": north_of("wide", 12)[0], "lat": north_of("wide", 12)[1]}])
        assert r.status_code == 202, r.text
        assert approaching(again, "coalition") - EXPECTED == {
            ("narrow", "narrow-3km"), ("plain", "plain-12km"), ("wide", "wide-30km")}
    finally:
        again.close()
    code, out = verify(capsys, "--db", store_url, "--key", str(key_path))
    assert code == 0 and "ok:" in out, out
