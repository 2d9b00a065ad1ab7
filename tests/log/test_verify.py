"""The signed heads against the entries: every way a head can fail is named by the head's size, and
entries no head covers by the first such entry."""
from datetime import UTC, datetime, timedelta

import pytest

from deconfliction.log.chain import GENESIS, Entry, make_entry, tree_of
from deconfliction.log.signing import SigningKey, TreeHead
from deconfliction.log.store import MemoryStore
from deconfliction.log.verify import CLOCK_SKEW_S, check_heads, check_log, heads_after, read_log

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEY = SigningKey.generate()
PEM = KEY.public_pem()


def log(n: int) -> list[Entry]:
    entries, prev = [], GENESIS
    for i in range(1, n + 1):
        entries.append(make_entry(i, "2017-06-06T00:00:00Z", "event", {"type": "zone.entered", "n": i}, prev))
        prev = entries[-1].hash
    return entries


def at(seconds: float) -> str:
    """A head time ``seconds`` after an hour before NOW, as the service writes it."""
    t = NOW - timedelta(hours=1) + timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def heads(entries: list[Entry], sizes=(2, 5, 9), key: SigningKey = KEY) -> list[TreeHead]:
    tree = tree_of(entries)
    return [key.sign(TreeHead(s, tree.root(s), at(k))) for k, s in enumerate(sizes)]


def resign(head: TreeHead, **change) -> TreeHead:
    values = {"size": head.size, "root": head.root, "time": head.time} | change
    return KEY.sign(TreeHead(values["size"], values["root"], values["time"]))


def check(entries, hs, proofs=None):
    return check_heads(tree_of(entries), hs, PEM, NOW, proofs)


def test_heads_that_cover_every_entry_verify():
    entries = log(9)
    assert check(entries, heads(entries)) is None
    assert check_log(entries, heads(entries), PEM, NOW) is None


def test_an_empty_log_needs_no_head():
    assert check([], []) is None


def test_a_log_with_no_head_at_all_names_its_first_entry():
    finding = check(log(9), [])
    assert (finding.seq, finding.head) == (1, None)
    assert str(finding).startswith("entry 1: is not covered by a signed head") and "no signed head" in str(finding)


def test_entries_after_the_last_head_are_named():
    entries = log(12)
    finding = check(entries, heads(entries[:9]))
    assert finding.seq == 10 and "not covered by a signed head" in finding.problem
    assert "entries 10 to 12" in finding.problem


def test_a_cut_tail_is_named_by_the_head_that_covers_it():
    entries = log(9)
    finding = check(entries[:7], heads(entries))
    assert (finding.seq, finding.head) == (None, 9)
    assert str(finding) == ("the signed head of size 9: covers 9 entries but the log has only 7: "
                            "entries after 7 were removed (the tail was cut)")


def test_a_head_with_a_wrong_signature_is_named():
    entries = log(9)
    hs = heads(entries)
    hs[1] = TreeHead(hs[1].size, hs[1].root, hs[1].time, hs[0].signature)
    finding = check(entries, hs)
    assert finding.head == 5 and "signature does not verify" in finding.problem
    other = heads(entries, key=SigningKey.generate())
    assert check(entries, other).head == 2


def test_a_signed_head_whose_root_is_not_the_trees_is_named():
    entries = log(9)
    hs = heads(entries)
    hs[1] = resign(hs[1], root=tree_of(entries).root(4))
    finding = check(entries, hs)
    assert finding.head == 5 and "root" in finding.problem


@pytest.mark.parametrize("time", ["yesterday", "2026-06-01 11:00:00Z", "2026-06-01T11:00:00", "2026-06-01",
                                  "2026-13-01T11:00:00Z", "2026-06-01T11:00:00.Z", "", "2026-06-01T11:00:00Z "])
def test_a_head_whose_time_is_not_rfc3339_is_named(time):
    entries = log(9)
    hs = heads(entries)
    hs[2] = resign(hs[2], time=time)
    finding = check(entries, hs)
    assert finding.head == 9 and "RFC 3339" in finding.problem


def test_rfc3339_times_with_an_offset_or_without_a_fraction_verify():
    entries = log(9)
    hs = heads(entries)
    hs[0] = resign(hs[0], time="2026-06-01T12:30:00+01:00")  # 11:30Z
    hs[1] = resign(hs[1], time="2026-06-01T11:30:00Z")
    hs[2] = resign(hs[2], time="2026-06-01t11:30:00.5z")
    assert check(entries, hs) is None


def test_a_head_earlier_than_the_head_before_it_is_named():
    entries = log(9)
    hs = heads(entries)
    hs[2] = resign(hs[2], time=at(0.5))  # before the head of size 5 (at 1 s), after the first (at 0 s)
    finding = check(entries, hs)
    assert finding.head == 9 and "earlier than" in finding.problem and "size 5" in finding.problem


def test_a_head_from_the_future_is_named_but_a_small_skew_is_not():
    entries = log(9)
    hs = heads(entries)
    skewed = (NOW + timedelta(seconds=CLOCK_SKEW_S - 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    hs[2] = resign(hs[2], time=skewed)
    assert check(entries, hs) is None
    hs[2] = resign(hs[2], time=(NOW + timedelta(seconds=CLOCK_SKEW_S + 1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    finding = check(entries, hs)
    assert finding.head == 9 and "future" in finding.problem


def test_heads_must_grow():
    entries = log(9)
    hs = heads(entries)
    finding = check(entries, [hs[0], hs[2], hs[1]])
    assert finding.head == 5 and "after the head of size 9" in finding.problem
    assert check(entries, [hs[0], hs[1], hs[1], hs[2]]).head == 5


def test_consistency_proofs_between_successive_heads_are_checked_when_given():
    entries = log(9)
    hs = heads(entries)
    tree = tree_of(entries)
    proofs = {(2, 5): tree.consistency_proof(2, 5), (5, 9): tree.consistency_proof(5, 9)}
    assert check(entries, hs, proofs) is None
    finding = check(entries, hs, {**proofs, (5, 9): tree.consistency_proof(4, 9)})
    assert finding.head == 9 and "not an extension of the head of size 5" in finding.problem
    finding = check(entries, hs, {(5, 9): proofs[(5, 9)]})
    assert finding.head == 5 and "no consistency proof" in finding.problem


def test_the_chain_is_checked_before_the_heads():
    entries = log(9)
    hs = heads(entries)
    del entries[3]
    assert check_log(entries, hs, PEM, NOW).seq == 4


class Appending(MemoryStore):
    """A store another writer appends to (entries with their head) just before the heads are read."""

    def __init__(self, entries, heads, later):
        super().__init__(entries, heads)
        self.later = list(later)

    def heads(self):
        if self.later:
            self.write(*self.later.pop(0))
        return super().heads()


def test_heads_read_after_the_entries_are_never_taken_for_a_cut_tail():
    entries = log(9)
    hs = heads(entries)
    store = Appending(entries[:5], hs[:2], [(entries[5:9], hs[2])])
    assert heads_after(store, 5) is None  # a writer appended meanwhile: read the entries again
    assert heads_after(store, 9) == hs
    store = Appending(entries[:5], hs[:2], [(entries[5:9], hs[2])])
    got, got_heads = read_log(store)
    assert got == entries and got_heads == hs and check_log(got, got_heads, PEM, NOW) is None


def test_a_cut_tail_is_still_found_by_a_read_that_retries():
    entries = log(9)
    hs = heads(entries)
    got, got_heads = read_log(MemoryStore(entries[:7], hs))
    assert len(got) == 7 and check_log(got, got_heads, PEM, NOW).head == 9
