"""Whole-file reads and writes: writes atomic like every medsight writer, reads with typed errors."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from medsight.errors import FileNotFoundInputError, InputError
from medsight.io._atomic import PathLike, atomic_write

__all__ = ["read_bytes", "write_bytes", "write_text"]


def read_bytes(path: PathLike) -> bytes:
    """The whole content of ``path``.

    Raises:
        FileNotFoundInputError: it does not exist.
        InputError: it cannot be read (a folder, no permission).
    """
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise FileNotFoundInputError(f"{path} does not exist") from exc
    except OSError as exc:
        raise InputError(f"{path} cannot be read ({type(exc).__name__})") from exc


def write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` at once or not at all (see :func:`~medsight.io._atomic.atomic_write`).

    Raises:
        OutputError: the destination cannot be written.
    """

    def write(stream: BinaryIO) -> None:
        stream.write(data)

    return atomic_write(path, write)


def write_text(path: PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` at once or not at all."""
    return write_bytes(path, text.encode("utf-8"))
