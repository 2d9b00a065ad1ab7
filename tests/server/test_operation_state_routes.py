"""Operations' states on the service's clock: events at their own times, for those told of the
operation only, the list agreeing with the events, and a restart and ``log verify`` reproducing them."""
from tests.server.world import at, dumps

FAR = [30.0, 20.0]


def plan(op_id: str, start: float, end: float, where=FAR) -> dict:
    return {"id": op_id, "volumes": [{"geometry": {"type": "Point", "coordinates": where}, "radius_m": 3000,
                                      "window": {"start": at(start), "end": at(end)}}]}


def states(world, party: str) -> dict:
    return {o["id"]: o.get("state") for o in world.get("/v1/operations", party)}


def changes(world, party: str) -> list[tuple]:
    return [(e["type"], e["operation"], e["t"]) for e in world.events(party)
            if e["type"] in ("operation.activated", "operation.ended")]


def test_the_list_and_the_events_agree_at_every_step_and_a_restart_keeps_them(make_world, store_url, capsys):
    from deconfliction.cli import main as cli
    world = make_world(store_url)
    assert world.post("/v1/operations", "militia", plan("convoy", 60, 120)).json()["recorded"]
    assert states(world, "militia") == {"convoy": "planned"}
    world.clock.set(60)
    assert states(world, "militia") == {"convoy": "planned"}  # not yet fired: the list says what the log says
    world.service.tick()
    assert changes(world, "militia") == [("operation.activated", "convoy", at(60))]
    assert states(world, "militia") == {"convoy": "active"}
    world.clock.set(200)  # the end (120) fires at its own time, whenever the clock looks
    world.service.tick()
    assert changes(world, "militia")[-1] == ("operation.ended", "convoy", at(120))
    assert states(world, "militia") == {"convoy": "ended"}
    assert "convoy" not in dumps(world.events("un")) + dumps(world.events("ocha"))
    before = {p: (world.events(p), world.get("/v1/operations", p)) for p in world.tokens}
    assert cli(["log", "verify", "--db", world.db, "--key", str(world.key_path)]) == 0, capsys.readouterr()
    again = world.reopen()
    try:
        assert {p: (again.events(p), again.get("/v1/operations", p)) for p in again.tokens} == before
    finally:
        again.close()


def test_an_amendment_reschedules_and_a_cancellation_stops_the_changes(world):
    assert world.post("/v1/operations", "militia", plan("convoy", 60, 120)).status_code == 201
    assert world.post("/v1/operations", "militia", plan("patrol", 30, 120, where=[31.0, 20.0])).status_code == 201
    world.clock.set(10)
    r = world.client.put("/v1/operations/convoy", json=plan("convoy", 90, 150),
                         headers=world.h("militia", **{"If-Match": "1"}))
    assert r.status_code == 200 and r.json()["events"][0]["state"] == "planned", r.text
    world.clock.set(40)
    world.service.tick()
    cancel = world.client.delete("/v1/operations/patrol", params={"reason": "called off"}, headers=world.h("militia"))
    assert cancel.status_code == 200
    world.clock.set(500)
    world.service.tick()
    assert changes(world, "militia") == [("operation.activated", "patrol", at(30)),
                                         ("operation.activated", "convoy", at(90)),
                                         ("operation.ended", "convoy", at(150))]
    assert states(world, "militia") == {"convoy": "ended", "patrol": "cancelled"}


def test_the_party_in_conflict_is_told_and_a_prober_is_not(world):
    world.declare_tanf()
    tanf_plan = plan("convoy", 60, 120, where=[38.63, 33.51])
    assert world.post("/v1/operations", "militia", tanf_plan).json()["conflicts"]
    world.clock.set(5)
    probe = world.post("/v1/operations?dry_run=true", "un", tanf_plan | {"id": "probe"})
    assert probe.json()["hidden_conflicts"] == 2
    world.clock.set(130)
    world.service.tick()
    for party in ("militia", "coalition", "russia"):  # russia agreed tanf and relayed the warning
        assert [c[0] for c in changes(world, party)] == ["operation.activated", "operation.ended"], party
    for party in ("un", "ocha"):
        assert changes(world, party) == [], party
