"""Signed tree heads (RFC 9162 section 4.10, simplified) and the Ed25519 keys that sign them.

What is signed is a fixed 56-byte string, so that nothing about JSON spelling can make
two messages of one head::

    b"medsight-sth/v1\\0"  (16 bytes, domain separation from any other Ed25519 use)
    u64 tree size, u64 timestamp (ms since the epoch, UTC), 32 bytes root hash

The private key lives in a PEM file (PKCS#8, mode 0600) made by :func:`generate_key`
(``medsight ledger keygen``); the public key travels as 32 raw bytes in hex, and its
SHA-256 prefix names it (``key_id``) in heads and receipts.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from medsight.ledger.hashing import HASH_SIZE

__all__ = ["KeyFileError", "PublicKey", "SignedTreeHead", "Signer", "TreeHead", "generate_key"]

_DOMAIN = b"medsight-sth/v1\x00"
_BODY = struct.Struct(">QQ32s")


class KeyFileError(ValueError):
    """The signing key file is missing, unreadable or not an Ed25519 key."""


@dataclass(frozen=True)
class TreeHead:
    """A tree size, the time it was signed and its root hash."""

    size: int
    timestamp_ms: int
    root: bytes

    def message(self) -> bytes:
        """The bytes that are signed."""
        return _DOMAIN + _BODY.pack(self.size, self.timestamp_ms, self.root)


@dataclass(frozen=True)
class SignedTreeHead:
    """A tree head with its Ed25519 signature and the id of the key that made it."""

    head: TreeHead
    signature: bytes
    key_id: str

    @property
    def size(self) -> int:
        return self.head.size

    @property
    def root(self) -> bytes:
        return self.head.root

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.head.size,
            "timestamp_ms": self.head.timestamp_ms,
            "root_hash": self.head.root.hex(),
            "signature": self.signature.hex(),
            "key_id": self.key_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedTreeHead:
        """Parse :meth:`to_json`'s form.

        Raises:
            ValueError: a field missing or malformed.
        """
        try:
            root = bytes.fromhex(data["root_hash"])
            signature = bytes.fromhex(data["signature"])
            head = TreeHead(int(data["tree_size"]), int(data["timestamp_ms"]), root)
            key_id = str(data["key_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a signed tree head ({type(exc).__name__})") from None
        if len(root) != HASH_SIZE or len(signature) != 64 or head.size < 0:
            raise ValueError("not a signed tree head (field sizes)")
        return cls(head, signature, key_id)


class PublicKey:
    """An Ed25519 public key that checks tree-head signatures.

    Args:
        raw: the 32-byte public key.

    Raises:
        KeyFileError: not 32 bytes.
    """

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise KeyFileError("an Ed25519 public key is 32 bytes")
        self.raw = raw
        self._key = Ed25519PublicKey.from_public_bytes(raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def from_hex(cls, text: str) -> PublicKey:
        try:
            return cls(bytes.fromhex(text.strip()))
        except ValueError as exc:
            raise KeyFileError("the public key is not 64 hex digits") from exc

    def verify_message(self, message: bytes, signature: bytes) -> bool:
        """Check a signature made by :meth:`Signer.sign_message` (the caller domain-separates)."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def verify(self, sth: SignedTreeHead) -> bool:
        """Was ``sth`` signed by this key?"""
        if sth.key_id != self.key_id:
            return False
        try:
            self._key.verify(sth.signature, sth.head.message())
        except InvalidSignature:
            return False
        return True


class Signer:
    """The log's private key; only the sequencer holds one.

    Args:
        key: the Ed25519 private key.
    """

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public = PublicKey(raw)

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        """Load a PEM PKCS#8 Ed25519 key.

        Raises:
            KeyFileError: missing, unreadable or another kind of key.
        """
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except OSError as exc:
            raise KeyFileError(f"cannot read the ledger key {path.name} ({type(exc).__name__})") from exc
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{path.name} is not a PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path.name} is not an Ed25519 key")
        return cls(key)

    def sign_message(self, message: bytes) -> bytes:
        """Sign another kind of message (share links). It must start with its own domain
        prefix, never ``medsight-sth/v1``, so that it can never pass for a tree head."""
        if message.startswith(_DOMAIN):
            raise ValueError("a message may not carry the tree heads' domain prefix")
        return self._key.sign(message)

    def sign(self, head: TreeHead) -> SignedTreeHead:
        return SignedTreeHead(head, self._key.sign(head.message()), self.public.key_id)


def generate_key(path: Path, *, overwrite: bool = False) -> PublicKey:
    """Write a new Ed25519 private key to ``path`` (mode 0600) and its public key beside it (``.pub``, hex).

    Raises:
        KeyFileError: ``path`` exists and ``overwrite`` is false, or it cannot be written.
    """
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        public = Signer(key).public
        path.with_name(path.name + ".pub").write_text(public.raw.hex() + "\n")
    except FileExistsError:
        raise KeyFileError(f"{path.name} exists already; a new key would orphan every signed head") from None
    except OSError as exc:
        raise KeyFileError(f"cannot write the ledger key {path.name} ({type(exc).__name__})") from exc
    return public
