"""GET /v1/units: own units always, another party's units only while they concern the caller."""
import re

from tests.server.world import INSIDE, OUTSIDE, T0, TANF, assert_error, at

FAR = (36.3, 35.1)
"""Near Hama: far from At Tanf and from every other unit of these tests."""


def _ids(world, party: str) -> list[str]:
    return [u["id"] for u in world.get("/v1/units", party)]


def test_own_units_with_latest_position_and_trail(world):
    world.report("un", "convoy", (36.30, 35.10), 1, speed_mps=12.5, course_deg=90)
    world.report("un", "convoy", (36.31, 35.10), 2, speed_mps=12.0, course_deg=91)
    [unit] = world.get("/v1/units", "un")
    assert unit["id"] == "convoy" and unit["party"] == "un" and unit["own"] is True
    assert (unit["lon"], unit["lat"], unit["t"]) == (36.31, 35.10, at(2))
    assert (unit["speed_mps"], unit["course_deg"]) == (12.0, 91)
    assert [(p["lon"], p["t"]) for p in unit["trail"]] == [(36.30, at(1)), (36.31, at(2))]


def test_trail_keeps_the_last_twenty_reports(world):
    for i in range(25):
        world.report("un", "convoy", (36.30 + i / 1000, 35.10), 1 + i)
    [unit] = world.get("/v1/units", "un")
    assert len(unit["trail"]) == 20
    assert unit["trail"][0]["t"] == at(6) and unit["trail"][-1]["t"] == at(25)


def test_a_unit_that_concerns_nobody_else_is_seen_by_its_party_only(world):
    world.declare_tanf()
    world.report("militia", "u1", OUTSIDE, 1)
    world.report("un", "convoy", FAR, 1)
    for party in ("coalition", "russia", "un", "ocha"):
        assert "u1" not in _ids(world, party), party
    assert _ids(world, "militia") == ["u1"]
    assert _ids(world, "coalition") == []


def test_a_unit_entering_a_zone_is_seen_by_the_zone_parties_from_then_on(world):
    world.declare_tanf()
    world.report("un", "convoy", FAR, 1)
    world.militia_enters_tanf(start=1)  # outside at 1, inside at 2
    for party in ("coalition", "russia"):
        [unit] = world.get("/v1/units", party)
        assert unit["id"] == "u1" and unit["party"] == "militia" and unit["own"] is False
        assert unit["concerns"] == {"zones": ["tanf"], "units": []}
        # the report made outside, before it concerned them, is not in the trail
        assert [(p["lon"], p["lat"]) for p in unit["trail"]] == [INSIDE]
    # the UN agreed no zone and has no unit near it: it sees only its own convoy
    assert _ids(world, "un") == ["convoy"]
    world.report("militia", "u1", (38.70, 33.52), 3)
    [unit] = world.get("/v1/units", "coalition")
    assert [p["t"] for p in unit["trail"]] == [at(2), at(3)]


def test_a_unit_that_left_the_zone_is_no_longer_shown(world):
    world.declare_tanf()
    world.militia_enters_tanf(start=1)
    world.report("militia", "u1", OUTSIDE, 3)
    assert "zone.exited" in [e["type"] for e in world.events("coalition")]
    assert _ids(world, "coalition") == []
    world.report("militia", "u1", INSIDE, 4)  # back in: shown again, from the new entry
    [unit] = world.get("/v1/units", "coalition")
    assert unit["t"] == at(4)


def test_units_near_each_other_are_seen_by_both_parties_and_nobody_else(world):
    world.report("coalition", "c1", (37.000, 34.000), 1, speed_mps=10, course_deg=90)
    world.report("militia", "m1", (37.020, 34.000), 1, speed_mps=10, course_deg=270)
    kinds = {e["type"] for e in world.events("coalition")}
    assert kinds & {"proximity.predicted", "separation.lost"}, kinds
    assert _ids(world, "coalition") == ["c1", "m1"]
    assert _ids(world, "militia") == ["c1", "m1"]
    [m1] = [u for u in world.get("/v1/units", "coalition") if u["id"] == "m1"]
    assert m1["concerns"] == {"zones": [], "units": ["c1"]}
    for party in ("russia", "un", "ocha"):
        assert _ids(world, party) == [], party
    # the encounter is over once the look-ahead and the encounter gap have passed
    world.clock.set(1 + (300 + 60) / 60 + 1)
    assert _ids(world, "coalition") == ["c1"]


def test_units_needs_a_token(world):
    assert_error(world.client.get("/v1/units"), 401, "unauthorized")
    assert_error(world.client.get("/v1/units", headers={"Authorization": "Bearer nope"}), 401, "invalid_token")


def test_units_survive_a_restart(world):
    world.declare_tanf()
    world.militia_enters_tanf(start=1)
    before = {p: world.get("/v1/units", p) for p in world.tokens}
    again = world.reopen()
    try:
        assert {p: again.get("/v1/units", p) for p in again.tokens} == before
    finally:
        again.close()


def test_health_tells_the_service_time(world):
    world.clock.set(30)
    body = world.client.get("/v1/health").json()
    assert body["status"] == "ok" and body["time"] == at(30)
    assert T0.year == 2017


def test_the_page_is_served_at_the_root(world):
    page = world.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "web/app.js" in page.text
    loaded = re.findall(r'(?:src|href)="(web/[^"]+)"', page.text)
    assert len(loaded) >= 8, loaded  # the page's scripts and styles, and the vendored libraries
    for path in [*loaded, "web/vendor/world-atlas/countries-50m.json", "web/vendor/leaflet/LICENSE"]:
        assert world.client.get("/" + path).status_code == 200, path
    assert world.client.get("/web/nope.js").status_code == 404


def test_me_names_the_caller(world):
    assert world.get("/v1/me", "russia") == {"party": "russia", "name": "Russia", "coordinator": False,
                                             "channels": ["coalition", "militia"]}
    assert world.get("/v1/me", "ocha")["coordinator"] is True
    assert_error(world.client.get("/v1/me"), 401, "unauthorized")


def test_a_zone_dry_run_counts_conflicts_with_hidden_plans_and_declares_nothing(world):
    plan = {"id": "m-op", "volumes": [{"geometry": {"type": "Point", "coordinates": [38.6, 33.5]},
                                       "radius_m": 3000, "window": {"start": at(60), "end": at(120)}}]}
    assert world.post("/v1/operations", "militia", plan).status_code == 201
    r = world.post("/v1/zones?dry_run=true", "coalition", {**TANF, "id": "tanf-2"})
    assert r.status_code == 200, r.text
    assert r.json() == {"zone": "tanf-2", "recorded": False, "conflicts": [], "hidden_conflicts": 1,
                        "owners_told": True}
    assert world.get("/v1/zones", "coalition") == []
    [told] = [e for e in world.events("militia") if e["type"] == "draft.conflict"]
    assert {k: told[k] for k in ("party", "by", "draft", "draft_kind", "item", "item_kind", "window")} == {
        "party": "militia", "by": "coalition", "draft": "tanf-2", "draft_kind": "zone", "item": "m-op",
        "item_kind": "operation", "window": {"start": at(60), "end": at(120)}}
    bad = world.post("/v1/zones?dry_run=true", "coalition", {**TANF, "radius_m": -1})
    assert_error(bad, 422, "invalid_scenario")["details"][0]["path"] == "radius_m"
