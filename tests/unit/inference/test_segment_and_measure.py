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


def _measure_over_the_whole_frame(logits: np.ndarray, shape: tuple[int, int]) -> tuple[Ellipse | None, np.ndarray]:
    """measure_head as it was: the whole frame resized, then searched for the edge."""
    from scipy import ndimage

    from medsight.imaging.ellipse import edge_points, fit_ellipse
    from medsight.imaging.overlay import resize_bilinear

    labels, count = ndimage.label(logits > 0)
    region = labels == int(np.argmax(np.bincount(labels.ravel())[1:])) + 1 if count > 1 else logits > 0
    region = ndimage.binary_fill_holes(region)
    tiny = np.float32(1e-3)
    mask = resize_bilinear(np.where(region, np.maximum(logits, tiny), np.minimum(logits, -tiny)), shape) > 0
    return fit_ellipse(*edge_points(mask)), mask


@pytest.mark.parametrize(
    "head",
    [
        Ellipse(64, 64, 40, 30, 0.3),  # inside the frame
        Ellipse(20, 70, 45, 30, 1.0),  # cut by the left edge
        Ellipse(100, 110, 50, 35, 0.2),  # cut by the right and bottom edges
        Ellipse(64, 64, 80, 70, 0.0),  # larger than the frame
    ],
)
def test_the_head_is_measured_as_over_the_whole_frame(head: Ellipse) -> None:
    rng = np.random.default_rng(5)
    logits = _logits((128, 128), head) + rng.normal(0, 1.5, (128, 128)).astype(np.float32)
    logits[60:63, 60:63] = -4.0  # a hole
    ellipse, _, mask = measure_head(logits, (540, 800), None)
    expected_ellipse, expected_mask = _measure_over_the_whole_frame(logits, (540, 800))
    assert np.array_equal(mask, expected_mask)
    assert ellipse == expected_ellipse  # the same edge points in the same order: the same fit


def test_filled_holes_are_those_of_scipy() -> None:
    from scipy import ndimage

    from medsight.inference.segmentation import _fill_holes

    rng = np.random.default_rng(6)
    for _ in range(50):
        mask = ndimage.binary_opening(rng.random((40, 50)) < 0.55)
        assert np.array_equal(_fill_holes(mask), ndimage.binary_fill_holes(mask))
    assert not _fill_holes(np.zeros((5, 5), dtype=bool)).any()
    assert _fill_holes(np.ones((5, 5), dtype=bool)).all()


def test_flip_averaging_runs_the_mirrors_in_the_same_batch() -> None:
    class _Network:
        def __init__(self) -> None:
            self.batches: list[int] = []

        def predict(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            self.batches.append(inputs.shape[0])
            weights = np.arange(inputs.shape[-1], dtype=np.float32)  # not mirror-symmetric
            return inputs[:, 0] * weights, inputs.mean(axis=(1, 2, 3))[:, None]

    network = _Network()
    model = LoadedSegmenter.__new__(LoadedSegmenter)
    model.predictor, model.flip_average = network, True
    x = np.random.default_rng(7).random((3, 1, 8, 8), dtype=np.float32)
    logits, features = model.predict(x)
    weights = np.arange(8, dtype=np.float32)
    expected = (x[:, 0] * weights + (x[:, 0, :, ::-1] * weights)[..., ::-1]) * np.float32(0.5)
    assert network.batches == [6]
    assert np.array_equal(logits, expected)
    assert np.array_equal(features, x.mean(axis=(1, 2, 3))[:, None])


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
