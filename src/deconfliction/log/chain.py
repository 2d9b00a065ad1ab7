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

PAYLOAD_DIGEST = "payload_sha256"
"""The body field of an entry that has a payload: the SHA-256 (hex) of the payload's bytes. The
payload (a batch of position reports as it was sent) is stored beside the entry rather than in
it; the entry's hash covers it through this digest, so a changed payload is found all the same."""


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
    payload: bytes | None = field(default=None, compare=False, repr=False)
    """The document the entry's body names by its digest (UTF-8), where it has one and it was read."""
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
        out = {"seq": self.seq, "t": self.t, "kind": self.kind, "body": self.body, "prev": self.prev, "hash": self.hash}
        if self.payload is not None:
            out["payload"] = self.payload.decode("utf-8")
        return out

    @classmethod
    def from_json(cls, d: dict) -> "Entry":  # the leaf is recomputed from the content on demand
        payload = d.get("payload")
        return cls(int(d["seq"]), str(d["t"]), str(d["kind"]), dict(d["body"]), str(d["prev"]), str(d["hash"]),
                   None if payload is None else str(payload).encode("utf-8"))

    def without_payload(self) -> "Entry":
        """The same entry, its leaf hash kept, without the payload (which the store keeps)."""
        if self.payload is None:
            return self
        light = Entry(self.seq, self.t, self.kind, self.body, self.prev, self.hash)
        object.__setattr__(light, "_leaf", self.leaf())
        return light


def _content(seq: int, t: str, kind: str, body_json: bytes, prev: str) -> bytes:
    # the same bytes as canonical() of the whole entry (keys in sorted order), with the body encoded once
    return b"".join((b'{"body":', body_json, b',"kind":', canonical(kind), b',"prev":', canonical(prev),
                     b',"seq":', canonical(seq), b',"t":', canonical(t), b"}"))


def payload_digest(payload: bytes) -> str:
    """What an entry's body holds of its payload (:data:`PAYLOAD_DIGEST`)."""
    return hashlib.sha256(payload).hexdigest()


def make_entry(seq: int, t: str, kind: str, body: dict, prev: str, payload: bytes | None = None,
               body_json: bytes | None = None) -> Entry:
    """A new entry following the one whose hash is ``prev``; ``payload``, if any, must be the document
    whose digest ``body`` holds (:data:`PAYLOAD_DIGEST`); ``body_json``: ``canonical(body)`` where
    the caller has it already."""
    body_json = canonical(body) if body_json is None else body_json
    content = _content(seq, t, kind, body_json, prev)
    entry = Entry(seq, t, kind, body, prev, hashlib.sha256(content).hexdigest(), payload)
    object.__setattr__(entry, "_leaf", leaf_hash(content))
    object.__setattr__(entry, "_body_json", body_json)
    return entry


@dataclass(frozen=True, slots=True)
class Finding:
    """The first problem found in a log: which entry (or which signed head) and what is wrong with it."""

    seq: int | None
    problem: str
    head: int | None = None
    """The size of the signed head the problem is about, when it is about a head rather than an entry."""

    def __str__(self) -> str:
        if self.head is not None:
            return f"the signed head of size {self.head}: {self.problem}"
        return f"entry {self.seq}: {self.problem}" if self.seq is not None else self.problem


def check_chain(entries: Sequence[Entry], prev: str = GENESIS, first: int = 1) -> Finding | None:
    """Walk the entries in stored order; the first one changed, removed, inserted or reordered, or None.

    ``prev`` and ``first``: the hash and number the log continues from (for a log checked in parts).
    """
    expected = first
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
        problem = payload_problem(e)
        if problem is not None:
            return Finding(e.seq, problem)
        prev, expected = e.hash, expected + 1
    return None


def payload_problem(e: Entry) -> str | None:
    """What is wrong with an entry's payload (missing, changed, or not covered by the entry), or None."""
    digest = e.body.get(PAYLOAD_DIGEST)
    if digest is None:
        return None if e.payload is None else "has a payload its body does not name (a payload was inserted)"
    if e.payload is None:
        return "was changed: its payload is missing"
    if payload_digest(e.payload) != digest:
        return "was changed: its payload does not match the digest in its body"
    return None


def tree_of(entries: Sequence[Entry]) -> MerkleTree:
    """The Merkle tree over the entries' leaves, in order."""
    return MerkleTree([e.leaf() for e in entries])
