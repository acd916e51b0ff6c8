"""Use cases: report a store's encryption at rest, and rotate (or first apply) its master key.

Rotation re-wraps each object's data key under the new master key and rewrites the 68-byte
key slot at the start of its file (:func:`medsight.store.sealed.write_slot`); the object's
ciphertext is not touched. Plain objects (stored before encryption was turned on) are
sealed on the way, which does encrypt them once. The job heatmaps are rotated the same way.

The order makes an interrupted rotation safe to run again: first the store's marker names
both keys (so neither key alone opens the store: a half-rotated store is never served with
a key that cannot open part of it), then every file moves to the new key, then the marker
names the new key alone. Run it with the service stopped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from medsight.errors import EncryptionKeyError, StoredObjectCorruptError
from medsight.io.files import write_bytes
from medsight.services.jobs import HEATMAP_FOLDER
from medsight.settings import StoreSettings
from medsight.store.blobs import BlobStore, sha256_hex
from medsight.store.encryption import DEFAULT_KEY_FILE, Marker, check_keys, configured_keys, read_marker, write_marker
from medsight.store.keys import KeyRing, MasterKey, load_key_file
from medsight.store.sealed import HEADER_BYTES, is_sealed, key_id_of, rewrap_slot, seal, write_slot

__all__ = ["KeyStatus", "RotationReport", "count_files", "key_status", "rotate_master_key"]

_PLAIN = "plain"


@dataclass(frozen=True)
class KeyStatus:
    """What ``medsight keys status`` reports: no key material, only ids and counts."""

    configured_key_id: str | None
    marker_key_ids: tuple[str, ...]
    files_by_key: dict[str, int]  # key id, or "plain", to a count of files

    def to_dict(self) -> dict[str, object]:
        return {
            "configured_key_id": self.configured_key_id,
            "store_key_ids": list(self.marker_key_ids),
            "encrypted": bool(self.marker_key_ids),
            "files_by_key": dict(self.files_by_key),
        }


@dataclass
class RotationReport:
    """What a rotation did: files re-wrapped, plain files sealed, files already under the new key."""

    new_key_id: str
    previous_key_id: str | None
    rewrapped: int = 0
    sealed: int = 0
    unchanged: int = 0
    installed_at: str | None = None  # where the new key now lives, when rotate put it in place
    retired_at: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "new_key_id": self.new_key_id,
            "previous_key_id": self.previous_key_id,
            "rewrapped": self.rewrapped,
            "sealed": self.sealed,
            "unchanged": self.unchanged,
            "installed_at": self.installed_at,
            "retired_at": self.retired_at,
        }


def key_status(settings: StoreSettings) -> KeyStatus:
    """The configured key's id, the ids the store records, and how many files each key seals."""
    keys = configured_keys(settings)
    marker = read_marker(Path(settings.data_dir) / "objects")
    counts: Counter[str] = Counter()
    for path, _name in _files(Path(settings.data_dir)):
        header = _header(path)
        counts[key_id_of(header) if is_sealed(header) else _PLAIN] += 1
    return KeyStatus(
        configured_key_id=keys.current.key_id if keys else None,
        marker_key_ids=marker.key_ids if marker else (),
        files_by_key=dict(sorted(counts.items())),
    )


def count_files(settings: StoreSettings) -> int:
    """How many files a rotation visits (for a progress bar)."""
    return sum(1 for _ in _files(Path(settings.data_dir)))


def rotate_master_key(
    settings: StoreSettings, new_key_file: Path, *, on_file: Callable[[], None] = lambda: None
) -> RotationReport:
    """Move every object and heatmap of the store to the master key in ``new_key_file``.

    The current key is the one ``settings`` configure (none for a plain store, which this
    then seals). When it came from the data folder's ``master.key``, the new key takes its
    place there and the old file is renamed ``master.key.<id>.retired``.

    Raises:
        EncryptionKeyError: the new key file is unreadable, the current key is missing or
            wrong, or a file is sealed under a key that neither opens.
        StoredObjectCorruptError: a file fails its authentication (it is left as it is).
    """
    data_dir = Path(settings.data_dir)
    objects = data_dir / "objects"
    new = load_key_file(new_key_file)
    old = configured_keys(settings)
    if old is not None and old.current.key_id == new.key_id:
        raise EncryptionKeyError(f"the new key is the current key ({new.key_id}); generate another")
    ring = KeyRing(new, previous=[old.current] if old else [])
    marker = read_marker(objects)
    if marker is not None and old is None:
        raise EncryptionKeyError(f"this store is encrypted under {' and '.join(marker.key_ids)}; give its current key")
    check_keys(objects, ring)  # every recorded key is in the ring; the marker now also names the new key
    report = RotationReport(new_key_id=new.key_id, previous_key_id=old.current.key_id if old else None)
    blobs = BlobStore(objects, ring)
    for path, name in _files(data_dir):
        _rotate_file(path, name, ring, blobs, report)
        on_file()
    write_marker(objects, Marker((new.key_id,)))
    _install(settings, new_key_file, new, old, report)
    return report


def _rotate_file(path: Path, name: str, ring: KeyRing, blobs: BlobStore, report: RotationReport) -> None:
    is_object = path.parent.parent == blobs.root
    with blobs.lock(name) if is_object else nullcontext():
        header = _header(path)
        if not is_sealed(header):
            plain = path.read_bytes()
            # A sealed object is read back by its tag alone, never re-hashed: seal only
            # bytes that are still the object they are named after.
            if is_object and sha256_hex(plain) != name:
                raise StoredObjectCorruptError(f"stored object {name[:12]}... does not match its sha256; not sealed")
            write_bytes(path, seal(plain, name, ring.current))
            report.sealed += 1
            return
        slot = rewrap_slot(header, name, ring)
        if slot is None:
            report.unchanged += 1
            return
        write_slot(path, slot)
        report.rewrapped += 1


def _install(
    settings: StoreSettings, new_key_file: Path, new: MasterKey, old: KeyRing | None, report: RotationReport
) -> None:
    """Put the new key where the store looks for it when the old one came from the data folder."""
    default = Path(settings.data_dir) / DEFAULT_KEY_FILE
    uses_default = settings.master_key is None and settings.master_key_file is None
    if not uses_default:
        report.notes.append("configure the new key: MEDSIGHT_MASTER_KEY_FILE or MEDSIGHT_MASTER_KEY")
        return
    if default.is_file() and old is not None:
        retired = default.with_name(f"{DEFAULT_KEY_FILE}.{old.current.key_id}.retired")
        default.rename(retired)
        report.retired_at = str(retired)
        report.notes.append("the retired key opens backups taken before this rotation: move it offline")
    write_bytes(default, Path(new_key_file).read_bytes())
    default.chmod(0o600)
    report.installed_at = str(default)


def _files(data_dir: Path) -> Iterator[tuple[Path, str]]:
    """Every sealed-or-sealable file of the store and the name its sealing authenticates."""
    objects = BlobStore(data_dir / "objects")
    for sha256 in objects.iter_hashes():
        yield objects.path(sha256), sha256
    heatmaps = data_dir / HEATMAP_FOLDER
    if heatmaps.is_dir():
        for path in sorted(heatmaps.glob("*.png")):
            yield path, path.name


def _header(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.read(HEADER_BYTES)
