"""Envelope encryption of stored objects: AES-256-GCM under per-object data keys.

Every object gets its own random 256-bit data key; the object is encrypted with it once,
and the data key is kept beside the ciphertext *wrapped* (AES-256-GCM) by the master key.
Rotating the master key therefore re-wraps 32-byte data keys and rewrites a 68-byte field
in each file's header; the object's ciphertext is never touched (:func:`rewrap`).

A sealed object, all integers big-endian::

    offset  size  field
    0       4     magic b"MSKS"
    4       1     format version (1)
    5       8     master key id (see medsight.store.keys)       } the 68-byte key slot,
    13      12    nonce of the wrapped data key                  } rewritten in place by
    25      48    wrapped data key (32 bytes + 16-byte GCM tag)  } a rotation
    73      12    nonce of the data
    85      n+16  ciphertext of the object and its GCM tag

Both encryptions authenticate the object's name (its sha256, or any label the caller
gives) as associated data, so a file copied or renamed onto another object's name fails
to open rather than returning the wrong object. The key slot's encryption also binds the
key id it claims. Nonces are random 96-bit values: each key encrypts exactly one message
(a data key its object, a wrapping its data key at one moment), far below GCM's limits.

Opening never returns unauthenticated bytes: a wrong key, a changed byte anywhere, or a
truncated file is a :class:`~medsight.errors.StoredObjectCorruptError` or an
:class:`~medsight.errors.EncryptionKeyError`, never garbage.
"""

from __future__ import annotations

import os
import secrets
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from medsight.errors import StoredObjectCorruptError
from medsight.store.keys import KEY_BYTES, KeyRing, MasterKey

__all__ = [
    "HEADER_BYTES",
    "KEY_SLOT",
    "MAGIC",
    "is_sealed",
    "key_id_of",
    "open_sealed",
    "rewrap_slot",
    "seal",
    "seal_parts",
    "write_slot",
]

MAGIC = b"MSKS"
_VERSION = 1
_NONCE = 12
_TAG = 16
#: The rewritable key slot: (offset, length) of key id + wrapping nonce + wrapped key.
KEY_SLOT = (5, 8 + _NONCE + KEY_BYTES + _TAG)
HEADER_BYTES = KEY_SLOT[0] + KEY_SLOT[1] + _NONCE
_PREFIX = MAGIC + bytes([_VERSION])


def is_sealed(data: bytes) -> bool:
    """Whether ``data`` starts like a sealed object (a plain DICOM file starts otherwise)."""
    return data[:5] == _PREFIX


def key_id_of(data: bytes) -> str:
    """The id of the master key a sealed object's data key is wrapped under."""
    return data[5:13].hex()


def seal(plain: bytes, name: str, key: MasterKey) -> bytes:
    """Encrypt ``plain`` under a fresh data key wrapped by ``key``; ``name`` is authenticated."""
    return b"".join(seal_parts(plain, name, key))


def seal_parts(plain: bytes, name: str, key: MasterKey) -> tuple[bytes, bytes]:
    """:func:`seal`'s header and ciphertext apart, so a writer need not copy a large object again."""
    data_key = secrets.token_bytes(KEY_BYTES)
    data_nonce = secrets.token_bytes(_NONCE)
    header = _PREFIX + _wrap(data_key, name, key) + data_nonce
    return header, AESGCM(data_key).encrypt(data_nonce, plain, _data_aad(name))


def open_sealed(data: bytes, name: str, keys: KeyRing) -> bytes:
    """The plain bytes of a sealed object.

    Raises:
        EncryptionKeyError: its data key is wrapped under a master key that is not
            configured (raised by :meth:`KeyRing.get`).
        StoredObjectCorruptError: the object is truncated, was altered, or is not ``name``.
    """
    if len(data) < HEADER_BYTES + _TAG or not is_sealed(data):
        raise StoredObjectCorruptError(f"stored object {name[:12]}... is not a complete sealed object")
    data_key = _unwrap(data[KEY_SLOT[0] : KEY_SLOT[0] + KEY_SLOT[1]], name, keys)
    data_nonce = data[HEADER_BYTES - _NONCE : HEADER_BYTES]
    try:
        # A view, not a slice: an 8 MB radiograph is not copied once more before decryption.
        return AESGCM(data_key).decrypt(data_nonce, memoryview(data)[HEADER_BYTES:], _data_aad(name))
    except InvalidTag:
        raise StoredObjectCorruptError(f"stored object {name[:12]}... fails its authentication tag") from None


def rewrap_slot(header: bytes, name: str, keys: KeyRing) -> bytes | None:
    """The new key slot for a sealed object's header under ``keys.current``; None if already there.

    ``header`` is at least the object's first :data:`HEADER_BYTES` bytes.

    Raises:
        EncryptionKeyError, StoredObjectCorruptError: as :func:`open_sealed`.
    """
    if len(header) < HEADER_BYTES or not is_sealed(header):
        raise StoredObjectCorruptError(f"stored object {name[:12]}... is not a sealed object")
    if key_id_of(header) == keys.current.key_id:
        return None
    data_key = _unwrap(header[KEY_SLOT[0] : KEY_SLOT[0] + KEY_SLOT[1]], name, keys)
    return _wrap(data_key, name, keys.current)


def write_slot(path: os.PathLike[str] | str, slot: bytes) -> None:
    """Overwrite a sealed file's key slot in place and flush it to disk.

    68 bytes inside the first 512-byte sector: storage writes such a sector whole, so a
    crash leaves the old slot or the new one, both of which a key ring holding the old and
    the new master key opens (a rotation is simply run again).
    """
    if len(slot) != KEY_SLOT[1]:
        raise ValueError("a key slot is 68 bytes")
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, slot, KEY_SLOT[0])
        os.fsync(fd)
    finally:
        os.close(fd)


def _wrap(data_key: bytes, name: str, key: MasterKey) -> bytes:
    key_id = bytes.fromhex(key.key_id)
    nonce = secrets.token_bytes(_NONCE)
    return key_id + nonce + AESGCM(key.secret).encrypt(nonce, data_key, _slot_aad(name, key_id))


def _unwrap(slot: bytes, name: str, keys: KeyRing) -> bytes:
    key_id, nonce, wrapped = slot[:8], slot[8 : 8 + _NONCE], slot[8 + _NONCE :]
    key = keys.get(key_id.hex())
    try:
        return AESGCM(key.secret).decrypt(nonce, wrapped, _slot_aad(name, key_id))
    except InvalidTag:
        # The key id matched, so the key is right: the slot was altered or belongs elsewhere.
        raise StoredObjectCorruptError(f"stored object {name[:12]}... has an altered data key") from None


def _slot_aad(name: str, key_id: bytes) -> bytes:
    return _PREFIX + b"key\x00" + key_id + name.encode("utf-8")


def _data_aad(name: str) -> bytes:
    return _PREFIX + b"data\x00" + struct.pack(">H", len(name)) + name.encode("utf-8")


if KEY_SLOT[1] != 68 or HEADER_BYTES != 85:  # pragma: no cover - the layout the docstring promises
    raise AssertionError("sealed header layout changed")
