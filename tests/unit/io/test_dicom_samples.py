"""Every DICOM sample reads correctly: shapes and values checked against pydicom itself."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_color_lut, apply_modality_lut

from medsight.errors import InputError, MissingPixelDataError, PixelDecodeError, SeriesGeometryError
from medsight.imaging import Layout
from medsight.io import read, read_image, scan
from medsight.settings import ReadLimits

LIMITS = ReadLimits()

# pydicom's bundled files that carry an image, across every transfer syntax family.
PYDICOM_IMAGES = [
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_expb.dcm",
    "MR_small_padded.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm",
    "JPEG2000.dcm",
    "JPGExtended.dcm",
    "JPEGLSNearLossless_08.dcm",
    "JPEGLSNearLossless_16.dcm",
    "693_J2KI.dcm",
    "J2K_pixelrep_mismatch.dcm",
    "GDCMJ2K_TextGBR.dcm",
    "SC_rgb_jpeg.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "SC_rgb_jpeg_gdcm.dcm",
    "SC_rgb_jpeg_lossy_gdcm.dcm",
    "SC_rgb_jls_lossy_line.dcm",
    "SC_rgb_rle.dcm",
    "SC_rgb_rle_16bit.dcm",
    "SC_rgb_rle_2frame.dcm",
    "SC_rgb_small_odd.dcm",
    "SC_rgb_small_odd_big_endian.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "SC_rgb_dcmtk_+eb+cy+np.dcm",
    "ExplVR_BigEnd.dcm",
    "examples_jpeg2k.dcm",
    "examples_overlay.dcm",
    "examples_palette.dcm",
    "examples_rgb_color.dcm",
    "examples_ybr_color.dcm",
    "liver_1frame.dcm",
    "liver_expb_1frame.dcm",
    "rtdose.dcm",
    "rtdose_rle.dcm",
    "rtdose_expb_1frame.dcm",
]

# Objects without an image: a typed error, never a crash.
PYDICOM_NON_IMAGES = ["rtplan.dcm", "rtstruct.dcm", "test-SR.dcm", "waveform_ecg.dcm", "reportsi.dcm"]


def expected_pixels(path: Path) -> np.ndarray:
    """What the image should hold, computed with pydicom's own functions."""
    ds = pydicom.dcmread(path, force=True)
    array = ds.pixel_array
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric == "PALETTE COLOR":
        # medsight keeps RGB on the 0-255 scale: 16-bit palette entries are divided by 256.
        bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
        return apply_color_lut(array, ds).astype(np.float32) / np.float32(256.0 if bits == 16 else 1.0)
    if int(ds.get("SamplesPerPixel", 1)) == 3:
        return array.astype(np.float32)
    values = apply_modality_lut(array, ds).astype(np.float32)
    if photometric == "MONOCHROME1":
        bits = int(ds.BitsStored)
        signed = int(ds.PixelRepresentation) == 1
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
        values = (low * slope + intercept) + (high * slope + intercept) - values
    return values


def assert_matches_pydicom(path: Path) -> None:
    image = read_image(path, LIMITS)
    expected = expected_pixels(path)
    ds = pydicom.dcmread(path, force=True)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    actual = image.pixels
    if image.layout is Layout.VOLUME and frames > 1 and "GridFrameOffsetVector" in ds:
        offsets = np.asarray(ds.GridFrameOffsetVector, dtype=float)
        expected = expected[np.argsort(offsets, kind="stable")]
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-3)
    assert image.source.sop_instance_uids == (pydicom.uid.UID(ds.SOPInstanceUID),)


@pytest.mark.parametrize("name", PYDICOM_IMAGES)
def test_pydicom_bundled_image_matches_pydicom(pydicom_test_files: Path, name: str) -> None:
    assert_matches_pydicom(pydicom_test_files / name)


@pytest.mark.parametrize("name", PYDICOM_NON_IMAGES)
def test_objects_without_pixels_raise_a_typed_error(pydicom_test_files: Path, name: str) -> None:
    with pytest.raises(MissingPixelDataError):
        read_image(pydicom_test_files / name, LIMITS)


def test_truncated_file_is_a_decode_error(pydicom_test_files: Path) -> None:
    with pytest.raises(PixelDecodeError):
        read_image(pydicom_test_files / "MR_truncated.dcm", LIMITS)


def test_every_shared_sample_matches_pydicom(samples_dir: Path, tmp_path: Path) -> None:
    files = sorted(p for p in samples_dir.rglob("*.dcm"))
    for archive in samples_dir.rglob("*.zip"):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(tmp_path)
        files += sorted(tmp_path.rglob("*.dcm"))
    assert len(files) >= 10
    for path in files:
        assert_matches_pydicom(path)


def test_ultrasound_cine_has_frame_times(samples_dir: Path) -> None:
    image = read_image(samples_dir / "us" / "GREYSCALE_CINE.zip", LIMITS)
    assert image.layout is Layout.CINE
    assert image.shape == (27, 600, 800)
    assert len(image.meta.frame_times_ms) == 27
    assert image.meta.frame_times_ms[1] == pytest.approx(33.3, abs=0.1)


def test_palette_and_ybr_become_rgb(samples_dir: Path) -> None:
    palette = read_image(samples_dir / "us" / "examples_palette.dcm", LIMITS)
    ybr = read_image(samples_dir / "us" / "examples_ybr_color.dcm", LIMITS)
    assert palette.channels == 3
    assert 200 < float(palette.pixels.max()) <= 256.0  # 8-bit scale, not 16-bit: displays are not washed out
    assert ybr.channels == 3
    assert ybr.layout is Layout.CINE
    assert ybr.frames == 30


def test_ct_is_in_hounsfield_units(samples_dir: Path) -> None:
    image = read_image(samples_dir / "ct" / "CT_small.dcm", LIMITS)
    assert image.meta.units == "HU"
    assert image.geometry.spacing[1:] == pytest.approx((0.661468, 0.661468))


def test_dicomdir_reads_the_files_it_references(pydicom_test_files: Path) -> None:
    images, failures = read(pydicom_test_files / "dicomdirtests" / "DICOMDIR", LIMITS)
    # CT2 holds 4 slices (instances 18 and 180-182) of a brain CT: too incomplete to
    # interpolate into a volume, so it is reported, not invented (docs/architecture.md).
    assert [(Path(f.label).parent.name, f.code) for f in failures] == [("CT2", SeriesGeometryError.code)]
    assert len(images) >= 10
    volumes = [image for image in images if image.layout is Layout.VOLUME]
    assert volumes, "the DICOMDIR's CT and MR series assemble into volumes"


def test_a_folder_reads_the_good_and_reports_the_bad(pydicom_test_files: Path, tmp_path: Path) -> None:
    for name in ("CT_small.dcm", "MR_small.dcm", "MR_truncated.dcm", "rtplan.dcm"):
        (tmp_path / name).write_bytes((pydicom_test_files / name).read_bytes())
    (tmp_path / "broken.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\xff" * 40)
    (tmp_path / "notes.txt").write_text("not an image")
    images, failures = read(tmp_path, LIMITS)
    assert len(images) == 2
    failed = {Path(f.label).name for f in failures}
    assert failed == {"MR_truncated.dcm", "broken.dcm"}
    assert all(f.code.startswith("input.") for f in failures)


def test_a_single_missing_path_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_image(tmp_path / "nope.dcm", LIMITS)


@pytest.mark.parametrize("walk", [True, False])
def test_valid_dicom_without_an_image_is_skipped_not_broken(
    pydicom_test_files: Path, tmp_path: Path, walk: bool
) -> None:
    # priv_SQ.dcm: its File Meta names an MR image, its data set holds one private
    # sequence and no pixels. pydicom reads it; it is DICOM, just not an image.
    from medsight.io.dicom.parse import parse_member
    from medsight.io.sources import open_path

    source = pydicom_test_files / "priv_SQ.dcm"
    assert not parse_member(open_path(source), walk=walk).has_pixels
    with pytest.raises(MissingPixelDataError):
        read_image(source, LIMITS)
    for name in ("priv_SQ.dcm", "CT_small.dcm"):
        (tmp_path / name).write_bytes((pydicom_test_files / name).read_bytes())
    result = scan(tmp_path, LIMITS)
    assert not result.failures
    assert [Path(s.label).name for s in result.skipped] == ["priv_SQ.dcm"]
    assert result.skipped[0].code == MissingPixelDataError.code
