"""Ed25519 keys and signed tree heads over (size, root, time)."""
from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The log's state at one moment: its size, Merkle root and time, signed by the service."""

    size: int
    root: bytes
    time: str
    """RFC 3339 UTC time at which the head was signed."""
    signature: bytes = b""

    def message(self) -> bytes:
        """The exact bytes signed: canonical JSON of size, root (base64) and time."""
        return json.dumps({"root": b64(self.root), "size": self.size, "time": self.time},
                          sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> dict:
        return {"size": self.size, "root": b64(self.root), "time": self.time, "signature": b64(self.signature)}

    @classmethod
    def from_json(cls, data: dict) -> "TreeHead":
        return cls(int(data["size"]), unb64(data["root"]), str(data["time"]), unb64(data["signature"]))


class SigningKey:
    """The service's Ed25519 key: generated on first use and stored with owner-only permissions."""

    def __init__(self, private: Ed25519PrivateKey):
        self._private = private

    @classmethod
    def generate(cls) -> "SigningKey":
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path) -> "SigningKey":
        """Read an existing key; a missing or unreadable file is an error, never a new key."""
        from ..errors import DeconflictionError
        try:
            return cls(serialization.load_pem_private_key(path.read_bytes(), password=None))  # type: ignore[arg-type]
        except (OSError, ValueError) as exc:
            raise DeconflictionError(f"cannot read the signing key {path}: {exc}") from None

    @classmethod
    def load_or_create(cls, path: Path) -> "SigningKey":
        """Read the key at ``path``; create it (mode 0600) if it does not exist yet."""
        if path.exists():
            return cls(serialization.load_pem_private_key(path.read_bytes(), password=None))  # type: ignore[arg-type]
        key = cls.generate()
        pem = key._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return key

    def public_pem(self) -> str:
        """The public key in PEM (SubjectPublicKeyInfo) form, for verifiers."""
        return self._private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, head: TreeHead) -> TreeHead:
        return TreeHead(head.size, head.root, head.time, self._private.sign(head.message()))


def public_key(public_pem: str) -> Ed25519PublicKey | None:
    """The Ed25519 key of a PEM public key (parsed once for many heads); None for a key of another
    kind. A text that is not a PEM public key raises ValueError."""
    key = serialization.load_pem_public_key(public_pem.encode())
    return key if isinstance(key, Ed25519PublicKey) else None


def verify_head(head: TreeHead, public: str | Ed25519PublicKey | None) -> bool:
    """True when ``head`` carries a valid signature by the key ``public`` (PEM, or as :func:`public_key` gives it)."""
    key = public_key(public) if isinstance(public, str) else public
    if key is None:
        return False
    try:
        key.verify(head.signature, head.message())
    except InvalidSignature:
        return False
    return True
