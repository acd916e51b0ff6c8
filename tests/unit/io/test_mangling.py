"""Broken input: truncated, bit-flipped and tag-stripped files raise only MedsightError.

Every sample is mangled at seeded random places; whatever the reader makes of the
result, the only exception allowed out is a MedsightError (never a pydicom, numpy or
OS error, never a traceback on the CLI).
"""

from __future__ import annotations

import contextlib
import random
import zipfile
from pathlib import Path

import pydicom
import pytest

from medsight.errors import MedsightError
from medsight.io import read_image
from medsight.settings import ReadLimits

LIMITS = ReadLimits(max_pixel_bytes=256 * 1024 * 1024)
PYDICOM_SOURCES = [
    "CT_small.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm",
    "JPGExtended.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "examples_palette.dcm",
    "liver_1frame.dcm",
    "rtdose.dcm",
]
CASES_PER_FILE = 12


def _sources(pydicom_files: Path) -> list[Path]:
    sources = [pydicom_files / name for name in PYDICOM_SOURCES]
    samples = Path(__file__).resolve().parents[3].parent / "shared" / "samples"
    if samples.is_dir():
        sources += sorted(p for p in samples.rglob("*.dcm") if p.stat().st_size < 400_000)
    return sources


def _read_allowing_only_medsight_errors(path: Path) -> None:
    with contextlib.suppress(MedsightError):
        read_image(path, LIMITS)


def test_truncated_at_random_offsets(pydicom_test_files: Path, tmp_path: Path) -> None:
    rng = random.Random(20261126)
    for source in _sources(pydicom_test_files):
        data = source.read_bytes()
        for case in range(CASES_PER_FILE):
            cut = rng.randrange(0, len(data))
            target = tmp_path / f"{source.stem}-cut{case}.dcm"
            target.write_bytes(data[:cut])
            _read_allowing_only_medsight_errors(target)


def test_flipped_bytes(pydicom_test_files: Path, tmp_path: Path) -> None:
    rng = random.Random(7)
    for source in _sources(pydicom_test_files):
        data = bytearray(source.read_bytes())
        for case in range(CASES_PER_FILE):
            mangled = bytearray(data)
            for _ in range(rng.choice((1, 4, 32))):
                # Favour the header, where a flipped byte changes structure, not values.
                position = rng.randrange(0, min(len(mangled), 4096) if rng.random() < 0.8 else len(mangled))
                mangled[position] ^= 1 << rng.randrange(8)
            target = tmp_path / f"{source.stem}-flip{case}.dcm"
            target.write_bytes(bytes(mangled))
            _read_allowing_only_medsight_errors(target)


DROPPABLE = [
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "PixelRepresentation",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "NumberOfFrames",
    "PixelSpacing",
    "ImageOrientationPatient",
    "RescaleSlope",
    "PlanarConfiguration",
    "RedPaletteColorLookupTableData",
    "SOPInstanceUID",
]


@pytest.mark.parametrize("keyword", DROPPABLE)
def test_dropped_tags(pydicom_test_files: Path, tmp_path: Path, keyword: str) -> None:
    for source in _sources(pydicom_test_files):
        dataset = pydicom.dcmread(source, force=True)
        if keyword not in dataset:
            continue
        del dataset[keyword]
        target = tmp_path / f"{source.stem}-no{keyword}.dcm"
        dataset.save_as(target, enforce_file_format=False)
        _read_allowing_only_medsight_errors(target)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("Rows", 0),
        ("Rows", 65535),
        ("Columns", 65535),
        ("BitsAllocated", 12),
        ("SamplesPerPixel", 2),
        ("NumberOfFrames", "99999"),
        ("BitsStored", 40),
        ("PixelSpacing", ["a", "b"]),
        ("RescaleSlope", "x"),
    ],
)
def test_lying_values(pydicom_test_files: Path, tmp_path: Path, keyword: str, value: object) -> None:
    dataset = pydicom.dcmread(pydicom_test_files / "CT_small.dcm")
    if isinstance(value, int):
        setattr(dataset, keyword, value)
    else:  # a value its VR forbids: written under a text VR so pydicom lets it through
        tag = pydicom.datadict.tag_for_keyword(keyword)
        dataset.add_new(tag, "LO", value)
    target = tmp_path / "lying.dcm"
    dataset.save_as(target, enforce_file_format=False)
    _read_allowing_only_medsight_errors(target)


def test_a_mangled_zip_member(pydicom_test_files: Path, tmp_path: Path) -> None:
    archive = tmp_path / "series.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(pydicom_test_files / "CT_small.dcm", "a.dcm")
    data = bytearray(archive.read_bytes())
    for offset in range(40, len(data), max(1, len(data) // 40)):
        mangled = bytearray(data)
        mangled[offset] ^= 0xFF
        target = tmp_path / "mangled.zip"
        target.write_bytes(bytes(mangled))
        _read_allowing_only_medsight_errors(target)
