"""Hash-chained log entries and the check that names the first entry changed, removed, inserted or reordered."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from .merkle import MerkleTree, leaf_hash

GENESIS = "0" * 64


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8, no NaN."""
    if type(value) is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
        # text only (e.g. a batch of reports as sent): orjson writes the same bytes, several times faster
        # on large values; numbers always take the reference encoder, whose float format is the record's
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: a command or an event, chained to the previous entry by its hash."""

    seq: int
    t: str
    kind: str
    """"command" (what a party asked) or "event" (what the engine said)."""
    body: dict
    prev: str
    hash: str
    _leaf: bytes = field(default=b"", init=False, compare=False, repr=False)
    """The Merkle leaf hash, kept when the entry was made here (a copy recomputes it)."""
    _body_json: bytes = field(default=b"", init=False, compare=False, repr=False)
    """The body's canonical JSON, kept when the entry was made here, so it is encoded once."""

    def body_json(self) -> bytes:
        return self._body_json or canonical(self.body)

    def content(self) -> bytes:
        """The bytes the entry's hash and Merkle leaf cover: canonical JSON of the entry without its hash."""
        return _content(self.seq, self.t, self.kind, self.body_json(), self.prev)

    def leaf(self) -> bytes:
        return self._leaf or leaf_hash(self.content())

    def to_json(self) -> dict:
        return {"seq": self.seq, "t": self.t, "kind": self.kind, "body": self.body, "prev": self.prev, "hash": self.hash}

    @classmethod
    def from_json(cls, d: dict) -> "Entry":  # the leaf is recomputed from the content on demand
        return cls(int(d["seq"]), str(d["t"]), str(d["kind"]), dict(d["body"]), str(d["prev"]), str(d["hash"]))


def _content(seq: int, t: str, kind: str, body_json: bytes, prev: str) -> bytes:
    # the same bytes as canonical() of the whole entry (keys in sorted order), with the body encoded once
    return b"".join((b'{"body":', body_json, b',"kind":', canonical(kind), b',"prev":', canonical(prev),
                     b',"seq":', canonical(seq), b',"t":', canonical(t), b"}"))


def make_entry(seq: int, t: str, kind: str, body: dict, prev: str) -> Entry:
    """A new entry following the one whose hash is ``prev``."""
    body_json = canonical(body)
    content = _content(seq, t, kind, body_json, prev)
    entry = Entry(seq, t, kind, body, prev, hashlib.sha256(content).hexdigest())
    object.__setattr__(entry, "_leaf", leaf_hash(content))
    object.__setattr__(entry, "_body_json", body_json)
    return entry


@dataclass(frozen=True, slots=True)
class Finding:
    """The first problem found in a log: which entry and what is wrong with it."""

    seq: int | None
    problem: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.problem}" if self.seq is not None else self.problem


def check_chain(entries: Sequence[Entry]) -> Finding | None:
    """Walk the entries in stored order; the first one changed, removed, inserted or reordered, or None."""
    prev, expected = GENESIS, 1
    for position, e in enumerate(entries):
        if e.seq != expected:
            if e.seq < expected:
                return Finding(e.seq, f"is stored again or out of place (inserted): expected entry {expected} here")
            if expected in (x.seq for x in entries[position + 1:]):
                return Finding(expected, f"is out of order: entry {e.seq} is stored before it (reordered)")
            return Finding(expected, f"is missing (removed): the next entry stored is {e.seq}")
        if e.prev != prev:
            return Finding(e.seq, "does not follow the entry before it (an entry was inserted or removed)")
        if hashlib.sha256(e.content()).hexdigest() != e.hash:
            return Finding(e.seq, "was changed: its content does not match its hash")
        prev, expected = e.hash, expected + 1
    return None


def tree_of(entries: Sequence[Entry]) -> MerkleTree:
    """The Merkle tree over the entries' leaves, in order."""
    return MerkleTree([e.leaf() for e in entries])
