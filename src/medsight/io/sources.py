"""Where bytes come from: a file, a folder (recursive), a DICOMDIR or a zip archive.

Each input is turned into :class:`Member` objects, one per file, that can be opened
as a binary stream. Zip archives are checked before anything is inflated (member
count, total size, compression ratio) and read with a hard cap, so a zip bomb or a
lying header costs at most the configured limit.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from medsight.errors import ArchiveError, FileNotFoundInputError, ResourceLimitError
from medsight.settings import ReadLimits

__all__ = ["Member", "iter_folder", "iter_zip", "open_path"]

# Below this size a high compression ratio is normal (headers of zeros) and harmless.
_RATIO_CHECK_MIN_BYTES = 1024 * 1024
_SKIPPED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass(frozen=True, slots=True)
class Member:
    """One file of an input, with a label that says where it came from.

    Attributes:
        label: path for people (``scan.zip!series/1.dcm`` for archive members).
        size: bytes in the file (uncompressed size for archive members).
        path: the file on disk, when it is one (lets readers seek instead of copying).
        opener: returns a fresh binary stream positioned at the start.
        content: the whole file, when it was read into memory (small single files).
    """

    label: str
    size: int
    path: Path | None
    opener: Callable[[], BinaryIO]
    content: bytes | None = field(default=None, repr=False)

    def open(self) -> BinaryIO:
        """Open the member for reading."""
        return self.opener()

    def read_at(self, offset: int, size: int) -> bytes | memoryview:
        """Up to ``size`` bytes from ``offset`` (fewer at the end); no copy when in memory."""
        if self.content is not None:
            return memoryview(self.content)[offset : offset + size]
        with self.open() as stream:
            stream.seek(offset)
            return stream.read(size)


def open_path(path: Path, *, read_below: int = 0) -> Member:
    """A member for one file on disk; a typed error when it is missing or not a file.

    A file smaller than ``read_below`` bytes is read now, in one call, and served from
    memory: reading one small file is otherwise three opens (sniff, header, pixels),
    each costing as much as reading a few hundred kilobytes.
    """
    try:
        info = path.stat()
    except OSError as exc:
        raise FileNotFoundInputError(f"{path}: no such file or folder") from exc
    if not stat.S_ISREG(info.st_mode):
        raise FileNotFoundInputError(f"{path}: not a regular file")
    if info.st_size < read_below:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FileNotFoundInputError(f"{path}: cannot be read") from exc
        return Member(label=str(path), size=len(data), path=path, opener=lambda: io.BytesIO(data), content=data)
    return Member(label=str(path), size=info.st_size, path=path, opener=lambda: path.open("rb"))


def iter_folder(root: Path) -> Iterator[Member]:
    """Every regular file under ``root``, depth first in sorted order, hidden files skipped."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name in _SKIPPED_NAMES:
                continue
            path = Path(dirpath) / name
            if path.is_file():
                yield open_path(path)


def iter_zip(path: Path, limits: ReadLimits) -> Iterator[Member]:
    """Members of a zip archive, refused whole if it breaks the limits.

    Raises:
        ArchiveError: the archive is corrupt or holds unsafe names.
        ResourceLimitError: too many members, too many bytes, or a bomb-like ratio.
    """
    try:
        archive = zipfile.ZipFile(path)
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise ArchiveError(f"{path}: not a readable zip archive") from exc
    _check_archive(path, infos, limits)
    for info in infos:
        name = info.filename
        if Path(name).name.startswith(".") or Path(name).name in _SKIPPED_NAMES:
            continue
        yield Member(
            label=f"{path}!{name}",
            size=info.file_size,
            path=None,
            opener=_zip_opener(path, info, limits),
        )


def _check_archive(path: Path, infos: list[zipfile.ZipInfo], limits: ReadLimits) -> None:
    if len(infos) > limits.max_archive_members:
        raise ResourceLimitError(f"{path}: {len(infos)} members, more than the limit of {limits.max_archive_members}")
    total = sum(info.file_size for info in infos)
    if total > limits.max_archive_bytes:
        raise ResourceLimitError(f"{path}: expands to {total} bytes, more than the limit of {limits.max_archive_bytes}")
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in Path(name).parts or ":" in name:
            raise ArchiveError(f"{path}: unsafe member name (absolute or escaping the archive)")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_CHECK_MIN_BYTES and ratio > limits.max_compression_ratio:
            raise ResourceLimitError(f"{path}: a member has compression ratio {ratio:.0f}, a likely zip bomb")


def _zip_opener(path: Path, info: zipfile.ZipInfo, limits: ReadLimits) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        # Read at most the declared size + 1: a member whose header lies about its size
        # is caught here instead of inflating without bound.
        cap = min(info.file_size, limits.max_archive_bytes) + 1
        try:
            with zipfile.ZipFile(path) as archive, archive.open(info) as stream:
                data = stream.read(cap)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError) as exc:
            raise ArchiveError(f"{path}!{info.filename}: corrupt archive member") from exc
        if len(data) > info.file_size:
            raise ResourceLimitError(f"{path}!{info.filename}: inflates past its declared size")
        return io.BytesIO(data)

    return opener
