"""Series assembly on synthetic series: order, gaps, uneven spacing, mixed geometry."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pydicom
import pytest
from tests.data.synthetic import PLANTED, expected_volume, write_ct_series

from medsight.errors import InputError, SeriesGeometryError
from medsight.imaging import Layout
from medsight.io import read, read_image, scan
from medsight.settings import ReadLimits

LIMITS = ReadLimits()
ROWS = COLUMNS = 32


@pytest.mark.parametrize("workers", [1, 2])
def test_shuffled_names_assemble_in_slice_order(tmp_path: Path, workers: int) -> None:
    write_ct_series(tmp_path, slices=20, rows=ROWS, columns=COLUMNS, spacing=(2.0, 0.5, 0.5))
    image = read_image(tmp_path, LIMITS, workers=workers)
    assert image.layout is Layout.VOLUME
    np.testing.assert_array_equal(image.pixels, expected_volume(20, ROWS, COLUMNS))
    assert image.geometry.spacing == pytest.approx((2.0, 0.5, 0.5))
    assert image.geometry.origin == pytest.approx((-180, -180, -300))
    assert not image.meta.warnings


def test_missing_slices_are_filled_and_reported(tmp_path: Path) -> None:
    write_ct_series(tmp_path, slices=20, rows=ROWS, columns=COLUMNS, missing=(5, 11, 12))
    image = read_image(tmp_path, LIMITS)
    assert image.shape == (20, ROWS, COLUMNS)
    np.testing.assert_allclose(image.pixels, expected_volume(20, ROWS, COLUMNS), atol=1e-3)
    assert any("3 missing slice" in w for w in image.meta.warnings)


def test_descending_and_oblique_series(tmp_path: Path) -> None:
    tilt = np.deg2rad(20)
    orientation = (1, 0, 0, 0, np.cos(tilt), np.sin(tilt))
    write_ct_series(tmp_path, slices=12, rows=ROWS, columns=COLUMNS, orientation=orientation)
    image = read_image(tmp_path, LIMITS)
    np.testing.assert_array_equal(image.pixels, expected_volume(12, ROWS, COLUMNS))
    normal = np.cross(orientation[:3], orientation[3:])
    assert np.asarray(image.geometry.direction[0]) == pytest.approx(normal)
    # The last voxel lies where the last file says it does.
    last = pydicom.dcmread(max(tmp_path.iterdir(), key=lambda p: int(pydicom.dcmread(p).InstanceNumber)))
    corner = image.geometry.index_to_patient((11, 0, 0))
    assert corner == pytest.approx([float(v) for v in last.ImagePositionPatient], abs=1e-3)


def test_uneven_spacing_is_resampled_with_a_warning(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, slices=6, rows=ROWS, columns=COLUMNS, spacing=(2.0, 1, 1), shuffle_names=False)
    dataset = pydicom.dcmread(paths[-1])
    z = float(dataset.ImagePositionPatient[2])
    dataset.ImagePositionPatient = [dataset.ImagePositionPatient[0], dataset.ImagePositionPatient[1], z + 0.7]
    dataset.save_as(paths[-1])
    image = read_image(tmp_path, LIMITS)
    assert any("uneven slice spacing" in w for w in image.meta.warnings)
    assert image.geometry.spacing[0] == pytest.approx(2.0)
    assert image.shape[0] == 6  # 10.7 mm span at 2 mm


def test_mixed_sizes_split_into_stacks(tmp_path: Path) -> None:
    write_ct_series(tmp_path / "a", slices=4, rows=ROWS, columns=COLUMNS, seed=3)
    stray = pydicom.dcmread(next((tmp_path / "a").iterdir()))
    stray.Rows, stray.Columns = 16, 16
    stray.PixelData = np.zeros((16, 16), "<i2").tobytes()
    stray.SOPInstanceUID = stray.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    stray.save_as(tmp_path / "a" / "stray.dcm")
    images, failures = read(tmp_path, LIMITS)
    assert not failures
    assert sorted(i.shape for i in images) == [(4, ROWS, COLUMNS), (16, 16)]
    assert all(any("split into 2 stacks" in w for w in i.meta.warnings) for i in images)
    with pytest.raises(InputError, match="2 images"):
        read_image(tmp_path, LIMITS)


def test_duplicate_positions_are_a_geometry_error(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, slices=4, rows=ROWS, columns=COLUMNS, shuffle_names=False)
    twin = pydicom.dcmread(paths[0])
    twin.SOPInstanceUID = twin.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    twin.save_as(tmp_path / "twin.dcm")
    _, failures = read(tmp_path, LIMITS)
    assert [f.code for f in failures] == [SeriesGeometryError.code]


def test_scan_plans_without_decoding(tmp_path: Path) -> None:
    write_ct_series(tmp_path, slices=8, rows=ROWS, columns=COLUMNS, missing=(3,))
    (summary,) = scan(tmp_path, LIMITS).summaries()
    assert summary.shape == (8, ROWS, COLUMNS)
    assert summary.instances == 7
    assert summary.modality == "CT"
    assert summary.warnings


def test_big_endian_and_rle_series(tmp_path: Path) -> None:
    for syntax in (pydicom.uid.ExplicitVRBigEndian, pydicom.uid.RLELossless):
        folder = tmp_path / str(syntax)
        write_ct_series(folder, slices=5, rows=ROWS, columns=COLUMNS, transfer_syntax=syntax)
        image = read_image(folder, LIMITS)
        np.testing.assert_array_equal(image.pixels, expected_volume(5, ROWS, COLUMNS))


def test_patient_data_stays_out_of_repr_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_ct_series(tmp_path, slices=3, rows=ROWS, columns=COLUMNS)
    with caplog.at_level(logging.DEBUG):
        image = read_image(tmp_path, LIMITS)
    text = repr(image) + str(image.study) + repr(image.source) + repr(image.meta) + caplog.text
    assert image.study["PatientID"] == PLANTED["PatientID"]  # kept for derived objects...
    for value in PLANTED.values():
        assert value not in text  # ...but never shown
    assert str(image.source.study_uid) not in text


@pytest.mark.parametrize(
    ("slices", "missing", "why"),
    [
        (161, [k for k in range(161) if k not in (0, 1, 80, 160)], "4 real slices would become 161"),
        (40, range(10, 16), "one gap of 6 slices"),
        (16, [k for k in range(16) if k not in (0, 1, 2, 3, 7, 11, 15)], "9 invented slices for 7 real ones"),
    ],
)
def test_gaps_too_large_to_fill_are_a_geometry_error(tmp_path: Path, slices: int, missing: object, why: str) -> None:
    write_ct_series(tmp_path, slices=slices, rows=8, columns=8, missing=missing)  # type: ignore[arg-type]
    with pytest.raises(SeriesGeometryError, match="too many to interpolate"):
        read_image(tmp_path, LIMITS)
    assert scan(tmp_path, LIMITS).failures[0].code == SeriesGeometryError.code


def test_a_gap_of_four_slices_is_still_filled(tmp_path: Path) -> None:
    write_ct_series(tmp_path, slices=20, rows=ROWS, columns=COLUMNS, missing=range(8, 12))
    image = read_image(tmp_path, LIMITS)
    assert image.shape == (20, ROWS, COLUMNS)
    np.testing.assert_allclose(image.pixels, expected_volume(20, ROWS, COLUMNS), atol=1e-3)
    assert any("4 missing slice" in w for w in image.meta.warnings)


def test_resampling_a_sparse_uneven_series_is_a_geometry_error(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, slices=4, rows=8, columns=8, spacing=(1.0, 1, 1), shuffle_names=False)
    for path, shift in ((paths[2], 0.5), (paths[3], 27.2)):  # at 0, 1, 2.5 and 30.2 mm
        dataset = pydicom.dcmread(path)
        dataset.ImagePositionPatient = [
            *dataset.ImagePositionPatient[:2],
            float(dataset.ImagePositionPatient[2]) + shift,
        ]
        dataset.save_as(path)
    with pytest.raises(SeriesGeometryError, match="resampled from 4"):
        read_image(tmp_path, LIMITS)
