"""The hash chain names the first entry changed, removed, inserted or reordered; heads are signed."""
import dataclasses
import os

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.log.chain import GENESIS, canonical, check_chain, make_entry, tree_of
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
