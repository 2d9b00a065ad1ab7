"""The signed heads against the entries they sign: the one check behind ``log verify`` (of a store
and of an export) and behind the ledger's opening, so that what verifies and what is served agree.

Whoever can write to the store can recompute the hash chain; nobody without the key can sign a
head. So a log verifies only when each of its heads is sound (signature, time, root), the heads
grow consistently, and the newest one covers exactly the entries there are: a head beyond the
entries means the tail was cut, and entries beyond the newest head were added (or the heads after
them removed) by someone who could not sign them.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from .chain import Entry, Finding, check_chain, tree_of
from .merkle import MerkleTree, verify_consistency
from .signing import TreeHead, public_key, verify_head

CLOCK_SKEW_S = 300
"""How far a head's time may be ahead of the verifying machine's clock: the clocks of the machines
that sign and verify differ a little. A head further ahead was not signed when it says."""

_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})")

Proofs = Mapping[tuple[int, int], Sequence[bytes]]
"""Consistency proofs between successive heads, by (from size, to size), as an export carries them."""


def head_time(text: str) -> datetime | None:
    """The time of a head, or None when it is not an RFC 3339 date-time with its offset."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    fraction = match.group(1) or ""
    text = text.replace(fraction, fraction[:7], 1)  # any number of digits: a datetime keeps six
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:  # a month 13, an offset of +25:00, ...
        return None


def check_heads(tree: MerkleTree, heads: Sequence[TreeHead], public_pem: str, now: datetime,
                proofs: Proofs | None = None) -> Finding | None:
    """The first problem of the signed heads, taken in the order given, over the tree of the stored
    entries; None when every head is sound and the newest covers every entry.

    ``now``: this machine's clock (a head may not be signed in its future). ``proofs``: the
    consistency proofs an export carries, which must all verify; a store's heads are checked
    against the tree itself, which proves the same.
    """
    key = public_key(public_pem)
    before: TreeHead | None = None
    for head in heads:
        problem = _head_problem(head, before, tree, key, now, proofs)
        if problem is not None:
            return Finding(None, problem, head=head.size)
        before = head
    return _uncovered(len(tree), before)


def _head_problem(head: TreeHead, before: TreeHead | None, tree: MerkleTree, key, now: datetime,
                  proofs: Proofs | None) -> str | None:
    """What is wrong with one head, given the sound head before it; the signature first, since
    nothing else a head says can be trusted without it."""
    if before is not None and head.size <= before.size:
        return f"comes after the head of size {before.size}: heads must grow with the log"
    if not verify_head(head, key):
        return "its signature does not verify with the public key"
    time = head_time(head.time)
    if time is None:
        return f"its time {head.time!r} is not an RFC 3339 time"
    if before is not None and time < head_time(before.time):  # type: ignore[operator]  # checked before
        return f"its time {head.time} is earlier than the time {before.time} of the head of size {before.size} before it"
    if time > now + timedelta(seconds=CLOCK_SKEW_S):
        return f"its time {head.time} is in the future: more than {CLOCK_SKEW_S} s ahead of this machine's clock"
    if head.size > len(tree):
        return (f"covers {head.size} entries but the log has only {len(tree)}: entries after {len(tree)} "
                f"were removed (the tail was cut)")
    if tree.root(head.size) != head.root:
        return (f"its root is not the root of the first {head.size} entries: entries up to {head.size} "
                f"were changed, removed or inserted")
    if proofs is not None and before is not None:
        proof = proofs.get((before.size, head.size))
        if proof is None:
            return f"there is no consistency proof from the head of size {before.size} to it"
        if not verify_consistency(before.size, head.size, before.root, head.root, proof):
            return f"is not an extension of the head of size {before.size}: the consistency proof does not verify"
    return None


def _uncovered(size: int, last: TreeHead | None) -> Finding | None:
    """The first entry beyond the newest head, which nobody with the key has signed; None if none is."""
    covered = 0 if last is None else last.size
    if covered >= size:
        return None
    if last is None:
        return Finding(1, f"is not covered by a signed head: the log has {size} entries and no signed head")
    added = f"entry {size} was" if size == covered + 1 else f"entries {covered + 1} to {size} were"
    return Finding(covered + 1, f"is not covered by a signed head: the last signed head is of size {covered} and "
                                f"the log has {size} entries ({added} added after it, or the heads after it removed)")


def check_log(entries: Sequence[Entry], heads: Sequence[TreeHead], public_pem: str, now: datetime,
              proofs: Proofs | None = None) -> Finding | None:
    """The first problem of a whole log: its hash chain first, then its signed heads."""
    return check_chain(entries) or check_heads(tree_of(entries), heads, public_pem, now, proofs)


def heads_after(store, last_seq: int) -> list[TreeHead] | None:
    """The signed heads, read after the entries up to ``last_seq`` were: None when a head goes beyond
    them because another writer appended meanwhile (read its entries, then ask again).

    Entries and their head are written in one transaction, so heads read after the entries never
    miss a head of theirs, and a head beyond the entries with no entry after them is a cut tail.
    """
    heads = store.heads()
    if heads and heads[-1].size > last_seq and store.entries(after=last_seq, limit=1):
        return None
    return heads


def read_log(store) -> tuple[list[Entry], list[TreeHead]]:
    """Every entry (in order of seq) and every signed head of a store, as one state of it, even
    while another process writes to it."""
    entries = store.entries()
    while (heads := heads_after(store, entries[-1].seq if entries else 0)) is None:
        entries += store.entries(after=entries[-1].seq if entries else 0)
    return entries, heads
