"""NIfTI reading and writing: axis order, RAS <-> LPS, 4-D handling, limits, errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsight.errors import (
    FileNotFoundInputError,
    InvalidImageError,
    OutputError,
    ResourceLimitError,
    UnsupportedFormatError,
    UsageError,
)
from medsight.imaging.geometry import Geometry
from medsight.imaging.image import Image, ImageMeta, Layout
from medsight.io import nifti
from medsight.io.nifti import NIBABEL_ERRORS, read_nifti, write_nifti
from medsight.settings import ReadLimits

FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])


def _rotation(ax: float, ay: float, az: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _ras_affine(spacing_ijk=(0.7, 0.9, 2.5), origin=(-90.5, 60.25, -30.0)) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, :3] = _rotation(0.3, -0.2, 0.25) @ np.diag(spacing_ijk)
    affine[:3, 3] = origin
    return affine


def _save(data: np.ndarray, affine: np.ndarray, path: Path, **header: object) -> Path:
    image = nib.Nifti1Image(data, affine)
    for key, value in header.items():
        image.header[key] = value
    nib.save(image, path)
    return path


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_axes_are_transposed_and_affine_turned_to_lps(tmp_path: Path, suffix: str) -> None:
    data = np.random.default_rng(0).normal(size=(5, 6, 7)).astype(np.float32)  # (i, j, k)
    affine = _ras_affine()
    image = read_nifti(_save(data, affine, tmp_path / f"v{suffix}"))

    assert image.layout is Layout.VOLUME
    assert image.shape == (7, 6, 5)
    for i, j, k in [(0, 0, 0), (4, 5, 6), (2, 3, 1)]:
        assert image.pixels[k, j, i] == data[i, j, k]
        expected = (FLIP @ affine @ np.array([i, j, k, 1.0]))[:3]
        np.testing.assert_allclose(image.geometry.index_to_patient((k, j, i)), expected, atol=1e-4)
    assert image.geometry.spacing == pytest.approx((2.5, 0.9, 0.7), abs=1e-6)
    assert image.geometry.spacing_known


def test_scl_slope_and_inter_are_applied(tmp_path: Path) -> None:
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_slope_inter(2.0, -1024.0)
    nib.save(img, tmp_path / "ct.nii")
    image = read_nifti(tmp_path / "ct.nii")
    assert image.pixels.dtype == np.float32
    np.testing.assert_array_equal(image.pixels, data.transpose(2, 1, 0) * 2.0 - 1024.0)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_round_trip_preserves_oblique_anisotropic_geometry(tmp_path: Path, suffix: str) -> None:
    rotation = _rotation(-0.2, 0.35, 0.1)
    geometry = Geometry(
        spacing=(3.0, 0.8, 0.55),
        origin=(-85.25, 40.5, 12.75),
        direction=tuple(tuple(float(v) for v in row) for row in rotation),  # type: ignore[arg-type]
    )
    pixels = np.random.default_rng(1).normal(size=(4, 5, 6)).astype(np.float32)
    source = Image(pixels, layout=Layout.VOLUME, geometry=geometry)
    path = write_nifti(source, tmp_path / f"out{suffix}")

    back = read_nifti(path)
    np.testing.assert_array_equal(back.pixels, pixels)
    np.testing.assert_allclose(back.geometry.affine(), geometry.affine(), atol=1e-5)
    expected_ras = np.eye(4)
    ours = geometry.affine()
    expected_ras[:3, 0], expected_ras[:3, 1], expected_ras[:3, 2] = ours[:3, 2], ours[:3, 1], ours[:3, 0]
    expected_ras[:3, 3] = ours[:3, 3]
    expected_ras = FLIP @ expected_ras
    on_disk = nib.load(path)
    np.testing.assert_allclose(on_disk.affine, expected_ras, atol=1e-5)
    np.testing.assert_allclose(on_disk.get_qform(), expected_ras, atol=1e-5)
    assert int(on_disk.header["sform_code"]) == 1
    assert on_disk.shape == (6, 5, 4)


def test_gz_output_is_really_compressed(tmp_path: Path) -> None:
    path = write_nifti(Image(np.zeros((2, 3, 4), np.float32), layout=Layout.VOLUME), tmp_path / "z.nii.gz")
    with gzip.open(path) as stream:
        assert stream.read(4)[:4] == (348).to_bytes(4, "little")  # NIfTI-1 sizeof_hdr


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 1)])
def test_2d_nifti_is_a_one_slice_volume(tmp_path: Path, shape: tuple[int, ...]) -> None:
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    image = read_nifti(_save(data, np.eye(4), tmp_path / "flat.nii"))
    assert image.layout is Layout.VOLUME
    assert image.shape == (1, 5, 6)
    np.testing.assert_array_equal(image.pixels[0], data.reshape(6, 5).T)


def test_2d_image_is_written_with_one_slice(tmp_path: Path) -> None:
    pixels = np.arange(12, dtype=np.float32).reshape(3, 4)
    back = read_nifti(write_nifti(Image(pixels), tmp_path / "a.nii"))
    assert back.shape == (1, 3, 4)
    np.testing.assert_array_equal(back.pixels[0], pixels)


@pytest.mark.parametrize(("unit", "factor"), [("sec", 1000.0), ("msec", 1.0), ("usec", 0.001)])
def test_2d_time_series_is_a_cine_with_frame_times(tmp_path: Path, unit: str, factor: float) -> None:
    data = np.random.default_rng(2).normal(size=(4, 3, 1, 5)).astype(np.float32)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_xyzt_units("mm", unit)
    img.header.set_zooms((1.0, 1.0, 1.0, 0.04))
    nib.save(img, tmp_path / "cine.nii")
    image = read_nifti(tmp_path / "cine.nii")
    assert image.layout is Layout.CINE
    assert image.shape == (5, 3, 4)
    np.testing.assert_array_equal(image.pixels[2], data[:, :, 0, 2].T)
    np.testing.assert_allclose(image.meta.frame_times_ms, [k * 0.04 * factor for k in range(5)])
    assert image.meta.warnings == ()


def test_time_series_without_unit_has_no_frame_times(tmp_path: Path) -> None:
    data = np.zeros((4, 3, 1, 5), dtype=np.float32)
    image = read_nifti(_save(data, np.eye(4), tmp_path / "cine.nii"))
    assert image.layout is Layout.CINE
    assert image.meta.frame_times_ms == ()
    assert any("frame times unknown" in w for w in image.meta.warnings)


def test_4d_volume_series_reads_the_first_volume_with_a_warning(tmp_path: Path) -> None:
    data = np.random.default_rng(3).normal(size=(4, 3, 2, 3)).astype(np.float32)
    image = read_nifti(_save(data, np.eye(4), tmp_path / "fmri.nii.gz"))
    assert image.layout is Layout.VOLUME
    np.testing.assert_array_equal(image.pixels, data[..., 0].transpose(2, 1, 0))
    assert any("only the first volume" in w for w in image.meta.warnings)


def test_cine_round_trip_keeps_frames_and_interval(tmp_path: Path) -> None:
    pixels = np.random.default_rng(4).normal(size=(3, 4, 5)).astype(np.float32)
    cine = Image(pixels, layout=Layout.CINE, meta=ImageMeta(frame_times_ms=(0.0, 33.0, 66.0)))
    back = read_nifti(write_nifti(cine, tmp_path / "c.nii"))
    assert back.layout is Layout.CINE
    np.testing.assert_array_equal(back.pixels, pixels)
    np.testing.assert_allclose(back.meta.frame_times_ms, (0.0, 33.0, 66.0), rtol=1e-6)


def test_rgb_round_trip(tmp_path: Path) -> None:
    pixels = np.random.default_rng(5).integers(0, 256, (2, 3, 4, 3)).astype(np.float32)
    back = read_nifti(write_nifti(Image(pixels, layout=Layout.VOLUME), tmp_path / "rgb.nii"))
    assert back.channels == 3
    assert back.meta.photometric == "RGB"
    np.testing.assert_array_equal(back.pixels, pixels)


def test_spatial_units_are_converted_to_mm(tmp_path: Path) -> None:
    affine = np.diag([0.001, 0.002, 0.003, 1.0])
    img = nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), affine)
    img.header.set_xyzt_units("meter")
    nib.save(img, tmp_path / "m.nii")
    assert read_nifti(tmp_path / "m.nii").geometry.spacing == pytest.approx((3.0, 2.0, 1.0))


def test_missing_orientation_is_reported(tmp_path: Path) -> None:
    img = nib.Nifti1Image(np.zeros((3, 4, 2), np.float32), None)
    img.header.set_zooms((0.5, 0.5, 2.0))
    nib.save(img, tmp_path / "bare.nii")
    image = read_nifti(tmp_path / "bare.nii")
    assert image.geometry.spacing == pytest.approx((2.0, 0.5, 0.5))
    assert any("no qform or sform" in w for w in image.meta.warnings)


def _with_sform(tmp_path: Path, sform: np.ndarray) -> Path:
    header = nib.Nifti1Header()
    header.set_data_shape((3, 4, 1))
    header.set_data_dtype(np.float32)
    header.set_sform(sform, code=1)  # through the header: an image's affine would replace it
    nib.save(nib.Nifti1Image(np.zeros((3, 4, 1), np.float32), None, header=header), tmp_path / "odd.nii")
    return tmp_path / "odd.nii"


def test_one_zero_axis_is_filled_with_a_unit_normal(tmp_path: Path) -> None:
    image = read_nifti(_with_sform(tmp_path, np.diag([0.5, 0.5, 0.0, 1.0])))
    assert image.geometry.spacing == pytest.approx((1.0, 0.5, 0.5))
    assert image.geometry.spacing_known
    normal = np.asarray(image.geometry.direction[0])
    assert abs(normal[2]) == pytest.approx(1.0)
    assert any("zero axis" in w for w in image.meta.warnings)


def test_hopeless_affine_falls_back_to_identity(tmp_path: Path) -> None:
    image = read_nifti(_with_sform(tmp_path, np.diag([0.5, 0.0, 0.0, 1.0])))
    assert image.geometry == Geometry(spacing_known=False)
    assert any("degenerate" in w for w in image.meta.warnings)


def test_declared_size_is_checked_before_reading_data(tmp_path: Path) -> None:
    path = _save(np.zeros((64, 64, 64), np.float32), np.eye(4), tmp_path / "big.nii")
    with pytest.raises(ResourceLimitError, match=r"big\.nii"):
        read_nifti(path, ReadLimits(max_pixel_bytes=64 * 64 * 64 * 4 - 1))
    # A truncated file that declares more than the limit is refused on its header alone.
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(ResourceLimitError):
        read_nifti(path, ReadLimits(max_pixel_bytes=1000))
    with pytest.raises(InvalidImageError):
        read_nifti(path)


def _nifti_bytes(tmp_path: Path, suffix: str) -> bytes:
    path = _save(np.zeros((32, 32, 32), np.int16), np.eye(4), tmp_path / f"ok{suffix}")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "mangle"),
    [
        ("empty.nii", lambda raw: b""),
        ("garbage.nii", lambda raw: b"\x00garbage" * 100),
        ("short_header.nii", lambda raw: raw[:100]),
        ("truncated_data.nii", lambda raw: raw[: len(raw) // 2]),
        ("bad_dims.nii", lambda raw: raw[:40] + b"\xff" * 16 + raw[56:]),
    ],
)
def test_damaged_files_are_invalid_images(tmp_path: Path, name: str, mangle) -> None:
    path = tmp_path / name
    path.write_bytes(mangle(_nifti_bytes(tmp_path, ".nii")))
    with pytest.raises(InvalidImageError, match=name) as info:
        read_nifti(path)
    assert info.value.code == "input.invalid_image"


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_or_corrupt_gzip_is_an_invalid_image(tmp_path: Path, cut: float) -> None:
    raw = _nifti_bytes(tmp_path, ".nii.gz")
    truncated = tmp_path / "cut.nii.gz"
    truncated.write_bytes(raw[: int(len(raw) * cut)])
    with pytest.raises(InvalidImageError):
        read_nifti(truncated)
    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(raw[:20] + bytes(b ^ 0x5A for b in raw[20:60]) + raw[60:])
    with pytest.raises(InvalidImageError):
        read_nifti(corrupt)


@pytest.mark.parametrize("error", NIBABEL_ERRORS)
def test_every_listed_nibabel_error_is_translated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error("secret patient detail")

    monkeypatch.setattr(nifti.nib, "load", fail)
    with pytest.raises(InvalidImageError) as info:
        read_nifti(tmp_path / "x.nii")
    assert "secret" not in info.value.message
    assert isinstance(info.value.__cause__, error)


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundInputError, match=r"nope\.nii"):
        read_nifti(tmp_path / "nope.nii")


def test_other_nibabel_formats_are_unsupported(tmp_path: Path) -> None:
    nib.save(nib.AnalyzeImage(np.zeros((2, 2, 2), np.float32), np.eye(4)), tmp_path / "old.hdr")
    with pytest.raises(UnsupportedFormatError):
        read_nifti(tmp_path / "old.hdr")


@pytest.mark.parametrize("name", ["out.png", "out.nii.zip", "out"])
def test_write_refuses_other_suffixes(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match=r"\.nii"):
        write_nifti(Image(np.zeros((2, 2), np.float32)), tmp_path / name)


def test_failed_write_leaves_previous_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "keep.nii"
    target.write_bytes(b"previous")

    def broken(self: object, stream: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nib.Nifti1Image, "to_stream", broken)
    with pytest.raises(OutputError, match=r"keep\.nii"):
        write_nifti(Image(np.zeros((2, 2), np.float32)), target)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.nii"]


def test_write_into_a_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        write_nifti(Image(np.zeros((2, 2), np.float32)), tmp_path / "no" / "such.nii")
