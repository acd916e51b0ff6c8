"""All-or-nothing writes."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import BinaryIO

import pytest

from medsight.errors import OutputError
from medsight.io._atomic import atomic_write


def test_content_appears_whole_with_owner_only_mode(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "out.bin", lambda stream: stream.write(b"abc") and None)
    assert target.read_bytes() == b"abc"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize(("error", "expected"), [(OSError(28, "No space"), OutputError), (KeyError("x"), KeyError)])
def test_failure_keeps_old_content_and_removes_temporary(
    tmp_path: Path, error: Exception, expected: type[Exception]
) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def fail(stream: BinaryIO) -> None:
        stream.write(b"half")
        raise error

    with pytest.raises(expected):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_missing_folder_is_an_output_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"out\.bin"):
        atomic_write(tmp_path / "nope" / "out.bin", lambda stream: None)
