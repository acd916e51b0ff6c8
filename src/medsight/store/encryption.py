"""Which master key a store uses, and the check that it is the right one, at start-up.

The objects folder carries a small marker, ``objects/ENCRYPTION.json``, naming the key
ids its sealed objects are wrapped under (two while a rotation is under way). Opening the
store compares it with the configured key ring, so that:

* a sealed store opened without a key fails at once: "this store is encrypted at rest
  under master key 3f2a...; give it with MEDSIGHT_MASTER_KEY_FILE";
* a sealed store opened with another key fails at once, naming both ids;
* a plain store opened with a key becomes sealed from then on (the marker is written);
  its older plain objects stay readable until ``medsight keys rotate`` seals them.

Where the key comes from (:func:`configured_keys`): ``MEDSIGHT_MASTER_KEY`` (base64 text),
else ``MEDSIGHT_MASTER_KEY_FILE``, else ``master.key`` in the data folder if present. The
service (``medsight serve``) creates that last one for a new store, so a store is sealed
by default; a deployment points ``MEDSIGHT_MASTER_KEY_FILE`` at a key kept elsewhere.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from medsight.errors import EncryptionKeyError
from medsight.io.files import write_text
from medsight.settings import StoreSettings
from medsight.store.keys import KeyRing, generate_key_file, load_key_file, parse_key_text

__all__ = ["DEFAULT_KEY_FILE", "MARKER", "Marker", "check_keys", "configured_keys", "read_marker", "write_marker"]

_log = logging.getLogger(__name__)

DEFAULT_KEY_FILE = "master.key"
MARKER = "ENCRYPTION.json"
_FORMAT = "medsight-sealed-v1"


@dataclass(frozen=True)
class Marker:
    """The key ids a store's sealed objects are under (more than one mid-rotation)."""

    key_ids: tuple[str, ...]


def configured_keys(settings: StoreSettings, *, create: bool = False) -> KeyRing | None:
    """The key ring ``settings`` give, or None for a plain store.

    Args:
        create: make ``<data_dir>/master.key`` when no key is configured and the store
            is not sealed yet (the service does, so a new store is sealed by default).

    Raises:
        EncryptionKeyError: a configured key is unreadable or malformed.
    """
    if settings.master_key is not None:
        return KeyRing(parse_key_text(settings.master_key.get_secret_value(), source="MEDSIGHT_MASTER_KEY"))
    if settings.master_key_file is not None:
        return KeyRing(load_key_file(settings.master_key_file))
    default = Path(settings.data_dir) / DEFAULT_KEY_FILE
    if default.is_file():
        return KeyRing(load_key_file(default))
    if create and read_marker(Path(settings.data_dir) / "objects") is None:
        key = generate_key_file(default)
        # INFO: the service's log shows it; a one-off CLI command stays one line.
        _log.info(
            "encryption at rest: made master key %s in the data folder (%s); keep a copy off this disk "
            "(without it the stored objects cannot be read) and prefer MEDSIGHT_MASTER_KEY_FILE elsewhere",
            key.key_id,
            DEFAULT_KEY_FILE,
        )
        return KeyRing(key)
    return None


def check_keys(objects: Path, keys: KeyRing | None) -> None:
    """Fail now if the store's sealed objects cannot be opened with ``keys``; mark a newly sealed store.

    Raises:
        EncryptionKeyError: the store is sealed and no key, or another key, is configured.
    """
    marker = read_marker(objects)
    if keys is not None:
        _log.info("encryption at rest: objects sealed under master key %s", keys.current.key_id)
    if marker is None:
        if keys is not None:
            write_marker(objects, Marker((keys.current.key_id,)))
        return
    if keys is None:
        raise EncryptionKeyError(
            f"this store is encrypted at rest under master key {_ids(marker.key_ids)}; "
            "give it with MEDSIGHT_MASTER_KEY_FILE or MEDSIGHT_MASTER_KEY"
        )
    missing = [key_id for key_id in marker.key_ids if key_id not in keys.key_ids]
    if missing:
        raise EncryptionKeyError(
            f"wrong master key: this store's objects are under key {_ids(missing)}, "
            f"the configured key is {keys.current.key_id}"
        )
    if keys.current.key_id not in marker.key_ids:
        # A configured key that opens everything but is not yet recorded: a rotation's
        # new key given as current before the rotation ran. New objects would be wrapped
        # under it, so the marker must name it too.
        write_marker(objects, Marker((*marker.key_ids, keys.current.key_id)))


def read_marker(objects: Path) -> Marker | None:
    """The store's marker, or None when it has never been sealed.

    Raises:
        EncryptionKeyError: the marker exists but cannot be read (never guessed around).
    """
    path = Path(objects) / MARKER
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EncryptionKeyError(f"the store's {MARKER} is unreadable") from exc
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise EncryptionKeyError(f"the store's {MARKER} is not a medsight encryption marker")
    ids = document.get("key_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise EncryptionKeyError(f"the store's {MARKER} is not a medsight encryption marker")
    return Marker(tuple(ids))


def write_marker(objects: Path, marker: Marker) -> None:
    """Record the key ids (atomically: the old marker or the new one, never half of one)."""
    Path(objects).mkdir(parents=True, exist_ok=True, mode=0o700)
    document = {"format": _FORMAT, "key_ids": list(marker.key_ids)}
    write_text(Path(objects) / MARKER, json.dumps(document, indent=1) + "\n")


def _ids(ids: tuple[str, ...] | list[str]) -> str:
    return " and ".join(ids)
