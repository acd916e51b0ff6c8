"""Append-only JSON Lines files: one record a line, appended whole under a lock, synced.

Used for small append-only registries (model releases) where a database would be more
machinery than the record needs. A record is one ``write`` of one line on a file opened
for appending, under an exclusive ``flock``, then ``fsync``: two writers queue, and a
crash leaves at most a partial last line, which :func:`read_json_lines` reports rather
than skips.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from medsight.errors import InputError, OutputError

__all__ = ["append_json_line", "read_json_lines"]


def append_json_line(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one line of ``path`` (created with its folder, mode 0644).

    Raises:
        OutputError: the file cannot be written.
    """
    line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock
    except OSError as exc:
        raise OutputError(f"cannot append to {path.name} ({type(exc).__name__})") from exc


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Every record of ``path``, in order; an absent file holds none.

    Raises:
        InputError: the file cannot be read, or a line is not a JSON object.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path.name} ({type(exc).__name__})") from exc
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise InputError(f"{path.name} line {number} is not JSON (a write was cut short?)") from None
        if not isinstance(record, dict):
            raise InputError(f"{path.name} line {number} is not a JSON object")
        records.append(record)
    return records
