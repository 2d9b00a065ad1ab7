"""Another party's plan is visible only where it conflicts with one's own, and then only the conflict."""
from fastapi.testclient import TestClient

from deconfliction.server.app import create_app
from deconfliction.server.service import Service, Settings


def volume(lon):
    return {"geometry": {"type": "Point", "coordinates": [lon, 33.4]}, "radius_m": 3000,
            "altitude": {"lower_m": 0, "upper_m": 50},
            "window": {"start": "2017-06-06T06:00:00Z", "end": "2017-06-06T09:00:00Z"}}


def test_conflicting_plans_show_only_what_the_conflict_needs(tmp_path):
    service = Service(Settings(db=f"sqlite:///{tmp_path / 'o.db'}", key_path=tmp_path / "o.key"))
    tokens = {p: service.add_party(p) for p in ("coalition", "un", "russia")}
    client = TestClient(create_app(service, run_clock=False))

    def post(party, body):
        return client.post("/v1/operations", json=body, headers={"Authorization": f"Bearer {tokens[party]}"})

    def view(party):
        return client.get("/v1/operations", headers={"Authorization": f"Bearer {tokens[party]}"}).json()

    assert post("coalition", {"id": "patrol", "volumes": [volume(38.70)]}).status_code == 201
    answer = post("un", {"id": "convoy", "volumes": [volume(38.72)]}).json()
    assert [c["other"] for c in answer["conflicts"]] == ["patrol"]
    assert post("russia", {"id": "far", "volumes": [volume(40.0)]}).status_code == 201

    un = {o["id"]: o for o in view("un")}
    assert set(un) == {"convoy", "patrol"}
    assert un["patrol"] == {"id": "patrol", "party": "coalition", "conflicts_with": ["convoy"],
                            "window": {"start": "2017-06-06T06:00:00Z", "end": "2017-06-06T09:00:00Z"}}
    assert "volumes" not in un["patrol"]  # not where the patrol goes, only that and when it conflicts
    assert {o["id"] for o in view("russia")} == {"far"}
    service.stop()
