"""Segment and measure: the head region, its ellipse at frame resolution, biometry, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsight.imaging import Image, ImageMeta
from medsight.imaging.ellipse import Ellipse, fill_ellipse
from medsight.inference.segmentation import LoadedSegmenter, expected_dice, measure_head, segment_images
from medsight.models.bundle import load_bundle
from medsight.types import Modality


def _logits(shape: tuple[int, int], ellipse: Ellipse) -> np.ndarray:
    inside = fill_ellipse(shape, ellipse)
    return np.where(inside, 4.0, -4.0).astype(np.float32)


def test_an_ellipse_at_model_resolution_is_measured_at_frame_resolution() -> None:
    # The frame is 800 x 540; the model sees 128 x 128 (stretched); the head is an ellipse in the frame.
    frame = Ellipse(400.0, 270.0, 200.0, 150.0, 0.0)
    small = Ellipse(400.0 * 128 / 800 - 0.5 + 0.5 * 128 / 800, 270.0 * 128 / 540, 200 * 128 / 800, 150 * 128 / 540, 0.0)
    ellipse, biometry, mask = measure_head(_logits((128, 128), small), (540, 800), (0.1, 0.1))
    assert ellipse is not None
    assert biometry is not None
    assert mask.shape == (540, 800)
    assert ellipse.perimeter == pytest.approx(frame.perimeter, rel=0.02)
    assert biometry.hc_mm == pytest.approx(frame.perimeter * 0.1, rel=0.02)
    assert biometry.bpd_mm == pytest.approx(30.0, rel=0.03)


def test_only_the_largest_region_counts_and_its_holes_are_filled() -> None:
    logits = _logits((128, 128), Ellipse(64, 64, 40, 30, 0.3))
    logits[60:66, 60:66] = -4.0  # a hole
    logits[2:6, 2:6] = 4.0  # a speck
    _, _, mask = measure_head(logits, (128, 128), None)
    assert mask[63, 63]
    assert not mask[3, 3]


def test_no_region_means_no_head() -> None:
    ellipse, biometry, mask = measure_head(np.full((64, 64), -3.0, dtype=np.float32), (100, 100), (0.1, 0.1))
    assert ellipse is None
    assert biometry is None
    assert not mask.any()


def test_expected_dice_is_one_for_certain_probabilities() -> None:
    mask = fill_ellipse((32, 32), Ellipse(16, 16, 10, 8, 0))
    assert expected_dice(mask.astype(np.float32), mask) == 1.0
    assert expected_dice(np.full((32, 32), 0.5, dtype=np.float32), mask) < 1.0


def test_a_segmentation_bundle_refuses_other_modalities(tiny_segmenter: Path) -> None:
    model = LoadedSegmenter.load(load_bundle(tiny_segmenter), backend="torch")
    mr = Image(pixels=np.random.default_rng(0).random((64, 64), dtype=np.float32), meta=ImageMeta(modality=Modality.MR))
    (result,) = segment_images(model, [mr], [None])
    assert result.refused is not None
    assert result.refused.check == "modality"
    assert set(result.to_dict()) == {"task", "model", "refused"}


def test_onnx_and_torch_give_the_same_logits(tiny_segmenter: Path) -> None:
    from medsight.inference.segmentation import _predictor

    bundle = load_bundle(tiny_segmenter)
    x = np.random.default_rng(0).random((3, 1, 32, 32), dtype=np.float32)
    onnx_logits, onnx_features = _predictor(bundle, "onnx").predict(x)
    torch_logits, torch_features = _predictor(bundle, "torch").predict(x)
    assert np.abs(onnx_logits - torch_logits).max() < 1e-4
    assert np.abs(onnx_features - torch_features).max() < 1e-4


def test_a_segmentation_bundle_is_not_loaded_as_a_classifier(tiny_segmenter: Path) -> None:
    from medsight.errors import InvalidBundleError
    from medsight.inference import LoadedModel

    with pytest.raises(InvalidBundleError, match="segmentation"):
        LoadedModel.load(load_bundle(tiny_segmenter))
