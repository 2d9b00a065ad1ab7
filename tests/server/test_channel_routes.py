"""Disowning and line changes over HTTP; reports dated in the future; default message ids."""
from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient

from deconfliction.server.app import create_app
from deconfliction.server.service import Service, Settings

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def world(tmp_path):
    service = Service(Settings(db=f"sqlite:///{tmp_path / 'w.db'}", key_path=tmp_path / "w.key"), clock=lambda: NOW)
    tokens = {p: service.add_party(p, channels=c) for p, c in
              (("coalition", ("russia",)), ("russia", ("militia",)), ("militia", ()), ("un", ()))}
    client = TestClient(create_app(service, run_clock=False))
    return service, client, {p: {"Authorization": f"Bearer {t}"} for p, t in tokens.items()}


def test_an_intermediary_disowns_and_the_sender_sees_it(tmp_path):
    service, client, h = world(tmp_path)
    sent = client.post("/v1/messages", json={"to": "militia", "kind": "warning", "text": "leave"}, headers=h["coalition"])
    message = sent.json()["message"]
    r = client.post(f"/v1/messages/{message}/disown", json={"reason": "not our forces"}, headers=h["russia"])
    assert r.status_code == 200 and r.json()["events"][0]["type"] == "message.disowned"
    seen = [e for e in client.get("/v1/events", headers=h["coalition"]).json() if e["type"] == "message.disowned"]
    assert seen and seen[0]["by"] == "russia" and seen[0]["reason"] == "not our forces"
    assert client.post(f"/v1/messages/{message}/disown", json={}, headers=h["russia"]).status_code == 422
    unknown = client.post("/v1/messages/nope/disown", json={"reason": "x"}, headers=h["russia"])
    assert unknown.status_code == 200 and unknown.json()["events"][0]["reason"] == "no such message"
    service.stop()


def test_a_party_suspends_its_line_and_messages_wait_until_it_resumes(tmp_path):
    service, client, h = world(tmp_path)
    r = client.post("/v1/channels", json={"between": ["coalition", "russia"], "state": "suspended"}, headers=h["russia"])
    assert r.status_code == 200 and r.json()["events"][0]["type"] == "channel.suspended"
    waiting = client.post("/v1/messages", json={"to": "militia", "kind": "advisory"}, headers=h["coalition"]).json()
    assert [e["type"] for e in waiting["events"]] == ["message.sent", "message.waiting"]
    resumed = client.post("/v1/channels", json={"between": ["russia", "coalition"], "state": "active"},
                          headers=h["coalition"]).json()
    assert [e["type"] for e in resumed["events"]] == ["channel.resumed", "message.relayed", "message.delivered"]
    outsider = client.post("/v1/channels", json={"between": ["coalition", "russia"], "state": "suspended"},
                           headers=h["un"])
    assert outsider.status_code == 403
    no_line = client.post("/v1/channels", json={"between": ["coalition", "militia"], "state": "suspended"},
                          headers=h["coalition"])
    assert no_line.status_code == 422 and no_line.json()["error"]["details"][0]["path"] == "between"
    service.stop()


def test_reports_dated_in_the_future_are_refused(tmp_path):
    service, client, h = world(tmp_path)
    ahead = (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fine = (NOW + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = client.post("/v1/positions", json=[{"t": fine, "id": "a", "lon": 38, "lat": 33},
                                           {"t": ahead, "id": "b", "lon": 38, "lat": 33}], headers=h["militia"])
    assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "[1].t"
    assert client.post("/v1/positions", json=[{"t": fine, "id": "a", "lon": 38, "lat": 33}],
                       headers=h["militia"]).status_code == 202
    service.stop()


def test_default_message_ids_never_collide_with_chosen_ones(tmp_path):
    service, client, h = world(tmp_path)
    assert client.post("/v1/messages", json={"id": "m2", "to": "russia", "kind": "note"}, headers=h["coalition"]).status_code == 201
    first = client.post("/v1/messages", json={"to": "russia", "kind": "note"}, headers=h["coalition"])
    second = client.post("/v1/messages", json={"to": "russia", "kind": "note"}, headers=h["coalition"])
    assert first.status_code == second.status_code == 201
    assert len({"m2", first.json()["message"], second.json()["message"]}) == 3
    service.stop()


def test_automatic_warnings_are_acknowledged_by_their_id_with_slashes(tmp_path):
    service, client, h = world(tmp_path)
    zone = {"id": "tanf", "parties": ["coalition"], "allowed": ["coalition"],
            "geometry": {"type": "Point", "coordinates": [38.6178, 33.5058]}, "radius_m": 55000}
    assert client.post("/v1/zones", json=zone, headers=h["coalition"]).status_code == 201
    t = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    client.post("/v1/positions", json=[{"t": t, "id": "convoy-1", "lon": 38.6178, "lat": 33.8}], headers=h["militia"])
    r = client.post("/v1/messages/tanf/convoy-1/1/ack", headers=h["militia"])
    assert r.status_code == 200 and r.json()["events"][0]["type"] == "message.acknowledged"
    assert client.post("/v1/messages/tanf/convoy-1/1/disown", json={"reason": "x"}, headers=h["un"]).json()[
        "events"][0]["type"] == "message.ack_rejected"
    service.stop()


def test_read_only_store_commands_refuse_a_missing_store(tmp_path, capsys):
    from deconfliction.cli import main
    missing = f"sqlite:///{tmp_path / 'typo.db'}"
    for args in (["party", "list"], ["log", "verify"], ["log", "export"]):
        assert main([*args, "--db", missing]) == 2
        assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "typo.db").exists() and not (tmp_path / "typo.key").exists()
    assert main(["log", "verify", "--export", str(tmp_path / "none.json"), "--public-key", str(tmp_path / "k")]) == 2
