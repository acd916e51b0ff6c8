"""Secondary Capture encoding: readable by medsight's own reader, pixels intact, UIDs stable."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from medsight.errors import UsageError
from medsight.io import read_image
from medsight.io.dicom.capture import CaptureDescription, encode_capture, stable_uid
from medsight.settings import ReadLimits

_UID = re.compile(r"^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$")


def _description() -> CaptureDescription:
    return CaptureDescription(
        patient_id="P1",
        patient_name="TEST^CAPTURE",
        study_instance_uid=stable_uid("study"),
        series_instance_uid=stable_uid("series"),
        sop_instance_uid=stable_uid("instance"),
        modality="DX",
        body_part="CHEST",
    )


def test_stable_uids_are_valid_and_repeatable() -> None:
    uid = stable_uid("a", "b")
    assert uid == stable_uid("a", "b")
    assert uid != stable_uid("a", "c")
    assert uid != stable_uid("ab")
    assert len(uid) <= 64
    assert _UID.match(uid)


def test_a_capture_reads_back_with_its_pixels_and_modality(tmp_path: Path) -> None:
    pixels = np.arange(15 * 17, dtype=np.uint32).reshape(15, 17).astype(np.uint8)
    path = tmp_path / "capture.dcm"
    path.write_bytes(encode_capture(pixels, _description()))
    image = read_image(path, ReadLimits())
    assert image.meta.modality.value == "DX"
    np.testing.assert_array_equal(image.pixels.reshape(15, 17), pixels.astype(np.float32))


def test_the_same_picture_gives_the_same_bytes() -> None:
    pixels = np.zeros((4, 4), dtype=np.uint8)
    assert encode_capture(pixels, _description()) == encode_capture(pixels, _description())


@pytest.mark.parametrize("pixels", [np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint16)])
def test_only_greyscale_bytes_are_accepted(pixels: np.ndarray) -> None:  # type: ignore[type-arg]
    with pytest.raises(UsageError):
        encode_capture(pixels, _description())


def test_a_stored_identity_window_gives_the_values_the_models_learnt_from(tmp_path: Path) -> None:
    from dataclasses import replace

    from tests.data.dciodvfy import dciodvfy

    from medsight.tasks.preprocess import unit_values

    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    path = tmp_path / "windowed.dcm"
    path.write_bytes(encode_capture(pixels, replace(_description(), window=(128.0, 256.0))))
    image = read_image(path, ReadLimits())
    assert image.meta.window == (128.0, 256.0)
    np.testing.assert_allclose(unit_values(image), pixels / 255.0, atol=1e-6)
    assert dciodvfy(path.read_bytes()).errors == ()
