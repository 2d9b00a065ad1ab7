"""The signed log as users check it: head, inclusion proofs, restarts on both stores, and the log CLI."""
import json
from pathlib import Path
import sqlite3

import pytest

from deconfliction.cli import main
from deconfliction.log.chain import make_entry
from deconfliction.log.merkle import verify_inclusion
from deconfliction.log.signing import TreeHead, unb64, verify_head
from tests.server.world import INSIDE, OUTSIDE, TANF_CENTRE, World, at


def busy(world: World) -> World:
    """A sequence of writes of every kind, including a fired deadline."""
    world.declare_tanf()
    world.militia_enters_tanf(start=1)
    world.clock.set(3)
    world.post("/v1/messages", "coalition", {"id": "m-c", "to": "militia", "kind": "warning", "text": "leave"})
    world.post("/v1/messages/m-c/ack", "militia", key="ack-1")
    world.post("/v1/messages/m-c/ack", "un")
    world.clock.set(4)
    world.post("/v1/operations", "militia", {"id": "m-op", "volumes": [{
        "geometry": {"type": "Point", "coordinates": TANF_CENTRE}, "radius_m": 2000,
        "window": {"start": at(60), "end": at(120)}}]})
    world.post("/v1/incidents", "russia", {"id": "i-1", "kind": "strike",
                                           "geometry": {"type": "Point", "coordinates": TANF_CENTRE}})
    world.clock.set(20)
    assert world.service.tick()  # the warning about u1 escalates
    world.report("militia", "u1", OUTSIDE, 21)
    return world


# -- head and proofs --------------------------------------------------------------------------------
def test_the_signed_head_verifies_with_its_public_key(world):
    busy(world)
    head = world.head()
    assert head["size"] == world.client.get("/v1/health").json()["entries"]
    th = TreeHead.from_json(head)
    assert verify_head(th, head["public_key"])
    assert head["public_key"] == world.service.key.public_pem()
    forged = TreeHead(th.size + 1, th.root, th.time, th.signature)
    assert not verify_head(forged, head["public_key"])


def test_every_entry_has_an_inclusion_proof_against_the_head(world):
    busy(world)
    head = world.head()
    root = unb64(head["root"])
    for seq in range(1, head["size"] + 1):
        p = world.client.get(f"/v1/log/proof/{seq}").json()
        assert (p["seq"], p["size"]) == (seq, head["size"])
        assert p["root"] == head["root"]
        leaf, proof = unb64(p["leaf"]), [unb64(x) for x in p["proof"]]
        assert verify_inclusion(leaf, seq - 1, head["size"], proof, root), seq
        if head["size"] > 1:
            assert not verify_inclusion(leaf, seq % head["size"], head["size"], proof, root), seq
    # the leaf is the hash of that stored entry
    entry = world.service.store.entries()[4]
    assert unb64(world.client.get("/v1/log/proof/5").json()["leaf"]) == entry.leaf()


def test_a_proof_against_an_older_size(world):
    busy(world)
    size = world.size()
    p = world.client.get(f"/v1/log/proof/2?size={size - 3}").json()
    assert p["size"] == size - 3
    assert verify_inclusion(unb64(p["leaf"]), 1, size - 3, [unb64(x) for x in p["proof"]], unb64(p["root"]))


@pytest.mark.parametrize("seq", ["0", "99999", "-1", "abc"])
def test_a_proof_of_no_entry_is_a_4xx_error(world, seq):
    r = world.client.get(f"/v1/log/proof/{seq}")
    assert 400 <= r.status_code < 500
    assert set(r.json()) == {"error"}


# -- restart ----------------------------------------------------------------------------------------
def test_report_batches_stay_in_the_store_not_in_the_services_memory(world):
    """A batch is logged as sent, beside its command; the service keeps only the command in memory
    and reads the batch back when it needs it (the trails of GET /v1/units)."""
    world.declare_tanf()
    world.militia_enters_tanf(start=1)
    ledger = world.service.ledger
    commands = [e for e in ledger.entries if e.kind == "command" and e.body["type"] == "positions"]
    assert len(commands) == 2 and all(e.payload is None for e in commands)
    sent = [json.loads(ledger.payload(e)) for e in commands]
    assert [r["id"] for batch in sent for r in batch] == ["u1", "u1"] and "party" not in sent[0][0]
    [unit] = world.get("/v1/units", "militia")
    assert unit["id"] == "u1" and [(p["lon"], p["lat"]) for p in unit["trail"]] == [OUTSIDE, INSIDE]


def test_a_restart_that_reads_the_log_in_small_pages_rebuilds_the_same_state(world, monkeypatch):
    from deconfliction.app import ledger
    busy(world)
    views, head, units = world.all_views(), world.head(), world.get("/v1/units", "militia")
    monkeypatch.setattr(ledger, "REBUILD_PAGE", 2)  # pages end inside commands' runs of events
    again = world.reopen()
    try:
        assert again.all_views() == views
        assert (again.head()["size"], again.head()["root"]) == (head["size"], head["root"])
        assert again.get("/v1/units", "militia") == units and units
    finally:
        again.close()


def test_a_restart_rebuilds_the_same_views_and_head(store_url, tmp_path, capsys):
    first = busy(World(store_url, tmp_path / "k.key").add_parties())
    views, head = first.all_views(), first.head()
    zones = {p: first.get("/v1/zones", p) for p in first.tokens}
    second = first.reopen()
    try:
        assert second.all_views() == views
        assert {p: second.get("/v1/zones", p) for p in second.tokens} == zones
        again = second.head()
        assert again["root"] == head["root"] and again["size"] == head["size"]
        assert again["public_key"] == head["public_key"]
        assert verify_head(TreeHead.from_json(again), again["public_key"])
        # and it goes on from there
        second.report("militia", "u1", INSIDE, 22)
        assert second.size() > head["size"]
        assert "zone.entered" in [e["type"] for e in second.events("militia", after=views["militia"][-1]["seq"])]
    finally:
        second.close()
    assert main(["log", "verify", "--db", store_url, "--key", str(tmp_path / "k.key")]) == 0
    assert "ok:" in capsys.readouterr().out


# -- the log CLI ------------------------------------------------------------------------------------
@pytest.fixture
def logged(world):
    """A busy log on SQLite; returns (db URL, file path, number of entries). The service is stopped."""
    busy(world)
    size = world.size()
    world.close()
    return world.db, world.db.removeprefix("sqlite:///"), size


def verify(capsys, *args) -> tuple[int, str]:
    code = main(["log", "verify", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_log_verify_says_ok(logged, capsys):
    db, _, size = logged
    code, out = verify(capsys, "--db", db)
    assert code == 0, out
    assert "ok" in out and str(size) in out


@pytest.mark.parametrize("k", [1, 5, -1])
def test_log_verify_names_an_entry_whose_body_was_changed(logged, capsys, k):
    db, path, size = logged
    k = size if k == -1 else k
    with sqlite3.connect(path) as con:
        [(body,)] = con.execute("SELECT body FROM entries WHERE seq = ?", (k,)).fetchall()
        changed = json.loads(body)
        changed["tampered"] = True
        con.execute("UPDATE entries SET body = ? WHERE seq = ?", (json.dumps(changed, sort_keys=True), k))
    code, out = verify(capsys, "--db", db)
    assert code == 1, out
    assert f"entry {k}" in out and "ok:" not in out


def positions_entry(path: str) -> tuple[int, bytes]:
    """The first positions command of a log file: its seq and its payload (the request body as sent)."""
    with sqlite3.connect(path) as con:
        return next((seq, payload) for seq, body, payload in
                    con.execute("SELECT seq, body, payload FROM entries ORDER BY seq")
                    if json.loads(body)["type"] == "positions")


@pytest.mark.parametrize("change, problem", [
    (lambda p: p.replace(b'"lon"', b'"lon" ', 1), "its payload does not match the digest in its body"),
    (lambda p: None, "its payload is missing"),
])
def test_log_verify_names_an_entry_whose_reports_were_changed_or_removed(logged, capsys, change, problem):
    """A batch of reports is stored beside its command, which holds the batch's SHA-256: a changed
    byte, or a batch gone, names the command's entry."""
    db, path, _ = logged
    seq, payload = positions_entry(path)
    assert b'"id":"u1"' in payload.replace(b" ", b"")  # the body as the party sent it
    with sqlite3.connect(path) as con:
        con.execute("UPDATE entries SET payload = ? WHERE seq = ?", (change(payload), seq))
    code, out = verify(capsys, "--db", db)
    assert code == 1, out
    assert f"entry {seq}: was changed: {problem}" in out and "ok:" not in out


def test_log_verify_names_a_deleted_entry_as_missing(logged, capsys):
    db, path, size = logged
    k = size // 2
    with sqlite3.connect(path) as con:
        con.execute("DELETE FROM entries WHERE seq = ?", (k,))
    code, out = verify(capsys, "--db", db)
    assert code == 1, out
    assert f"entry {k}" in out and "missing" in out


def test_log_verify_catches_a_rewritten_chain_by_the_signed_heads(logged, capsys):
    """An entry changed and every later hash recomputed: the chain holds, the signed heads do not."""
    db, path, _size = logged
    k = 3
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT seq, t, kind, body, prev FROM entries ORDER BY seq").fetchall()
        prev = con.execute("SELECT hash FROM entries WHERE seq = ?", (k - 1,)).fetchone()[0]
        for seq, t, kind, body, _ in rows[k - 1:]:
            body = json.loads(body)
            if seq == k:
                body["tampered"] = True
            e = make_entry(seq, t, kind, body, prev)
            con.execute("UPDATE entries SET body = ?, prev = ?, hash = ? WHERE seq = ?",
                        (json.dumps(body, sort_keys=True), e.prev, e.hash, seq))
            prev = e.hash
    code, out = verify(capsys, "--db", db)
    assert code == 1, out
    assert "head" in out


def test_log_export_then_verify_with_the_public_key(logged, capsys, tmp_path):
    db, _, size = logged
    exported, pem = tmp_path / "log.json", tmp_path / "public.pem"
    assert main(["log", "export", "--db", db, "-o", str(exported)]) == 0
    capsys.readouterr()
    doc = json.loads(exported.read_text())
    assert len(doc["entries"]) == size
    pem.write_text(doc["public_key"])
    code, out = verify(capsys, "--export", str(exported), "--public-key", str(pem))
    assert code == 0, out
    assert "ok" in out
    for key in (pem, Path(db.removeprefix("sqlite:///")).with_suffix(".key")):  # --key: the public key, or the signing key
        code, out = verify(capsys, "--export", str(exported), "--key", str(key))
        assert code == 0 and "ok" in out, out

    # the reports of a positions command travel with it, as the text that was sent
    seq, payload = positions_entry(db.removeprefix("sqlite:///"))
    entry = doc["entries"][seq - 1]
    assert entry["payload"] == payload.decode() and "body" not in entry["body"]

    # an edited export fails
    for edit, named in ((lambda d: d["entries"][3]["body"].__setitem__("tampered", True), 4),
                        (lambda d: d["entries"][seq - 1].__setitem__("payload", payload.decode().replace("u1", "u9")), seq)):
        edited = json.loads(json.dumps(doc))
        edit(edited)
        exported.write_text(json.dumps(edited))
        code, out = verify(capsys, "--export", str(exported), "--public-key", str(pem))
        assert code == 1, out
        assert f"entry {named}" in out


def test_an_export_does_not_verify_with_another_key(logged, capsys, tmp_path):
    from deconfliction.log.signing import SigningKey
    db, _, _ = logged
    exported, pem = tmp_path / "log.json", tmp_path / "other.pem"
    assert main(["log", "export", "--db", db, "-o", str(exported)]) == 0
    pem.write_text(SigningKey.generate().public_pem())
    code, out = verify(capsys, "--export", str(exported), "--public-key", str(pem))
    assert code == 1, out
    assert "does not verify" in out


def test_an_export_with_a_dropped_tail_is_not_ok(logged, capsys, tmp_path):
    db, _, _ = logged
    exported = tmp_path / "log.json"
    assert main(["log", "export", "--db", db, "-o", str(exported)]) == 0
    capsys.readouterr()
    doc = json.loads(exported.read_text())
    pem = tmp_path / "public.pem"
    pem.write_text(doc["public_key"])
    doc["entries"] = doc["entries"][:-2]
    exported.write_text(json.dumps(doc))
    code, out = verify(capsys, "--export", str(exported), "--public-key", str(pem))
    assert code == 1, out


def test_log_verify_with_a_missing_key_file_does_not_create_one(logged, capsys, tmp_path):
    """BUG: ``log verify --db URL --key PATH`` calls SigningKey.load_or_create(): when PATH does not
    exist, verifying writes a brand-new private key there and then reports every signed head as not
    verifying. Verifying must never create a key; a missing key should be a clear error."""
    db, _, _ = logged
    key = tmp_path / "no-such.key"
    code, _out = verify(capsys, "--db", db, "--key", str(key))
    assert not key.exists()
    assert code != 0


def test_consistency_proof_between_two_heads_verifies(tmp_path):
    import base64

    from fastapi.testclient import TestClient

    from deconfliction.log.merkle import verify_consistency
    from deconfliction.server.app import create_app
    from deconfliction.server.service import Service, Settings

    service = Service(Settings(db=f"sqlite:///{tmp_path / 'c.db'}", key_path=tmp_path / "c.key"))
    client = TestClient(create_app(service, run_clock=False))
    service.add_party("a")
    old = client.get("/v1/log/head").json()
    for k in range(5):
        service.add_party(f"p{k}")
    new = client.get("/v1/log/head").json()
    proof = client.get("/v1/log/consistency", params={"from": old["size"], "to": new["size"]}).json()
    raw = [base64.b64decode(p) for p in proof["proof"]]
    assert verify_consistency(old["size"], new["size"], base64.b64decode(old["root"]), base64.b64decode(new["root"]), raw)
    assert client.get("/v1/log/consistency", params={"from": 99}).status_code == 404
    service.stop()


def test_an_export_whose_events_do_not_follow_from_its_commands_is_refused(tmp_path):
    """Even with a valid chain and correctly signed heads, events must be what the commands produce."""
    from deconfliction.log.chain import GENESIS, Entry, make_entry, tree_of
    from deconfliction.log.signing import SigningKey, TreeHead
    from deconfliction.server.service import Service, Settings
    from deconfliction.service_cli import check_export, export_log

    service = Service(Settings(db=f"sqlite:///{tmp_path / 'r.db'}", key_path=tmp_path / "r.key"))
    service.add_party("coalition", channels=("un",))
    service.add_party("un")
    doc = export_log(service.store, service.key.public_pem())
    assert check_export(doc, service.key.public_pem()) == []
    # forge: an extra event no command produced, re-chained and re-signed with the service's own key
    entries = [Entry.from_json(e) for e in doc["entries"]]
    body = {**entries[-1].body, "type": "message.acknowledged"} if entries[-1].kind == "event" else {"type": "x", "seq": 99}
    forged, prev = [], GENESIS
    for e in entries + [Entry(len(entries) + 1, entries[-1].t, "event", body, "", "")]:
        forged.append(make_entry(e.seq, e.t, e.kind, e.body, prev))
        prev = forged[-1].hash
    key = SigningKey.load(tmp_path / "r.key")
    head = key.sign(TreeHead(len(forged), tree_of(forged).root(), "2026-01-01T00:00:00Z"))
    doc = {**doc, "entries": [e.to_json() for e in forged], "heads": [head.to_json()], "consistency": []}
    problems = check_export(doc, service.key.public_pem())
    assert problems and "replaying the commands" in problems[0]
    service.stop()
