"""The hash chain names the first entry changed, removed, inserted or reordered; heads are signed."""
import dataclasses
import os

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.log.chain import (GENESIS, PAYLOAD_DIGEST, Entry, canonical, check_chain, make_entry,
                                     payload_digest, tree_of)
from deconfliction.log.signing import SigningKey, TreeHead, verify_head


def log(n: int):
    entries, prev = [], GENESIS
    for i in range(1, n + 1):
        e = make_entry(i, f"2017-06-06T00:00:{i:02d}Z", "event", {"type": "zone.entered", "n": i}, prev)
        entries.append(e)
        prev = e.hash
    return entries


def test_an_intact_log_verifies():
    assert check_chain(log(10)) is None


def test_a_changed_entry_is_named():
    entries = log(10)
    entries[4] = dataclasses.replace(entries[4], body={"type": "zone.exited", "n": 5})
    assert str(check_chain(entries)) == "entry 5: was changed: its content does not match its hash"


def test_a_removed_entry_is_named():
    entries = log(10)
    del entries[3]
    finding = check_chain(entries)
    assert finding.seq == 4 and "removed" in finding.problem


def test_an_inserted_entry_is_named():
    entries = log(10)
    forged = make_entry(4, "2017-06-06T00:00:04Z", "event", {"type": "x"}, entries[2].hash)
    entries.insert(3, forged)
    finding = check_chain(entries)
    assert finding.seq == 4 and "inserted" in finding.problem


def test_reordered_entries_are_named():
    entries = log(10)
    entries[6], entries[7] = entries[7], entries[6]
    finding = check_chain(entries)
    assert finding.seq == 7 and "reordered" in finding.problem


def with_payload(entries, k: int, payload: bytes):
    """The log with entry ``k`` (from 1) a command naming ``payload`` by its digest, and the chain redone."""
    out, prev = [], GENESIS
    for e in entries:
        if e.seq == k:
            e = make_entry(e.seq, e.t, "command", {"type": "positions", PAYLOAD_DIGEST: payload_digest(payload)},
                           prev, payload)
        else:
            e = make_entry(e.seq, e.t, e.kind, e.body, prev)
        out.append(e)
        prev = e.hash
    return out


def test_a_payload_is_covered_by_its_digest_in_the_entry():
    entries = with_payload(log(6), 3, b'[{"t":"2017-06-06T00:00:00Z","id":"u1","lon":1,"lat":2}]')
    assert check_chain(entries) is None
    assert entries[2].payload.startswith(b"[{")

    changed = list(entries)
    changed[2] = dataclasses.replace(entries[2], payload=entries[2].payload.replace(b'"lon":1', b'"lon":9'))
    assert str(check_chain(changed)) == "entry 3: was changed: its payload does not match the digest in its body"

    changed[2] = dataclasses.replace(entries[2], payload=None)
    assert str(check_chain(changed)) == "entry 3: was changed: its payload is missing"

    changed = list(entries)
    changed[4] = dataclasses.replace(entries[4], payload=b"[]")  # a payload no entry names
    finding = check_chain(changed)
    assert finding.seq == 5 and "inserted" in finding.problem


def test_an_entry_without_its_payload_keeps_its_hashes_and_an_export_carries_the_payload():
    [e] = with_payload(log(1), 1, "[{\"id\":\"ü\"}]".encode())
    light = e.without_payload()
    assert light.payload is None and (light.hash, light.leaf()) == (e.hash, e.leaf()) and light == e
    assert e.to_json()["payload"] == "[{\"id\":\"ü\"}]" and "payload" not in light.to_json()
    again = Entry.from_json(json.loads(json.dumps(e.to_json())))
    assert again.payload == e.payload and check_chain([again]) is None


def test_rewriting_the_whole_tail_changes_the_signed_root(tmp_path):
    key = SigningKey.load_or_create(tmp_path / "key.pem")
    assert oct(os.stat(tmp_path / "key.pem").st_mode & 0o777) == "0o600"
    entries = log(10)
    head = key.sign(TreeHead(10, tree_of(entries).root(), "2017-06-06T01:00:00Z"))
    assert verify_head(head, key.public_pem())
    rewritten, prev = entries[:5], entries[4].hash
    for i in range(6, 11):
        e = make_entry(i, entries[i - 1].t, "event", {"type": "rewritten"}, prev)
        rewritten.append(e)
        prev = e.hash
    assert check_chain(rewritten) is None  # a consistent forgery of the chain ...
    assert tree_of(rewritten).root() != head.root  # ... does not match the signed head
    assert not verify_head(dataclasses.replace(head, size=11), key.public_pem())
    assert SigningKey.load_or_create(tmp_path / "key.pem").public_pem() == key.public_pem()
    assert TreeHead.from_json(head.to_json()) == head


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_TEXT, _TEXT, max_size=6))
def test_canonical_bytes_of_text_objects_are_the_reference_encoders(value):
    """Objects of text only take a faster encoder; the bytes (and so every hash) must not change."""
    reference = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert canonical(value) == reference.encode()
