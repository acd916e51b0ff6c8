"""Envelope encryption of stored objects: round trip, every kind of tampering, rotation, the spool."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest

from medsight.errors import EncryptionKeyError, StoredObjectCorruptError
from medsight.store.keys import KeyRing, MasterKey, generate_key_file, load_key_file
from medsight.store.sealed import HEADER_BYTES, KEY_SLOT, is_sealed, key_id_of, open_sealed, rewrap_slot, seal
from medsight.store.spool import SealedSpool

PLAIN = b"DICM" + bytes(range(256)) * 40
NAME = "ab" * 32


@pytest.fixture
def key() -> MasterKey:
    return MasterKey.from_bytes(bytes(range(32)))


@pytest.fixture
def other() -> MasterKey:
    return MasterKey.from_bytes(bytes(range(1, 33)))


def test_round_trip_and_layout(key: MasterKey) -> None:
    sealed = seal(PLAIN, NAME, key)
    assert is_sealed(sealed)
    assert not is_sealed(PLAIN)
    assert len(sealed) == len(PLAIN) + HEADER_BYTES + 16
    assert key_id_of(sealed) == key.key_id
    assert PLAIN[4:64] not in sealed
    assert open_sealed(sealed, NAME, KeyRing(key)) == PLAIN
    # Fresh data key and nonces each time: the same object never seals to the same bytes.
    assert seal(PLAIN, NAME, key) != sealed


def test_every_changed_byte_is_detected(key: MasterKey) -> None:
    sealed = seal(PLAIN, NAME, key)
    for position in [*range(0, HEADER_BYTES + 2), len(sealed) // 2, len(sealed) - 1]:
        altered = bytearray(sealed)
        altered[position] ^= 0x01
        # A changed key id names a key nobody configured; anything else fails its tag.
        with pytest.raises((StoredObjectCorruptError, EncryptionKeyError)):
            open_sealed(bytes(altered), NAME, KeyRing(key))


def test_truncation_renaming_and_wrong_key(key: MasterKey, other: MasterKey) -> None:
    sealed = seal(PLAIN, NAME, key)
    for cut in (0, 10, HEADER_BYTES, len(sealed) - 1):
        with pytest.raises(StoredObjectCorruptError):
            open_sealed(sealed[:cut], NAME, KeyRing(key))
    with pytest.raises(StoredObjectCorruptError):
        open_sealed(sealed, "cd" * 32, KeyRing(key))  # copied onto another object's name
    with pytest.raises(EncryptionKeyError, match=key.key_id):
        open_sealed(sealed, NAME, KeyRing(other))


def test_rewrap_changes_only_the_key_slot(key: MasterKey, other: MasterKey) -> None:
    sealed = seal(PLAIN, NAME, key)
    ring = KeyRing(other, previous=[key])
    slot = rewrap_slot(sealed[:HEADER_BYTES], NAME, ring)
    assert slot is not None
    assert len(slot) == KEY_SLOT[1]
    start, length = KEY_SLOT
    rotated = sealed[:start] + slot + sealed[start + length :]
    assert rotated[start + length :] == sealed[start + length :]  # the ciphertext is untouched
    assert open_sealed(rotated, NAME, KeyRing(other)) == PLAIN
    with pytest.raises(EncryptionKeyError):
        open_sealed(rotated, NAME, KeyRing(key))
    assert rewrap_slot(rotated[:HEADER_BYTES], NAME, ring) is None  # already under the new key


def test_key_files(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    key = generate_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_key_file(path).key_id == key.key_id
    assert base64.b64encode(key.secret).decode() not in repr(key) + repr(KeyRing(key))
    with pytest.raises(EncryptionKeyError, match="never overwritten"):
        generate_key_file(path)
    (tmp_path / "short.key").write_text(base64.b64encode(b"x" * 16).decode())
    with pytest.raises(EncryptionKeyError, match="16 bytes"):
        load_key_file(tmp_path / "short.key")
    (tmp_path / "junk.key").write_text("not base64 !!")
    with pytest.raises(EncryptionKeyError, match="not a base64"):
        load_key_file(tmp_path / "junk.key")
    with pytest.raises(EncryptionKeyError, match="cannot read"):
        load_key_file(tmp_path / "missing.key")


def _spooled_zip(directory: Path, payload: bytes) -> SealedSpool:
    spool = SealedSpool(str(directory))
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("big.bin", payload)
    spool.close()
    return spool


def test_spool_keeps_the_export_encrypted_and_streams_it_once(tmp_path: Path) -> None:
    payload = (b"PLANTED-PATIENT-NAME " * 60_000)[: 3 * 1024 * 1024 + 17]  # several chunks
    spool = _spooled_zip(tmp_path, payload)
    [resting] = list(tmp_path.iterdir())
    assert b"PLANTED-PATIENT-NAME" not in resting.read_bytes()
    data = b"".join(spool.chunks())
    assert len(data) == spool.size
    assert not list(tmp_path.iterdir())  # gone once streamed
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("big.bin") == payload


def test_spool_detects_a_changed_or_cut_file(tmp_path: Path) -> None:
    spool = _spooled_zip(tmp_path, b"x" * (2 * 1024 * 1024 + 5))
    [resting] = list(tmp_path.iterdir())
    raw = bytearray(resting.read_bytes())
    raw[100] ^= 1
    resting.write_bytes(bytes(raw))
    with pytest.raises(StoredObjectCorruptError):
        b"".join(spool.chunks())
    assert not list(tmp_path.iterdir())
