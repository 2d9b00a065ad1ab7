"""Merkle tree hashing, inclusion and consistency proofs as RFC 6962 (certificate transparency) defines them.

Leaves are hashed as SHA-256(0x00 || data) and interior nodes as SHA-256(0x01 || left || right);
the tree over n leaves splits at the largest power of two smaller than n. Proof verification
follows RFC 9162, sections 2.1.3.2 and 2.1.4.2.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Hash of a leaf: SHA-256 over 0x00 followed by the entry's bytes."""
    h = hashlib.sha256(b"\x00")
    h.update(data)  # no copy of a large entry
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256 over 0x01, the left and the right child hashes."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class MerkleTree:
    """An append-only tree over leaf hashes, caching the roots of complete power-of-two subtrees."""

    def __init__(self, leaves: Sequence[bytes] = ()):
        self.leaves: list[bytes] = []
        self._cache: dict[tuple[int, int], bytes] = {}
        for leaf in leaves:
            self.append(leaf)

    def __len__(self) -> int:
        return len(self.leaves)

    def append(self, leaf: bytes) -> int:
        """Add a leaf hash; returns its index."""
        self.leaves.append(leaf)
        return len(self.leaves) - 1

    def root(self, size: int | None = None) -> bytes:
        """The tree head hash over the first ``size`` leaves (default: all)."""
        size = len(self.leaves) if size is None else size
        if not 0 <= size <= len(self.leaves):
            raise ValueError(f"size {size} is outside 0..{len(self.leaves)}")
        return EMPTY_ROOT if size == 0 else self._hash(0, size)

    def _hash(self, start: int, size: int) -> bytes:
        if size == 1:
            return self.leaves[start]
        complete = size & (size - 1) == 0
        if complete and (start, size) in self._cache:
            return self._cache[(start, size)]
        k = _split(size)
        value = node_hash(self._hash(start, k), self._hash(start + k, size - k))
        if complete:
            self._cache[(start, size)] = value
        return value

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
        size = len(self.leaves) if size is None else size
        if not 0 <= index < size <= len(self.leaves):
            raise ValueError(f"no leaf {index} in a tree of {size}")
        return self._path(index, 0, size)

    def _path(self, index: int, start: int, size: int) -> list[bytes]:
        if size == 1:
            return []
        k = _split(size)
        if index < k:
            return self._path(index, start, k) + [self._hash(start + k, size - k)]
        return self._path(index - k, start + k, size - k) + [self._hash(start, k)]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Proof that the tree of ``old_size`` leaves is a prefix of the tree of ``new_size``."""
        new_size = len(self.leaves) if new_size is None else new_size
        if not 0 <= old_size <= new_size <= len(self.leaves):
            raise ValueError(f"cannot prove {old_size} against {new_size}")
        if old_size in (0, new_size):
            return []
        return self._subproof(old_size, 0, new_size, True)

    def _subproof(self, m: int, start: int, n: int, whole: bool) -> list[bytes]:
        if m == n:
            return [] if whole else [self._hash(start, n)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, start, k, whole) + [self._hash(start + k, n - k)]
        return self._subproof(m - k, start + k, n - k, False) + [self._hash(start, k)]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True when ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree of ``size`` with ``root``."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """True when ``proof`` shows the tree (old_size, old_root) is a prefix of (new_size, new_root)."""
    if old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    proof = list(proof)
    if old_size & (old_size - 1) == 0:
        proof = [old_root] + proof
    if not proof:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
