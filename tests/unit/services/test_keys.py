"""Master key rotation: data keys re-wrapped in place, plain objects sealed, interrupted runs finished."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.data.synthetic import write_ct_series

from medsight.errors import EncryptionKeyError, StoredObjectCorruptError
from medsight.services.keys import key_status, rotate_master_key
from medsight.settings import StoreSettings
from medsight.store import Store
from medsight.store.keys import generate_key_file
from medsight.store.sealed import HEADER_BYTES, is_sealed, key_id_of


@pytest.fixture
def objects(tmp_path: Path) -> list[bytes]:
    return [path.read_bytes() for path in write_ct_series(tmp_path / "ct", slices=4, rows=8, columns=8)]


def _fill(settings: StoreSettings, objects: list[bytes]) -> list[str]:
    store = Store.open(settings, create_key=True)
    try:
        return [store.ingest(data).sha256 for data in objects]
    finally:
        store.close()


def test_rotation_rewraps_without_touching_ciphertext(tmp_path: Path, objects: list[bytes]) -> None:
    settings = StoreSettings(data_dir=tmp_path / "var")
    hashes = _fill(settings, objects)
    blobs = Store.open(settings).blobs
    before = {sha: blobs.path(sha).read_bytes() for sha in hashes}
    old_id = key_id_of(next(iter(before.values())))
    new = generate_key_file(tmp_path / "new.key")

    report = rotate_master_key(settings, tmp_path / "new.key")

    assert (report.rewrapped, report.sealed, report.unchanged) == (4, 0, 0)
    for sha, sealed in before.items():
        after = blobs.path(sha).read_bytes()
        assert key_id_of(after) == new.key_id
        assert after[HEADER_BYTES:] == sealed[HEADER_BYTES:]  # no object was re-encrypted
    # The data folder's key is now the new one; the old one is retired beside it.
    assert report.installed_at == str(tmp_path / "var" / "master.key")
    assert Path(report.retired_at or "").name == f"master.key.{old_id}.retired"
    store = Store.open(settings)
    try:
        assert sorted(store.blobs.get(sha) for sha in hashes) == sorted(objects)
    finally:
        store.close()
    status = key_status(settings)
    assert status.marker_key_ids == (new.key_id,)
    assert status.files_by_key == {new.key_id: 4}
    # The old key alone no longer opens the store.
    with pytest.raises(EncryptionKeyError, match="wrong master key"):
        Store.open(StoreSettings(data_dir=tmp_path / "var", master_key_file=Path(report.retired_at or "")))


def test_rotation_seals_a_plain_store_and_an_interrupted_one_is_finished(tmp_path: Path, objects: list[bytes]) -> None:
    settings = StoreSettings(data_dir=tmp_path / "var")
    store = Store.open(settings)  # plain: no key
    hashes = [store.ingest(data).sha256 for data in objects]
    store.close()
    generate_key_file(tmp_path / "first.key")
    report = rotate_master_key(settings, tmp_path / "first.key")
    assert report.sealed == 4
    assert report.previous_key_id is None
    assert all(is_sealed(Store.open(settings).blobs.path(sha).read_bytes()) for sha in hashes)

    # Interrupt a second rotation after two files: the marker names both keys meanwhile.
    second = generate_key_file(tmp_path / "second.key")
    calls = 0

    def stop_after_two() -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate_master_key(settings, tmp_path / "second.key", on_file=stop_after_two)
    assert len(key_status(settings).marker_key_ids) == 2
    with pytest.raises(EncryptionKeyError):
        Store.open(StoreSettings(data_dir=tmp_path / "var", master_key_file=tmp_path / "second.key"))
    report = rotate_master_key(settings, tmp_path / "second.key")
    assert (report.rewrapped, report.unchanged) == (2, 2)
    assert key_status(settings).files_by_key == {second.key_id: 4}


def test_rotating_to_the_current_key_is_refused(tmp_path: Path, objects: list[bytes]) -> None:
    settings = StoreSettings(data_dir=tmp_path / "var")
    _fill(settings, objects[:1])
    with pytest.raises(EncryptionKeyError, match="is the current key"):
        rotate_master_key(settings, tmp_path / "var" / "master.key")


def test_a_plain_object_that_no_longer_matches_its_hash_is_not_sealed(tmp_path: Path, objects: list[bytes]) -> None:
    settings = StoreSettings(data_dir=tmp_path / "var")
    store = Store.open(settings)  # plain
    sha = store.ingest(objects[0]).sha256
    store.close()
    path = Store.open(settings).blobs.path(sha)
    path.write_bytes(path.read_bytes()[:-1] + b"X")  # rotted on disk
    generate_key_file(tmp_path / "k.key")
    with pytest.raises(StoredObjectCorruptError, match="not sealed"):
        rotate_master_key(settings, tmp_path / "k.key")
    assert not is_sealed(path.read_bytes())  # left as it was, for the operator to restore
