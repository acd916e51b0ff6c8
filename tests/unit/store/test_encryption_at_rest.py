"""A store with a master key: objects rest sealed, the database holds no pixels, a wrong key stops start-up."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pydicom
import pytest
from tests.data.synthetic import PLANTED

from medsight.errors import EncryptionKeyError
from medsight.settings import StoreSettings
from medsight.store import Store
from medsight.store.encryption import MARKER, read_marker
from medsight.store.keys import generate_key_file
from medsight.store.sealed import is_sealed, key_id_of

MAX = 1024 * 1024


def _open(data_dir: Path, key_file: Path | None = None, **extra: object) -> Store:
    settings = StoreSettings(data_dir=data_dir, max_object_bytes=MAX, master_key_file=key_file, **extra)  # type: ignore[arg-type]
    return Store.open(settings)


def test_objects_rest_sealed_and_read_back_plain(tmp_path: Path, ct_series: list[bytes]) -> None:
    key = generate_key_file(tmp_path / "keys" / "master.key")
    store = _open(tmp_path / "var", tmp_path / "keys" / "master.key")
    try:
        results = [store.ingest(data) for data in ct_series]
        for data, result in zip(ct_series, results, strict=True):
            resting = store.blobs.path(result.sha256).read_bytes()
            assert is_sealed(resting)
            assert key_id_of(resting) == key.key_id
            for value in PLANTED.values():
                assert value.encode() not in resting
            assert data[-64:] not in resting  # the pixel data
            assert store.open_instance(result.sop_instance_uid) == data
    finally:
        store.close()
    assert read_marker(tmp_path / "var" / "objects").key_ids == (key.key_id,)  # type: ignore[union-attr]
    database = (tmp_path / "var" / "medsight.db").read_bytes()
    for data in ct_series:
        assert data[-64:] not in database  # the database holds no pixel data


def test_a_missing_or_wrong_key_stops_the_store_at_open(tmp_path: Path, ct_series: list[bytes]) -> None:
    key = generate_key_file(tmp_path / "a.key")
    store = _open(tmp_path / "var", tmp_path / "a.key")
    store.ingest(ct_series[0])
    store.close()
    with pytest.raises(EncryptionKeyError, match=f"encrypted at rest under master key {key.key_id}"):
        _open(tmp_path / "var")
    other = generate_key_file(tmp_path / "b.key")
    with pytest.raises(EncryptionKeyError, match=f"under key {key.key_id}, the configured key is {other.key_id}"):
        _open(tmp_path / "var", tmp_path / "b.key")
    # The same key from the environment's base64 text opens it.
    text = (tmp_path / "a.key").read_text().strip()
    reopened = _open(tmp_path / "var", master_key=text)
    assert len(reopened.open_instance(_uid(ct_series[0]))) == len(ct_series[0])
    reopened.close()
    with pytest.raises(EncryptionKeyError, match="MEDSIGHT_MASTER_KEY"):
        _open(tmp_path / "var", master_key=base64.b64encode(b"short").decode())


def test_a_plain_store_given_a_key_seals_new_objects_and_still_reads_old(
    tmp_path: Path, ct_series: list[bytes]
) -> None:
    plain = _open(tmp_path / "var")
    old = plain.ingest(ct_series[0])
    plain.close()
    assert not (tmp_path / "var" / "objects" / MARKER).exists()
    generate_key_file(tmp_path / "k.key")
    store = _open(tmp_path / "var", tmp_path / "k.key")
    try:
        new = store.ingest(ct_series[1])
        assert not is_sealed(store.blobs.path(old.sha256).read_bytes())
        assert is_sealed(store.blobs.path(new.sha256).read_bytes())
        assert store.open_instance(old.sop_instance_uid) == ct_series[0]
        assert store.open_instance(new.sop_instance_uid) == ct_series[1]
    finally:
        store.close()
    with pytest.raises(EncryptionKeyError):
        _open(tmp_path / "var")  # now marked: a key is required


def test_the_key_file_in_the_data_folder_is_found_and_made_only_when_asked(tmp_path: Path) -> None:
    settings = StoreSettings(data_dir=tmp_path / "var", max_object_bytes=MAX)
    Store.open(settings).close()
    assert not (tmp_path / "var" / "master.key").exists()  # the library default stays plain
    Store.open(settings, create_key=True).close()
    assert (tmp_path / "var" / "master.key").stat().st_mode & 0o777 == 0o600
    Store.open(settings).close()  # found again without being named
    (tmp_path / "var" / "master.key").unlink()
    with pytest.raises(EncryptionKeyError):
        Store.open(settings, create_key=True)  # a lost key is never silently replaced


def _uid(data: bytes) -> str:
    return str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID)
