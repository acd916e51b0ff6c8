"""Inputs that would exhaust memory are refused before the allocation, with a typed error."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pydicom
import pytest

from medsight.errors import (
    ArchiveError,
    NoImagesFoundError,
    ResourceLimitError,
    UnsupportedFormatError,
    UnsupportedTransferSyntaxError,
)
from medsight.io import read, read_image
from medsight.settings import ReadLimits


def test_declared_dimensions_beyond_the_limit_are_refused(pydicom_test_files: Path, tmp_path: Path) -> None:
    dataset = pydicom.dcmread(pydicom_test_files / "CT_small.dcm")
    dataset.Rows, dataset.Columns, dataset.NumberOfFrames = 65535, 65535, 1000
    target = tmp_path / "huge.dcm"
    dataset.save_as(target)
    with pytest.raises(ResourceLimitError, match="limit"):
        read_image(target, ReadLimits())


def test_the_limit_is_configurable(pydicom_test_files: Path) -> None:
    with pytest.raises(ResourceLimitError):
        read_image(pydicom_test_files / "CT_small.dcm", ReadLimits(max_pixel_bytes=1024))
    assert read_image(pydicom_test_files / "CT_small.dcm", ReadLimits(max_pixel_bytes=128 * 128 * 4)).shape == (
        128,
        128,
    )


def test_a_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("zeros.dcm", b"\x00" * (64 * 1024 * 1024))
    assert archive.stat().st_size < 1024 * 1024
    with pytest.raises(ResourceLimitError, match="bomb"):
        read(archive, ReadLimits())


def test_an_archive_beyond_the_total_size_limit_is_refused(pydicom_test_files: Path, tmp_path: Path) -> None:
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
        for index in range(3):
            zipped.write(pydicom_test_files / "CT_small.dcm", f"{index}.dcm")
    with pytest.raises(ResourceLimitError):
        read(archive, ReadLimits(max_archive_bytes=50_000))
    with pytest.raises(ResourceLimitError):
        read(archive, ReadLimits(max_archive_members=2))


def test_unsafe_member_names_are_refused(pydicom_test_files: Path, tmp_path: Path) -> None:
    archive = tmp_path / "escape.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(pydicom_test_files / "CT_small.dcm", "../../etc/evil.dcm")
    with pytest.raises(ArchiveError):
        read(archive, ReadLimits())


def test_a_zip_of_dicom_reads_like_a_folder(pydicom_test_files: Path, tmp_path: Path) -> None:
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(pydicom_test_files / "CT_small.dcm", "study/ct.dcm")
        zipped.write(pydicom_test_files / "MR_small.dcm", "study/mr.dcm")
    images, failures = read(archive, ReadLimits())
    assert len(images) == 2
    assert not failures


def test_an_unsupported_transfer_syntax_is_typed(pydicom_test_files: Path, tmp_path: Path) -> None:
    dataset = pydicom.dcmread(pydicom_test_files / "JPEG2000.dcm")
    dataset.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder here
    target = tmp_path / "mpeg.dcm"
    dataset.save_as(target)
    with pytest.raises(UnsupportedTransferSyntaxError):
        read_image(target, ReadLimits())


def test_random_bytes_and_empty_inputs(tmp_path: Path) -> None:
    noise = tmp_path / "noise.bin"
    noise.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(UnsupportedFormatError):
        read_image(noise, ReadLimits())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoImagesFoundError):
        read_image(empty, ReadLimits())
