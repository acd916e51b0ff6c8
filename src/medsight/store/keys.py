"""Master keys for encryption at rest: loading, generating, naming, and the key ring.

A master key is 32 random bytes (AES-256). It never encrypts data itself: it wraps the
per-object data keys (:mod:`medsight.store.sealed`). It comes from a key file (the
base64 text of the 32 bytes, one line, mode 0600) or from ``$MEDSIGHT_MASTER_KEY``
(the same base64 text), never from the database or the objects folder it protects.

A key is named by its **key id**: the first 8 bytes of SHA-256 over a fixed label and the
key, as 16 hex digits. The id is written into every sealed object and into the store's
marker file, so a missing or wrong key is reported at start-up by id ("this store needs
key 3f2a...; the configured key is 9c41...") rather than discovered as garbage later.
The id reveals nothing useful about the key: it is a truncated hash of 256 random bits.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from medsight.errors import EncryptionKeyError
from medsight.io.files import write_text

__all__ = ["KEY_BYTES", "KeyRing", "MasterKey", "generate_key_file", "load_key_file", "parse_key_text"]

KEY_BYTES = 32
_ID_LABEL = b"medsight master key id v1\x00"


@dataclass(frozen=True, repr=False)
class MasterKey:
    """One AES-256 key-encryption key and its id. Its repr shows the id, never the key."""

    secret: bytes
    key_id: str

    @classmethod
    def from_bytes(cls, secret: bytes) -> MasterKey:
        if len(secret) != KEY_BYTES:
            raise EncryptionKeyError(f"a master key is {KEY_BYTES} bytes; this one is {len(secret)}")
        return cls(secret, hashlib.sha256(_ID_LABEL + secret).hexdigest()[:16])

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"


def parse_key_text(text: str, *, source: str) -> MasterKey:
    """A master key from its base64 text (``source`` names where it came from, for errors).

    Raises:
        EncryptionKeyError: not base64, or not 32 bytes once decoded.
    """
    try:
        secret = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EncryptionKeyError(f"{source} is not a base64 master key") from exc
    if len(secret) != KEY_BYTES:
        raise EncryptionKeyError(f"{source} holds {len(secret)} bytes; a master key is {KEY_BYTES}")
    return MasterKey.from_bytes(secret)


def load_key_file(path: Path) -> MasterKey:
    """Read a key file written by :func:`generate_key_file` (or by hand: base64 of 32 bytes).

    Raises:
        EncryptionKeyError: the file is missing, unreadable or not a key.
    """
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise EncryptionKeyError(f"cannot read the master key file {Path(path).name}") from exc
    return parse_key_text(text, source=f"the master key file {Path(path).name}")


def generate_key_file(path: Path) -> MasterKey:
    """Write a new random master key to ``path`` (owner-only), refusing to overwrite one.

    Raises:
        EncryptionKeyError: ``path`` exists already (a key is never silently replaced:
            objects sealed under it would become unreadable).
    """
    path = Path(path)
    if path.exists():
        raise EncryptionKeyError(f"{path.name} exists already; a master key is never overwritten")
    key = MasterKey.from_bytes(secrets.token_bytes(KEY_BYTES))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_text(path, base64.b64encode(key.secret).decode("ascii") + "\n")
    os.chmod(path, 0o600)
    return key


class KeyRing:
    """The keys a store may unwrap with, and the one it wraps new data keys with.

    Args:
        current: wraps every new data key.
        previous: keys still accepted for unwrapping (during and after a rotation).
    """

    def __init__(self, current: MasterKey, previous: Iterable[MasterKey] = ()) -> None:
        self.current = current
        self._by_id = {key.key_id: key for key in (*previous, current)}

    def get(self, key_id: str) -> MasterKey:
        """The key with this id.

        Raises:
            EncryptionKeyError: no key with that id is configured.
        """
        try:
            return self._by_id[key_id]
        except KeyError:
            raise EncryptionKeyError(f"no configured master key has id {key_id}") from None

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._by_id)

    def __repr__(self) -> str:
        return f"KeyRing(current={self.current.key_id!r}, ids={sorted(self._by_id)!r})"
