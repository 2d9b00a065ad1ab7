"""Dry runs under need-to-know: what a draft's check tells the party that sent it, who else is
told, the record it leaves, and the rate at which one party may make them. Hostile: a party with
nothing of its own probing with shrinking boxes, naming others, reusing their ids; every test ends
with a restart that must give every party the same views."""
from __future__ import annotations

import json

import pytest

from deconfliction.app.commands import draft_command
from deconfliction.app.ledger import Request
from tests.server.world import TANF, TANF_CENTRE, World, assert_error, at, dumps

WINDOW = {"start": at(60), "end": at(120)}
PLAN_PLACE = [37.0, 34.5]


def plan(op_id: str, where=PLAN_PLACE, radius_m=3000, window=WINDOW) -> dict:
    return {"id": op_id, "volumes": [{"geometry": {"type": "Point", "coordinates": list(where)},
                                      "radius_m": radius_m, "window": window}]}


def box(op_id: str, x0: float, y0: float, x1: float, y1: float, window=None) -> dict:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"id": op_id, "volumes": [{"geometry": {"type": "Polygon", "coordinates": [ring]},
                                      "window": window or {"start": at(0), "end": at(24 * 60)}}]}


@pytest.fixture
def secrets(world):
    """The coalition's zone (tanf), the coalition's and the militia's plans; the UN has nothing."""
    world.declare_tanf()
    assert world.post("/v1/operations", "coalition", plan("c-op")).status_code == 201
    assert world.post("/v1/operations", "militia", plan("m-op", where=[37.05, 34.5])).status_code == 201
    return world


SECRET_TEXTS = ("tanf", "c-op", "m-op", "coalition", "militia", "russia", at(60), at(120), "37.0", "38.63")


def restart_keeps_views(world: World) -> World:
    before = world.all_views()
    again = world.reopen()
    assert again.all_views() == before
    return again


def test_the_bisection_attack_learns_counts_and_nothing_else(secrets):
    """Half the world, then boxes shrinking onto the plans: each answer is a count, nothing more."""
    world = secrets
    boxes = [(-89, -80, 89, 80), (30, 30, 45, 40), (36, 34, 38, 35), (36.9, 34.4, 37.1, 34.6),
             (36.99, 34.49, 37.01, 34.51), (0, 0, 1, 1)]
    answers = []
    for k, b in enumerate(boxes):
        r = world.post("/v1/operations?dry_run=true", "un", box(f"probe-{k}", *b))
        assert r.status_code == 200, r.text
        answers.append(r.json())
        r = world.post("/v1/zones?dry_run=true", "un", {"id": f"zprobe-{k}", "kind": "deconfliction",
                                                         "parties": ["un"], "geometry": box("x", *b)["volumes"][0]["geometry"]})
        assert r.status_code == 200, r.text
        answers.append(r.json())
    counts = [a["hidden_conflicts"] for a in answers]
    assert counts[:2] == [3, 2] and counts[-2:] == [0, 0]  # half the world meets tanf and both plans
    for a in answers:
        assert a["conflicts"] == [] and a["owners_told"] is (a["hidden_conflicts"] > 0)
        assert set(a) <= {"operation", "zone", "recorded", "conflicts", "hidden_conflicts", "owners_told"}
        text = dumps(a)
        assert not [s for s in SECRET_TEXTS if s in text], text
    # nor do its views, and the owners were told who probed which of their items
    for route in ("/v1/zones", "/v1/operations", "/v1/units"):
        assert world.get(route, "un") == []
    un_events = world.events("un")
    assert {e["type"] for e in un_events} == {"draft.checked"}
    assert not [s for s in SECRET_TEXTS if s in dumps(un_events)]
    told = [e for e in world.events("coalition") if e["type"] == "draft.conflict"]
    assert {(e["by"], e["item"]) for e in told} == {("un", "tanf"), ("un", "c-op")}
    assert all(set(e) == {"seq", "t", "type", "log_seq", "party", "by", "draft", "draft_kind", "item",
                          "item_kind", "window"} for e in told)  # no geometry of the draft
    assert {e["item"] for e in world.events("militia") if e["type"] == "draft.conflict"} == {"m-op"}
    assert [e for e in world.events("russia") if e["type"] == "draft.conflict" and e["item"] == "tanf"]
    restart_keeps_views(world).close()


def test_a_party_cannot_make_another_partys_items_appear(secrets):
    world = secrets
    # in another party's name: refused, nothing checked
    assert_error(world.post("/v1/operations?dry_run=true", "un", {**plan("p"), "party": "coalition"}), 403)
    assert_error(world.post("/v1/zones?dry_run=true", "un", {**TANF, "id": "z"}), 403)
    # a zone draft naming the coalition among its parties, allowing everyone: still counts only
    zone = {**TANF, "id": "z", "parties": ["un", "coalition", "militia"], "allowed": ["un"],
            "geometry": {"type": "Point", "coordinates": PLAN_PLACE}, "radius_m": 50_000}
    a = world.post("/v1/zones?dry_run=true", "un", zone).json()
    assert a["conflicts"] == [] and a["hidden_conflicts"] == 2
    # the id of a hidden item as the draft's: the same answer as a fresh id
    fresh = world.post("/v1/operations?dry_run=true", "un", plan("fresh")).json()
    for hidden in ("tanf", "c-op", "m-op"):
        same = world.post("/v1/operations?dry_run=true", "un", plan(hidden)).json()
        assert {**same, "operation": "fresh"} == fresh
    # a message about a hidden item cannot be sent, so it cannot make it "told"
    r = world.post("/v1/messages", "un", {"to": "ocha", "kind": "info", "text": "x", "ref": "c-op"})
    assert r.status_code in (403, 404, 422)
    assert world.post("/v1/operations?dry_run=true", "un", plan("p")).json()["conflicts"] == []
    restart_keeps_views(world).close()


def test_the_caller_sees_in_full_what_it_may_see(secrets):
    world = secrets
    # the real declarations of c-op and m-op conflicted: each party was warned of the other's plan
    a = world.post("/v1/operations?dry_run=true", "coalition", plan("c-2")).json()
    assert [(c["other"], c["window"]) for c in a["conflicts"]] == [("m-op", WINDOW)]
    assert a["hidden_conflicts"] == 0 and a["owners_told"] is False
    zone = world.post("/v1/operations?dry_run=true", "russia", plan("r-op", where=TANF_CENTRE)).json()
    assert [c["other"] for c in zone["conflicts"]] == ["tanf"]  # russia is a party to tanf
    assert zone["hidden_conflicts"] == 0
    # nobody is told of a conflict its party may see in full
    assert not [e for p in ("militia", "coalition") for e in world.events(p) if e["type"] == "draft.conflict"]
    restart_keeps_views(world).close()


def test_a_real_declarations_answer_shows_only_what_the_log_shows_its_party(secrets):
    world = secrets
    r = world.post("/v1/operations", "un", plan("u-op", where=[37.02, 34.5]))
    assert r.status_code == 201, r.text
    events = {(e["operation"], e["other"], e["window"]["start"]) for e in world.events("un")
              if e["type"] == "plan.conflict"}
    assert {(c["operation"], c["other"], c["window"]["start"]) for c in r.json()["conflicts"]} == events
    assert "geometry" not in dumps(r.json())
    restart_keeps_views(world).close()


def test_a_duplicate_id_is_refused_alike_whoever_holds_it(secrets):
    """Ids are one namespace (the log, messages and warnings refer to items by id): a taken id is
    refused, and the refusal says no more than that: not whose, nor what kind, nor anything of it."""
    world = secrets
    own = world.post("/v1/operations", "un", plan("u-op"))
    assert own.status_code == 201
    bodies = {}
    for taken in ("u-op", "tanf", "c-op"):
        for route, body in (("/v1/operations", plan(taken)),
                            ("/v1/zones", {**TANF, "id": taken, "parties": ["un"], "allowed": []})):
            error = assert_error(world.post(route, "un", body), 409)
            bodies[(taken, route)] = json.dumps(error).replace(taken, "ID")
    assert len(set(bodies.values())) == 1, bodies
    restart_keeps_views(world).close()


@pytest.fixture
def backend_secrets(store_url, tmp_path):
    """The secrets world on each store (SQLite and PostgreSQL)."""
    w = World(store_url, tmp_path / "log.key").add_parties()
    w.declare_tanf()
    assert w.post("/v1/operations", "coalition", plan("c-op")).status_code == 201
    assert w.post("/v1/operations", "militia", plan("m-op", where=[37.05, 34.5])).status_code == 201
    yield w
    w.close()


def test_dry_runs_are_on_the_record_and_replay(backend_secrets, capsys):
    from deconfliction.cli import main as cli
    world = backend_secrets
    size = world.size()
    world.post("/v1/operations?dry_run=true", "un", plan("probe"))
    assert world.size() == size + 4  # the command, draft.checked, and draft.conflict for each owner
    [checked] = [e for e in world.events("un") if e["type"] == "draft.checked"]
    assert {k: checked[k] for k in ("party", "draft", "draft_kind", "conflicts", "hidden")} == {
        "party": "un", "draft": "probe", "draft_kind": "operation", "conflicts": 0, "hidden": 2}
    assert cli(["log", "verify", "--db", world.db, "--key", str(world.key_path)]) == 0, capsys.readouterr()
    restart_keeps_views(world).close()


def test_the_rate_limit_holds_per_party(make_world):
    world = make_world(dry_runs_per_minute=3)
    for k in range(3):
        assert world.post("/v1/operations?dry_run=true", "un", plan(f"p{k}")).status_code == 200
    size = world.size()
    r = world.post("/v1/operations?dry_run=true", "un", plan("p3"))
    error = assert_error(r, 429, "rate_limited")
    assert r.headers["Retry-After"] == "60" and error["details"][0]["path"] == "dry_run"
    assert_error(world.post("/v1/zones?dry_run=true", "un", {**TANF, "id": "z", "parties": ["un"]}), 429)
    assert world.size() == size  # a refused dry run leaves nothing
    # the others are not held back
    for party in ("coalition", "militia", "russia", "ocha"):
        assert world.post("/v1/operations?dry_run=true", party, plan(f"{party}-p")).status_code == 200
    # real declarations are not limited
    assert world.post("/v1/operations", "un", plan("real")).status_code == 201
    world.clock.advance(seconds=30)
    assert world.post("/v1/operations?dry_run=true", "un", plan("p3")).headers["Retry-After"] == "30"
    world.clock.advance(seconds=30.5)
    assert world.post("/v1/operations?dry_run=true", "un", plan("p3")).status_code == 200
    # a retry with the same Idempotency-Key gets its first answer and is not counted again
    first = world.post("/v1/operations?dry_run=true", "un", plan("p4"), key="k1")
    assert first.status_code == 200
    for _ in range(5):
        again = world.post("/v1/operations?dry_run=true", "un", plan("p4"), key="k1")
        assert again.status_code == 200 and again.json() == first.json()
    assert world.post("/v1/operations?dry_run=true", "un", plan("p5")).status_code == 200  # the third this minute
    restart_keeps_views(world).close()
    # the count is the log's: a restart does not start it again
    again = World(world.db, world.key_path, world.clock, world.tokens, dry_runs_per_minute=3)
    try:
        assert_error(again.post("/v1/operations?dry_run=true", "un", plan("p6")), 429, "rate_limited")
    finally:
        again.close()


def test_the_rate_limit_holds_across_processes_serving_one_log(make_world):
    """Two services on one SQLite store (the writers take the store's lock and catch up on each
    other's entries): together they allow the party its limit, not the limit each."""
    first = make_world(dry_runs_per_minute=3)
    second = World(first.db, first.key_path, first.clock, first.tokens, dry_runs_per_minute=3)
    try:
        assert first.post("/v1/operations?dry_run=true", "un", plan("p0")).status_code == 200
        assert second.post("/v1/operations?dry_run=true", "un", plan("p1")).status_code == 200
        assert first.post("/v1/operations?dry_run=true", "un", plan("p2")).status_code == 200
        size = first.service.store.entries()[-1].seq
        for world in (second, first):
            r = world.post("/v1/operations?dry_run=true", "un", plan("p3"))
            assert_error(r, 429, "rate_limited")
        assert first.service.store.entries()[-1].seq == size
        # another party's dry runs through either are not held back
        assert second.post("/v1/operations?dry_run=true", "coalition", plan("c0")).status_code == 200
        first.clock.advance(seconds=61)
        assert second.post("/v1/operations?dry_run=true", "un", plan("p3")).status_code == 200
    finally:
        second.close()


def test_the_writer_refuses_a_dry_run_beyond_the_limit_that_the_first_look_let_through(make_world):
    """The limit is checked where the command is written, after catching up with the log: dry runs
    that all passed the first look (made at once, or through another process meanwhile) are
    refused there once the log has the limit's worth."""
    world = make_world(dry_runs_per_minute=2)
    command = draft_command("un", "operation", plan("p"), 0, 0, [], limit=2)
    outcomes = world.service.ledger.execute_many([Request(command, world.clock()) for _ in range(3)])
    assert [type(o).__name__ for o in outcomes] == ["tuple", "tuple", "RateLimited"]
    assert outcomes[2].retry_after_s == 60


def test_the_limit_is_a_setting_with_a_default():
    from deconfliction.server.service import Settings
    assert Settings().dry_runs_per_minute == 30


def test_a_zone_dry_run_finds_what_declaring_the_zone_finds(secrets):
    world = secrets
    zone = {"id": "un-z", "kind": "deconfliction", "parties": ["un"], "allowed": ["un"],
            "geometry": {"type": "Point", "coordinates": PLAN_PLACE}, "radius_m": 50_000}
    dry = world.post("/v1/zones?dry_run=true", "un", zone).json()
    real = world.post("/v1/zones", "un", zone).json()
    assert dry["hidden_conflicts"] + len(dry["conflicts"]) == len(real["conflicts"]) == 2
    restart_keeps_views(world).close()
