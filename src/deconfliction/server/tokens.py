"""Bearer tokens: how they are made, how they are stored (a hash), and whose a presented one is."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from ..log.store import PartyRecord


def new_token() -> str:
    """A bearer token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """How a token is stored: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def find_party(token: str, parties: list[PartyRecord]) -> PartyRecord | None:
    """The live (not revoked) party holding ``token``; every stored hash is compared in constant time."""
    presented = token_hash(token)
    found = None
    for p in parties:
        if hmac.compare_digest(presented, p.token_hash) and p.revoked is None:
            found = p
    return found
