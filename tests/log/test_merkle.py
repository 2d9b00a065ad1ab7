"""RFC 6962 Merkle trees: roots, inclusion and consistency proofs, checked exhaustively on small trees."""
import hashlib

import pytest

from deconfliction.log.merkle import (
    EMPTY_ROOT, MerkleTree, leaf_hash, node_hash, verify_consistency, verify_inclusion,
)


def reference_root(leaves: list[bytes]) -> bytes:
    """The tree head by the RFC's recursive definition, with no caching."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


LEAVES = [leaf_hash(f"entry {i}".encode()) for i in range(40)]


def test_known_answers_from_rfc_6962_hash_prefixes():
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert MerkleTree().root() == EMPTY_ROOT
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("n", range(1, 41))
def test_root_matches_the_recursive_definition(n):
    assert MerkleTree(LEAVES[:n]).root() == reference_root(LEAVES[:n])


def test_every_inclusion_proof_verifies_and_tampering_fails():
    tree = MerkleTree(LEAVES)
    for size in range(1, 41):
        root = tree.root(size)
        for i in range(size):
            proof = tree.inclusion_proof(i, size)
            assert verify_inclusion(LEAVES[i], i, size, proof, root)
            assert not verify_inclusion(leaf_hash(b"forged"), i, size, proof, root)
            if size > 1:
                assert not verify_inclusion(LEAVES[i], (i + 1) % size, size, proof, root)


def test_every_consistency_proof_verifies_and_a_rewritten_history_fails():
    tree = MerkleTree(LEAVES)
    forged = MerkleTree([leaf_hash(b"changed")] + LEAVES[1:])
    for new in range(1, 41):
        for old in range(1, new + 1):
            proof = tree.consistency_proof(old, new)
            assert verify_consistency(old, new, tree.root(old), tree.root(new), proof)
            assert not verify_consistency(old, new, forged.root(old), tree.root(new), proof)


def test_bad_sizes_are_refused():
    tree = MerkleTree(LEAVES[:3])
    with pytest.raises(ValueError):
        tree.inclusion_proof(3)
    with pytest.raises(ValueError):
        tree.consistency_proof(4, 3)
