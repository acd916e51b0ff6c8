"""Where bytes come from: one small file is read once and served from memory, a larger one from disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsight.errors import FileNotFoundInputError
from medsight.io import read_image
from medsight.io.sources import open_path
from medsight.settings import ReadLimits


def test_a_file_below_the_threshold_is_read_once_and_served_from_memory(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 4
    path.write_bytes(data)
    small = open_path(path, read_below=len(data) + 1)
    path.write_bytes(b"changed on disk")  # what was read is what is served
    assert small.content == data
    assert small.size == len(data)
    assert bytes(small.read_at(10, 5)) == data[10:15]
    assert bytes(small.read_at(len(data) - 2, 10)) == data[-2:]  # fewer at the end
    with small.open() as stream:
        assert stream.read() == data
    large = open_path(path, read_below=4)
    assert large.content is None
    assert large.read_at(0, 7) == b"changed"


def test_missing_and_non_files_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundInputError, match="no such file"):
        open_path(tmp_path / "missing.dcm", read_below=1 << 20)
    with pytest.raises(FileNotFoundInputError, match="not a regular file"):
        open_path(tmp_path, read_below=1 << 20)


def test_a_single_dicom_file_is_opened_once(
    pydicom_test_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = pydicom_test_files / "CT_small.dcm"
    expected = read_image(source, ReadLimits()).pixels
    opened: list[Path] = []
    real_open = Path.open

    def counting_open(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        opened.append(self)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", counting_open)
    pixels = read_image(source, ReadLimits()).pixels
    assert opened == [source]  # sniff, header and pixels all from one read
    np.testing.assert_array_equal(pixels, expected)
