"""The record: a hash-chained, Merkle-tree-covered, signed log of events."""
