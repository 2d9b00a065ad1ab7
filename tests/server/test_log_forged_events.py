"""A stored event rewritten by the operator, who can write to the store and holds the signing key:
the hash chain recomputed and every head signed again with the service's own key, so that the chain
and the heads verify. Only replaying the commands and comparing their events with the stored ones
can find it: ``log verify`` (of the store and of an export) names the entry, and neither ``serve``
nor the service opens the store."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deconfliction.app.ledger import LedgerError
from deconfliction.cli import main
from deconfliction.log.chain import GENESIS, make_entry, tree_of
from deconfliction.log.signing import SigningKey
from deconfliction.log.store import open_store
from deconfliction.log.verify import check_log
from deconfliction.server.service import Service, Settings
from tests.server.test_log_verify import clean, export_of, resign, verify_doc  # noqa: F401 - clean: the fixture

REPLAY = "replaying the commands does not give the logged events: "




def forged(entries, heads, key, at: int, replace: list[dict]):
    """The log with entry ``at`` (an event) replaced by events of these bodies (none: removed; two:
    one inserted), every entry from there chained again and every head signed again over the new
    entries with the real key, at the sizes that cover the same writes."""
    assert entries[at - 1].kind == "event"
    kept = [(e.t, e.kind, e.body, e.payload) for e in entries[:at - 1]]
    kept += [(entries[at - 1].t, "event", body, None) for body in replace]
    kept += [(e.t, e.kind, e.body, e.payload) for e in entries[at:]]
    out = []
    for seq, (t, kind, body, payload) in enumerate(kept, start=1):
        out.append(make_entry(seq, t, kind, body, out[-1].hash if out else GENESIS, payload))
    shift = len(replace) - 1
    tree = tree_of(out)
    new_heads = []
    for h in heads:
        size = h.size + shift if h.size >= at else h.size
        new_heads.append(key.sign(type(h)(size, tree.root(size), h.time)))
    assert check_log(out, new_heads, key.public_pem(), datetime.now(UTC)) is None  # chain and heads verify
    return out, new_heads


def first(entries, kind: str) -> int:
    return next(e.seq for e in entries if e.kind == "event" and e.body["type"] == kind)


def last_event_of_a_command(entries, kind: str) -> int:
    """The last event of the first command that caused an event of this kind (the entry after it is a command)."""
    k = first(entries, kind)
    while entries[k].kind == "event":
        k += 1
    return k


# each case: entries -> (the entry at, its replacement bodies, the finding as log verify says it)
def latitude_changed(entries):
    k = first(entries, "zone.entered")
    body = entries[k - 1].body
    return k, [{**body, "lat": round(body["lat"] + 0.2, 6)}], f"entry {k}: the stored event differs from what its command produces"


def warning_text_changed(entries):
    k = first(entries, "message.sent")
    body = entries[k - 1].body
    return k, [{**body, "text": "you may stay"}], f"entry {k}: the stored event differs from what its command produces"


def event_removed(entries):
    k = last_event_of_a_command(entries, "zone.entered")
    return k, [], f"entry {k}: events of the previous command are missing from the log"


def event_inserted(entries):
    k = first(entries, "zone.entered")
    body = entries[k - 1].body
    return k, [body, body], f"entry {k + 1}: the stored event differs from what its command produces"


CASES = [latitude_changed, warning_text_changed, event_removed, event_inserted]


def replace_log(url: str, entries, heads) -> None:
    store = open_store(url)
    with store._writing() as cur:
        cur.execute("DELETE FROM entries")
        cur.execute("DELETE FROM heads")
    store.write(entries)
    for head in heads:
        store.write([], head)
    store.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_an_event_rewritten_rechained_and_resigned_is_found_by_the_replay(case, clean, store_url, tmp_path, capsys,
                                                                         no_server):
    entries, heads, key_path = clean
    key = SigningKey.load(key_path)
    at, bodies, finding = case(entries)
    tampered, tampered_heads = forged(entries, heads, key, at, bodies)
    replace_log(store_url, tampered, tampered_heads)

    code, out = verify(capsys, "--db", store_url, "--key", str(key_path))
    assert (code, out) == (1, f"log verify: {REPLAY}{finding}\n"), out
    assert verify_doc(export_of(tampered, tampered_heads, key.public_pem()), tmp_path, capsys) == (
        1, f"log verify: {REPLAY}{finding}\n")

    assert main(["serve", "--db", store_url, "--key", str(key_path), "--port", "8999"]) == 2 and not no_server
    assert capsys.readouterr().err == f"serve: {finding}\n"
    with pytest.raises(LedgerError, match=f"^{finding}$"):
        Service(Settings(db=store_url, key_path=key_path))
    with pytest.raises(SystemExit) as stopped:  # nor do the other commands that open the log
        main(["party", "add", "late", "--db", store_url, "--key", str(key_path)])
    assert stopped.value.code == 2 and capsys.readouterr().err == f"deconfliction: {finding}\n"
    store = open_store(store_url)  # nothing was written or signed over it
    assert [h.size for h in store.heads()] == [h.size for h in tampered_heads]
    assert [e.hash for e in store.entries()] == [e.hash for e in tampered]
    store.close()


def verify(capsys, *args) -> tuple[int, str]:
    code = main(["log", "verify", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_the_untampered_log_verifies_and_opens(clean, store_url, capsys):
    """The same log put back as it was written verifies: the cases above fail for their change only."""
    entries, heads, key_path = clean
    replace_log(store_url, entries, heads)
    code, out = verify(capsys, "--db", store_url, "--key", str(key_path))
    assert code == 0 and out.startswith(f"log verify: ok: {len(entries)} entries"), out
    Service(Settings(db=store_url, key_path=key_path)).stop()
