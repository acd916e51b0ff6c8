"""An encoded MR series reads back as the volume it was made from, with its geometry; dciodvfy finds no error."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from tests.data.dciodvfy import dciodvfy

from medsight.errors import UsageError
from medsight.imaging import Geometry, Layout
from medsight.io import read_image
from medsight.io.dicom.capture import stable_uid
from medsight.io.dicom.index import index_record
from medsight.io.dicom.mr_series import MrSeriesDescription, encode_mr_series
from medsight.settings import ReadLimits

DESCRIPTION = MrSeriesDescription(
    patient_id="DEMO-1",
    patient_name="DEMO^ONE",
    study_instance_uid=stable_uid("test-study"),
    series_instance_uid=stable_uid("test-series"),
    series_description="AX FLAIR",
)


def test_an_mr_series_reads_back_as_its_volume(tmp_path: Path) -> None:
    pixels = (np.arange(10 * 12 * 16, dtype=np.uint16).reshape(10, 12, 16) * 7) % 4000
    geometry = Geometry(spacing=(3.0, 0.9, 0.8), origin=(-10.0, -20.0, 5.0))
    objects = encode_mr_series(pixels, geometry, DESCRIPTION)
    assert objects == encode_mr_series(pixels, geometry, DESCRIPTION)  # the same volume, the same objects
    for k, data in enumerate(objects):
        (tmp_path / f"{k:03d}.dcm").write_bytes(data)
    image = read_image(tmp_path, ReadLimits())
    assert image.layout is Layout.VOLUME
    np.testing.assert_array_equal(image.pixels, pixels.astype(np.float32))
    assert image.geometry.spacing == pytest.approx((3.0, 0.9, 0.8))
    assert image.geometry.origin == pytest.approx((-10.0, -20.0, 5.0))
    record = index_record(objects[0])
    assert (record.modality, record.body_part_examined, record.series_description) == ("MR", "BRAIN", "AX FLAIR")
    if shutil.which("dciodvfy"):
        assert dciodvfy(objects[0]).errors == ()


def test_only_a_uint16_volume_is_an_mr_series() -> None:
    with pytest.raises(UsageError, match="3-D uint16"):
        encode_mr_series(np.zeros((4, 4), np.uint16), Geometry(), DESCRIPTION)
    with pytest.raises(UsageError, match="3-D uint16"):
        encode_mr_series(np.zeros((2, 4, 4), np.float32), Geometry(), DESCRIPTION)  # type: ignore[arg-type]
