"""Write a file all at once or not at all.

Every writer in :mod:`medsight.io` goes through :func:`atomic_write`: the bytes go to a
temporary file in the destination's folder, are flushed to disk, and only then replace
the destination with :func:`os.replace` (atomic on POSIX and Windows within one file
system). A failure part-way leaves the destination as it was and no temporary behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from medsight.errors import OutputError

__all__ = ["PathLike", "atomic_write"]

PathLike = str | os.PathLike[str]


def atomic_write(path: PathLike, write: Callable[[BinaryIO], None], *, fsync: bool = True) -> Path:
    """Run ``write`` on a temporary file beside ``path``, then move it into place.

    The file is created with mode 0600 (owner only), as :func:`tempfile.mkstemp` does:
    derived images may carry patient data.

    Args:
        path: the destination; its folder must exist.
        write: writes the whole content to the binary stream it is given.
        fsync: flush the file to disk before the rename (a batch writer that syncs once
            at its end passes False; the rename is atomic either way).

    Returns:
        The destination as a :class:`~pathlib.Path`.

    Raises:
        OutputError: the folder is missing or not writable, the disk is full, or the
            destination cannot be replaced. Errors raised by ``write`` itself that are
            not :class:`OSError` propagate unchanged (the temporary is still removed).
    """
    target = Path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {target.name}: {_reason(exc)}") from exc
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            if fsync:
                os.fsync(stream.fileno())
        os.replace(tmp_name, target)
    except OSError as exc:
        _remove(tmp_name)
        raise OutputError(f"cannot write {target.name}: {_reason(exc)}") from exc
    except BaseException:
        _remove(tmp_name)
        raise
    return target


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _remove(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)
