"""One chest X-ray stored every way a user may send it reaches the model as the same input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from tests.data.synthetic_cxr import chest_like, write_dx_dicom

from medsight.io import read_image
from medsight.settings import ReadLimits
from medsight.tasks import Crop, Preprocessing, prepare

PRE = Preprocessing(size=28, crop=Crop.NONE)


@pytest.fixture(scope="module")
def display() -> np.ndarray:
    return chest_like(112, True, np.random.default_rng(9))


def _input(path: Path) -> np.ndarray:
    return prepare(read_image(path, ReadLimits()), PRE).input


@pytest.mark.parametrize(
    "variant",
    [
        {"monochrome1": False, "bits": 16},
        {"monochrome1": True, "bits": 16},
        {"monochrome1": False, "bits": 8},
        {"monochrome1": True, "bits": 12, "upscale": 4},
    ],
    ids=["16-bit MONOCHROME2", "16-bit MONOCHROME1", "8-bit", "12-bit MONOCHROME1 at 4x"],
)
def test_dicom_variants_match_the_png(tmp_path: Path, display: np.ndarray, variant: dict[str, object]) -> None:
    PILImage.fromarray(display).save(tmp_path / "x.png")
    reference = _input(tmp_path / "x.png")
    dicom = write_dx_dicom(tmp_path / "x.dcm", display, **variant)  # type: ignore[arg-type]
    np.testing.assert_allclose(_input(dicom), reference, atol=1.5 / 255)


def test_a_jpeg_matches_the_png_up_to_compression(tmp_path: Path, display: np.ndarray) -> None:
    PILImage.fromarray(display).save(tmp_path / "x.png")
    PILImage.fromarray(display).convert("RGB").save(tmp_path / "x.jpeg", quality=95)
    assert np.abs(_input(tmp_path / "x.jpeg") - _input(tmp_path / "x.png")).mean() < 2 / 255


@pytest.mark.parametrize("monochrome1", [False, True], ids=["MONOCHROME2", "MONOCHROME1"])
def test_a_windowless_8bit_film_is_shown_as_stored(tmp_path: Path, display: np.ndarray, monochrome1: bool) -> None:
    # A dim, low-contrast film (values 40..170): as a PNG it reaches the model as it is;
    # an 8-bit DICOM without a window holds display values too and must not be stretched
    # by the percentile window that 12- and 16-bit detector values get.
    dim = (40 + display.astype(np.float32) * (130 / 255)).astype(np.uint8)
    PILImage.fromarray(dim).save(tmp_path / "x.png")
    reference = _input(tmp_path / "x.png")
    dicom = write_dx_dicom(tmp_path / "x.dcm", dim, bits=8, window=False, monochrome1=monochrome1)
    np.testing.assert_allclose(_input(dicom), reference, atol=1.5 / 255)
    stretched = _input(write_dx_dicom(tmp_path / "y.dcm", dim, bits=16, window=False))
    assert stretched.max() - stretched.min() > (reference.max() - reference.min()) * 1.2
