"""Whole-file writes for results (plots, reports, JSON), atomic like every medsight writer."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from medsight.io._atomic import PathLike, atomic_write

__all__ = ["write_bytes", "write_text"]


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
