"""Operations declared together: an array sent to POST /v1/operations, all or none, errors naming
the item; retries with Idempotency-Key; a restart after each, on SQLite and PostgreSQL. And the
quick check of operation items, held to the full schema's answers."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deconfliction.formats.scenario as scenario
from deconfliction.app.commands import parse_items
from deconfliction.engine.core import Engine
from deconfliction.engine.model import Party
from deconfliction.errors import ScenarioError
from tests.server.world import POLICY, TANF_CENTRE, World, assert_error, at

WINDOW = {"start": at(60), "end": at(120)}


def plan(op_id: str, where=(37.0, 34.5), radius_m=3000, **extra) -> dict:
    return {"id": op_id, "volumes": [{"geometry": {"type": "Point", "coordinates": list(where)},
                                      "radius_m": radius_m, "window": WINDOW}], **extra}


@pytest.fixture
def backend_world(store_url, tmp_path):
    w = World(store_url, tmp_path / "log.key").add_parties()
    yield w
    w.close()


def restart(world: World) -> World:
    before = {p: (world.events(p), world.get("/v1/operations", p)) for p in world.tokens}
    again = world.reopen()
    assert {p: (again.events(p), again.get("/v1/operations", p)) for p in again.tokens} == before
    return again


def test_an_array_is_declared_whole_with_each_items_conflicts(backend_world):
    world = backend_world
    world.declare_tanf()
    assert world.post("/v1/operations", "coalition", plan("c-op")).status_code == 201
    size = world.size()
    r = world.post("/v1/operations", "militia", [plan("m-1"), plan("m-2", where=TANF_CENTRE, radius_m=1000),
                                                 plan("m-3", where=(30.0, 30.0))])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["recorded"] is True and [o["operation"] for o in body["operations"]] == ["m-1", "m-2", "m-3"]
    conflicts = {o["operation"]: [(c["other"], c["type"]) for c in o["conflicts"]] for o in body["operations"]}
    assert conflicts == {"m-1": [("c-op", "plan.conflict")], "m-2": [("tanf", "plan.conflict")], "m-3": []}
    assert {o["id"] for o in world.get("/v1/operations", "militia") if "volumes" in o} == {"m-1", "m-2", "m-3"}
    assert world.size() > size
    world = restart(world)
    # the answers' conflicts are what the log shows the militia
    logged = {(e["operation"], e["other"]) for e in world.events("militia") if e["type"] == "plan.conflict"}
    assert logged == {("m-1", "c-op"), ("m-2", "tanf")}
    world.close()


@pytest.mark.parametrize("bad, status, path", [
    ({"radius_m": -5}, 422, "[1].volumes[0].radius_m"),
    ({"radius": 5}, 422, "[1].volumes[0].radius"),
    ({"party": "coalition"}, 403, "[1].party"),
    ({"id": "m-0"}, 422, "[1].id"),
])
def test_a_bad_item_is_named_and_nothing_is_written(world, bad, status, path):
    size, views = world.size(), world.all_views()
    items = [plan("m-0"), plan("m-1"), plan("m-2")]
    if "party" in bad or "id" in bad:
        items[1] |= bad
    else:
        items[1]["volumes"][0] |= bad
    error = assert_error(world.post("/v1/operations", "militia", items), status)
    assert [d["path"] for d in error["details"]] == [path], error
    assert world.size() == size and world.all_views() == views
    restart(world).close()


def test_an_id_already_taken_refuses_the_whole_array(world):
    world.declare_tanf()
    size = world.size()
    r = world.post("/v1/operations", "militia", [plan("m-0"), plan("tanf")])
    assert_error(r, 409)
    assert world.size() == size and world.get("/v1/operations", "militia") == []
    assert_error(world.post("/v1/operations", "militia", []), 422)
    assert_error(world.post("/v1/operations", "militia", [plan("a"), 5]), 422)["details"][0]["path"] == "[1]"
    restart(world).close()


def test_an_array_with_an_idempotency_key(world):
    items = [plan("m-0"), plan("m-1")]
    first = world.post("/v1/operations", "militia", items, key="batch-1")
    assert first.status_code == 201
    size = world.size()
    again = world.post("/v1/operations", "militia", items, key="batch-1")
    assert again.status_code == 201 and again.json() == first.json() and world.size() == size
    assert_error(world.post("/v1/operations", "militia", items[:1], key="batch-1"), 422, "idempotency_key_reused")
    world = restart(world)
    after = world.post("/v1/operations", "militia", items, key="batch-1")
    assert after.status_code == 201 and after.json() == first.json()
    world.close()


def test_a_dry_run_takes_one_operation(world):
    assert_error(world.post("/v1/operations?dry_run=true", "militia", [plan("m-0")]), 422)


# -- the quick check of operation items against the full schema ------------------------------------------
ODD = st.sampled_from([None, True, False, 1, -1.5, 2 ** 70, "x", "", " ", "a b", "a\x1cb", "a\n", "\u2028", "x" * 201,
                       [], {}, [1, 2], {"a": 1}, float("nan"), float("inf"), 5.0, "Circle"])


PARTS = ["type", "coordinates", "geometry", "radius_m", "width_m", "altitude", "lower_m", "upper_m", "reference",
         "window", "start", "end", "volume", "id", "party", "volumes", "priority", "name", "item"]


@st.composite
def operation_item(draw):
    """An operation item, well formed but for at most one part (or one key added or left out)."""
    odd = draw(st.sampled_from([None, "extra", "missing"] + PARTS))

    def maybe(part, value):
        return draw(ODD) if part == odd else value

    geometry = {"type": maybe("type", draw(st.sampled_from(["Point", "LineString", "Polygon", "MultiPolygon"]))),
                "coordinates": maybe("coordinates", [draw(st.floats(30, 40)), draw(st.floats(30, 40))])}
    volume = {"geometry": maybe("geometry", geometry)}
    for key in ("radius_m", "width_m"):
        if draw(st.booleans()) or odd == key:
            (volume if draw(st.booleans()) else geometry)[key] = maybe(key, draw(st.floats(-10, 5000)))
    if draw(st.booleans()) or odd in ("altitude", "lower_m", "upper_m", "reference"):
        volume["altitude"] = maybe("altitude", {k: maybe(k, v) for k, v in
                                                (("lower_m", 0), ("upper_m", 100), ("reference", "AGL"))
                                                if draw(st.booleans()) or odd == k})
    if draw(st.booleans()) or odd in ("window", "start", "end"):
        volume["window"] = maybe("window", {k: maybe(k, v) for k, v in (("start", at(0)), ("end", at(60)))
                                            if draw(st.booleans()) or odd == k})
    op = {"id": maybe("id", draw(st.sampled_from(["op", "a/b", "é", "x" * 200]))), "party": "un",
          "volumes": maybe("volumes", [maybe("volume", volume)] * draw(st.integers(1, 2)))}
    op["party"] = maybe("party", "un")
    if draw(st.booleans()) or odd == "priority":
        op["priority"] = maybe("priority", draw(st.integers(-5, 5)))
    if draw(st.booleans()) or odd == "name":
        op["name"] = maybe("name", "Convoy")
    if odd == "extra":
        where = draw(st.sampled_from([op, volume, geometry, volume.get("altitude"), volume.get("window")]))
        if where is not None:
            where[draw(st.sampled_from(["extra", "radius", "parties"]))] = 1
    if odd == "missing":
        del op[draw(st.sampled_from(["id", "party", "volumes"]))]
    return maybe("item", op)


def _answer(items):
    engine = Engine(POLICY, [Party("un")])
    try:
        ops = parse_items(engine, "operations", items, whole=True).operations
        return "ok", [(o.id, o.party, o.priority, repr(o.volumes)) for o in ops]
    except ScenarioError as exc:
        return "error", [(p.path, p.reason) for p in exc.problems]
    except Exception as exc:  # noqa: BLE001 - a crash must be the same crash either way (and fails below)
        return "crash", repr(exc)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(items=st.lists(operation_item(), min_size=1, max_size=4))
def test_the_quick_check_answers_as_the_full_schema(items, monkeypatch):
    quick = _answer(items)
    with monkeypatch.context() as m:
        m.setattr(scenario, "QUICK_OPERATIONS", False)
        full = _answer(items)
    assert quick == full
    assert quick[0] != "crash", quick
    for item in items:  # and it accepts only what the schema accepts
        if scenario._plain_operation(item):
            assert not list(scenario._VALIDATOR.iter_errors({"scenario": 1, "start": at(0), "operations": [item]}))
