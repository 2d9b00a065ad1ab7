"""A log that was tampered with never verifies and never gets served: ``log verify`` (of a store, on
SQLite and PostgreSQL, and of an export), ``serve`` and the ledger's opening name the same first
problem, by entry or by signed head, never with a traceback. (An untampered log: test_log_opening.)"""
import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from deconfliction.app.ledger import LedgerError
from deconfliction.cli import main
from deconfliction.engine.events import format_time
from deconfliction.log.chain import GENESIS, make_entry, tree_of
from deconfliction.log.signing import SigningKey, TreeHead
from deconfliction.log.store import open_store
from deconfliction.server.service import Service, Settings
from deconfliction.service_cli import export_log
from tests.server.test_log_cli import busy
from tests.server.world import World


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A busy log as the service wrote it (entries with their payloads, a head per write) and its key."""
    d = tmp_path_factory.mktemp("clean")
    w = busy(World(f"sqlite:///{d / 'log.db'}", d / "log.key").add_parties())
    entries, heads = w.service.store.entries(), w.service.store.heads()
    w.close()
    return entries, heads, d / "log.key"


def load(url: str, entries, heads) -> None:
    """Put these entries and heads in the store, as someone with write access to it could."""
    store = open_store(url)
    store.write(entries)
    for head in heads:
        store.write([], head)
    store.close()


def rechain(entries, start: int, change=lambda body: body):
    """The entries with the bodies from ``start`` on changed, and every hash from there recomputed."""
    out = list(entries[:start - 1])
    for e in entries[start - 1:]:
        out.append(make_entry(e.seq, e.t, e.kind, change(e.body), out[-1].hash if out else GENESIS, e.payload))
    return out


def first_text(entries) -> int:
    return next(e.seq for e in entries if e.body.get("text") == "leave")


def stay(body: dict) -> dict:
    """The coalition's warning made to say the opposite, in its command and in its event."""
    return {**body, "text": "stay"} if body.get("text") == "leave" else body


def resign(key, head, **change):
    values = {"size": head.size, "root": head.root, "time": head.time} | change
    return key.sign(TreeHead(values["size"], values["root"], values["time"]))


# Each case: (entries, heads, signing key) -> (entries, heads, what the first finding starts with)
def message_rewritten(es, hs, key):
    return rechain(es, first_text(es), stay), [], "entry 1: is not covered by a signed head"


def message_rewritten_after_a_head(es, hs, key):
    k = first_text(es)
    kept = [h for h in hs if h.size < k]
    return rechain(es, k, stay), kept, f"entry {kept[-1].size + 1}: is not covered by a signed head"


def heads_deleted(es, hs, key):
    return es, [], "entry 1: is not covered by a signed head"


def last_entry_deleted(es, hs, key):
    return es[:-1], hs, f"the signed head of size {len(es)}: covers {len(es)} entries but the log has only {len(es) - 1}"


def tail_cut(es, hs, key):
    return es[:-3], hs, f"the signed head of size {len(es)}: covers {len(es)} entries but the log has only {len(es) - 3}"


def entry_appended(es, hs, key):
    extra = make_entry(len(es) + 1, es[-1].t, "command", {"type": "party.add", "id": "intruder", "name": "",
                                                           "channels": ["coalition"]}, es[-1].hash)
    return es + [extra], hs, f"entry {len(es) + 1}: is not covered by a signed head"


def signature_swapped(es, hs, key):
    hs = list(hs)
    hs[3] = dataclasses.replace(hs[3], signature=hs[2].signature)
    return es, hs, f"the signed head of size {hs[3].size}: its signature does not verify"


def root_wrong(es, hs, key):
    hs = list(hs)
    hs[3] = resign(key, hs[3], root=tree_of(es).root(hs[3].size - 1))
    return es, hs, f"the signed head of size {hs[3].size}: its root is not"


def time_not_rfc3339(es, hs, key):
    hs = list(hs)
    hs[3] = resign(key, hs[3], time=hs[3].time.replace("T", " "))
    return es, hs, f"the signed head of size {hs[3].size}: its time"


def time_backwards(es, hs, key):
    hs = list(hs)
    hs[3] = resign(key, hs[3], time="2000-01-01T00:00:00Z")
    return es, hs, f"the signed head of size {hs[3].size}: its time 2000-01-01T00:00:00Z is earlier than"


def time_in_the_future(es, hs, key):
    hs = list(hs)
    hs[-1] = resign(key, hs[-1], time=format_time(datetime.now(UTC) + timedelta(days=1)))
    return es, hs, f"the signed head of size {hs[-1].size}: its time"


def entry_changed(es, hs, key):
    es = list(es)
    es[9] = dataclasses.replace(es[9], body={**es[9].body, "lat": 34.0})
    return es, hs, "entry 10: was changed"


def entry_removed(es, hs, key):
    return es[:9] + es[10:], hs, "entry 10: is missing (removed)"


def entry_inserted(es, hs, key):
    new = make_entry(10, es[9].t, "command", {"type": "clock"}, es[8].hash)
    return es[:9] + [new] + [dataclasses.replace(e, seq=e.seq + 1) for e in es[9:]], hs, "entry 11: "


def entries_reordered(es, hs, key):
    es = list(es)
    es[9], es[10] = dataclasses.replace(es[10], seq=10), dataclasses.replace(es[9], seq=11)
    return es, hs, "entry 10: "


CASES = [message_rewritten, message_rewritten_after_a_head, heads_deleted, last_entry_deleted, tail_cut,
         entry_appended, signature_swapped, root_wrong, time_not_rfc3339, time_backwards, time_in_the_future,
         entry_changed, entry_removed, entry_inserted, entries_reordered]


def verify(capsys, *args) -> tuple[int, str]:
    code = main(["log", "verify", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_a_tampered_store_does_not_verify_and_is_not_served(case, clean, store_url, capsys, no_server):
    entries, heads, key_path = clean
    tampered, tampered_heads, finding = case(entries, heads, SigningKey.load(key_path))
    load(store_url, tampered, tampered_heads)

    code, out = verify(capsys, "--db", store_url, "--key", str(key_path))
    assert code == 1 and out == f"log verify: {out.removeprefix('log verify: ')}", out
    assert out.startswith(f"log verify: {finding}") and out.count("\n") == 1, out

    code = main(["serve", "--db", store_url, "--key", str(key_path), "--port", "8999"])
    err = capsys.readouterr().err
    assert code == 2 and not no_server, err
    assert err == f"serve: the stored log does not verify: {out.removeprefix('log verify: ')}", err
    with pytest.raises(LedgerError, match=finding.replace("(", r"\(").replace(")", r"\)")):
        Service(Settings(db=store_url, key_path=key_path))
    store = open_store(store_url)  # nothing was signed over it
    assert store.heads() == sorted(tampered_heads, key=lambda h: h.size) and len(store.entries()) == len(tampered)
    store.close()


def export_of(entries, heads, public_pem: str) -> dict:
    tree = tree_of(entries)
    return {"format": "deconfliction-log-1", "public_key": public_pem, "entries": [e.to_json() for e in entries],
            "heads": [h.to_json() for h in heads],
            "consistency": [{"from": a.size, "to": b.size,
                             "proof": [p.hex() for p in tree.consistency_proof(a.size, min(b.size, len(tree)))]}
                            for a, b in zip(heads, heads[1:]) if a.size <= min(b.size, len(tree))]}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_a_tampered_export_does_not_verify(case, clean, tmp_path, capsys):
    entries, heads, key_path = clean
    key = SigningKey.load(key_path)
    pem = tmp_path / "public.pem"
    pem.write_text(key.public_pem())
    tampered, tampered_heads, finding = case(entries, heads, key)
    exported = tmp_path / "log.json"
    exported.write_text(json.dumps(export_of(tampered, tampered_heads, key.public_pem())))
    code, out = verify(capsys, "--export", str(exported), "--key", str(pem))
    assert code == 1 and out.startswith(f"log verify: {finding}") and out.count("\n") == 1, out


def test_an_export_whose_consistency_proof_was_changed_names_the_head(clean, tmp_path, capsys):
    entries, heads, key_path = clean
    key = SigningKey.load(key_path)
    doc = export_of(entries, heads, key.public_pem())
    assert verify_doc(doc, tmp_path, capsys)[0] == 0
    doc["consistency"][4]["proof"][0] = "00" * 32
    code, out = verify_doc(doc, tmp_path, capsys)
    assert code == 1 and out.startswith(f"log verify: the signed head of size {heads[5].size}: is not an extension "
                                        f"of the head of size {heads[4].size}"), out
    del doc["consistency"][4]
    code, out = verify_doc(doc, tmp_path, capsys)
    assert code == 1 and f"the signed head of size {heads[5].size}: " in out and "no consistency proof" in out, out


def verify_doc(doc, tmp_path, capsys):
    exported, pem = tmp_path / "log.json", tmp_path / "public.pem"
    exported.write_text(json.dumps(doc))
    pem.write_text(doc["public_key"])
    return verify(capsys, "--export", str(exported), "--key", str(pem))


# -- the reported forgery, on a store the service wrote ---------------------------------------------
def test_a_rewritten_message_with_its_heads_deleted_is_found_and_not_served(store_url, tmp_path, capsys, no_server):
    """The text of a warning rewritten in its command and its event, the chain recomputed and every
    signed head deleted: a consistent history that replays, which only the missing heads betray."""
    key_path = tmp_path / "k.key"
    busy(World(store_url, key_path).add_parties()).close()
    store = open_store(store_url)
    forged = rechain(store.entries(), first_text(store.entries()), stay)
    with store._writing() as cur:
        for e in forged:
            cur.execute(store._q("UPDATE entries SET body = ?, prev = ?, hash = ? WHERE seq = ?"),
                        (e.body_json().decode(), e.prev, e.hash, e.seq))
        cur.execute("DELETE FROM heads")
    exported = tmp_path / "forged.json"
    key = SigningKey.load(key_path)
    exported.write_text(json.dumps(export_of(store.entries(), [], key.public_pem())))
    assert export_log(store, key.public_pem())["heads"] == []
    store.close()

    for args in (["--db", store_url, "--key", str(key_path)], ["--export", str(exported), "--key", str(key_path)]):
        code, out = verify(capsys, *args)
        assert (code, out) == (1, f"log verify: entry 1: is not covered by a signed head: the log has "
                                  f"{len(forged)} entries and no signed head\n"), out
    assert main(["serve", "--db", store_url, "--key", str(key_path)]) == 2 and not no_server
    assert capsys.readouterr().err.startswith("serve: the stored log does not verify: entry 1: is not covered")
    store = open_store(store_url)
    assert store.heads() == []  # the real key signed nothing over the forgery
    store.close()


def test_a_store_that_cannot_be_opened_is_one_line_and_exit_2(tmp_path, capsys, no_server):
    from tests.conftest import PG_ADMIN_URL
    key = tmp_path / "k.key"
    SigningKey.load_or_create(key)
    (tmp_path / "not.db").write_text("not a database\n")
    missing = PG_ADMIN_URL.rsplit("/", 1)[0] + "/deconfliction_no_such_database"
    for db, problem in ((f"sqlite:///{tmp_path / 'not.db'}", "file is not a database"),
                        (missing, "cannot connect to PostgreSQL")):
        code, out = verify(capsys, "--db", db, "--key", str(key))
        assert code == 2 and out.startswith("log verify: ") and problem in out and out.count("\n") == 1, out
        assert main(["serve", "--db", db, "--key", str(tmp_path / "new.key")]) == 2 and not no_server
        err = capsys.readouterr().err
        assert err.startswith("serve: ") and problem in err and err.count("\n") == 1, err


@pytest.mark.parametrize("sql, finding", [
    ("UPDATE entries SET body = 'not json' WHERE seq = 7", "entry 7: was changed"),
    ("UPDATE entries SET body = '[1, 2]' WHERE seq = 7", "entry 7: was changed"),
    ("UPDATE heads SET root = 'not base64!' WHERE size = 7", "the signed head of size 7: its signature does not verify"),
    ("UPDATE heads SET signature = '' WHERE size = 7", "the signed head of size 7: its signature does not verify"),
])
def test_columns_written_by_hand_are_findings_not_tracebacks(sql, finding, clean, store_url, capsys, no_server):
    entries, heads, key_path = clean
    load(store_url, entries, heads)
    store = open_store(store_url)
    with store._writing() as cur:
        cur.execute(sql)
    store.close()
    code, out = verify(capsys, "--db", store_url, "--key", str(key_path))
    assert code == 1 and out.startswith(f"log verify: {finding}"), out
    assert main(["serve", "--db", store_url, "--key", str(key_path)]) == 2 and not no_server
    assert capsys.readouterr().err.startswith(f"serve: the stored log does not verify: {finding}")
