"""Content-addressed files: each object lives at ``objects/ab/cdef...``, named by its sha256.

A write goes to a temporary file in the destination folder, is fsynced and renamed
(:func:`medsight.io._atomic.atomic_write`), then the folder is fsynced so the name
survives a power cut too; files are 0600. Every read hashes the bytes again: a file
that changed on disk is a :class:`~medsight.errors.StoredObjectCorruptError`, never
bytes handed on as if they were the object that was stored.

With a :class:`~medsight.store.keys.KeyRing` the files are sealed (AES-256-GCM under a
per-object data key wrapped by the master key, :mod:`medsight.store.sealed`); the name
stays the sha256 of the plain object, authenticated by the encryption, so opening a sealed
file checks it as re-hashing a plain one does. A plain file
in a sealed store (written before encryption was turned on) still reads;
``medsight keys rotate`` seals it.

Two ingests of the same bytes, or an ingest and the removal of an orphan, must not
interleave (one could remove the file the other has just recorded). :meth:`BlobStore.lock`
serialises them per object: a thread lock, and an advisory file lock (``flock``) for
other processes sharing the folder where the platform has one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from medsight.errors import EncryptionKeyError, OutputError, StoredObjectCorruptError
from medsight.io._atomic import atomic_write
from medsight.store.keys import KeyRing
from medsight.store.sealed import is_sealed, open_sealed, seal, seal_parts

if sys.platform != "win32":
    import fcntl

__all__ = ["BlobStore", "read_file", "sha256_hex", "write_file"]

_STRIPES = 256  # one lock per first byte of the hash: enough to keep unrelated writes apart


def sha256_hex(data: bytes) -> str:
    """The sha256 of ``data`` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    """Objects by sha256 under ``root``.

    Args:
        root: the ``objects`` folder; created on first write.
        keys: seal every new file under ``keys.current`` and open sealed ones; None
            writes plain files (and refuses to read sealed ones).
    """

    def __init__(self, root: Path, keys: KeyRing | None = None) -> None:
        self.root = Path(root)
        self.keys = keys
        self._locks = [threading.Lock() for _ in range(_STRIPES)]

    def path(self, sha256: str) -> Path:
        """Where the object with this hash lives."""
        if not _is_digest(sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes, sha256: str) -> bool:
        """Store ``data`` under its hash (already computed); hold :meth:`lock` around it.

        Returns:
            True when the file was written now, False when it was already there.

        Raises:
            OutputError: the folder cannot be created or written.
        """
        target = self.path(sha256)
        if target.is_file():
            return False
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise OutputError(f"cannot create the object folder: {exc.strerror or type(exc).__name__}") from exc

        parts = seal_parts(data, sha256, self.keys.current) if self.keys is not None else (data,)

        def write(stream: BinaryIO) -> None:
            for part in parts:
                stream.write(part)

        atomic_write(target, write)
        _fsync_folder(target.parent)
        return True

    def get(self, sha256: str) -> bytes:
        """The object's bytes, checked against its hash.

        Raises:
            StoredObjectCorruptError: the file is missing, unreadable, fails its
                authentication tag, or its bytes do not hash to ``sha256``.
            EncryptionKeyError: the file is sealed under a key this store was not given.
        """
        try:
            data = self.path(sha256).read_bytes()
        except OSError as exc:
            raise StoredObjectCorruptError(f"stored object {sha256[:12]}... is missing or unreadable") from exc
        if is_sealed(data):
            if self.keys is None:
                raise EncryptionKeyError("this store's objects are encrypted; give its master key")
            # Authenticated decryption is the integrity check: the GCM tag covers every byte
            # and the name (the sha256 the bytes had when :meth:`put` sealed them), so any
            # change fails here. Hashing again would only add time (~5 ms for 8 MB).
            return open_sealed(data, sha256, self.keys)
        if sha256_hex(data) != sha256:
            raise StoredObjectCorruptError(f"stored object {sha256[:12]}... does not match its sha256")
        return data

    def remove(self, sha256: str) -> None:
        """Delete the object if present (hold :meth:`lock`); a missing file is not an error."""
        with contextlib.suppress(FileNotFoundError):
            self.path(sha256).unlink()

    def iter_hashes(self) -> Iterator[str]:
        """The hash of every object file under the root (temporary files skipped)."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for file in sorted(folder.iterdir()):
                if _is_digest(folder.name + file.name):
                    yield folder.name + file.name

    @contextlib.contextmanager
    def lock(self, sha256: str) -> Iterator[None]:
        """Hold the lock of one object (shared by all objects with its first byte)."""
        with self._stripe_lock(sha256[:2]):
            yield

    @contextlib.contextmanager
    def lock_many(self, hashes: Iterable[str]) -> Iterator[None]:
        """Hold the locks of several objects, taken in one global order (no deadlock)."""
        with contextlib.ExitStack() as stack:
            for stripe in sorted({sha256[:2] for sha256 in hashes}):
                stack.enter_context(self._stripe_lock(stripe))
            yield

    @contextlib.contextmanager
    def _stripe_lock(self, prefix: str) -> Iterator[None]:
        with self._locks[int(prefix, 16)]:
            if sys.platform == "win32":  # pragma: no cover - no flock: threads of one process only
                yield
                return
            lock_dir = self.root / ".locks"
            lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(lock_dir / prefix, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock


def write_file(path: Path, data: bytes, name: str, keys: KeyRing | None) -> None:
    """Write one derived file (a heatmap, say) at once or not at all, sealed when ``keys`` are given.

    ``name`` is authenticated with the contents: :func:`read_file` with another name fails.

    Raises:
        OutputError: the file cannot be written.
    """
    stored = seal(data, name, keys.current) if keys is not None else data

    def write(stream: BinaryIO) -> None:
        stream.write(stored)

    atomic_write(path, write)


def read_file(path: Path, name: str, keys: KeyRing | None) -> bytes:
    """The plain contents of a file :func:`write_file` wrote (a plain file reads as it is).

    Raises:
        OSError: the file cannot be read. EncryptionKeyError, StoredObjectCorruptError:
            it is sealed and cannot be opened with ``keys`` under ``name``.
    """
    data = Path(path).read_bytes()
    if not is_sealed(data):
        return data
    if keys is None:
        raise EncryptionKeyError("this file is encrypted; give the store's master key")
    return open_sealed(data, name, keys)


def _is_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk (POSIX).
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
