"""The per-frame entry point for live streams: one frame in, the task's result out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.data.synthetic_hc18 import PIXEL_MM

from medsight.errors import InvalidImageError
from medsight.inference.frames import FrameAnalyzer, frame_to_image


@pytest.fixture(scope="module")
def head(tiny_segmenter: Path) -> FrameAnalyzer:
    return FrameAnalyzer.load("us-fetal-head", tiny_segmenter)


@pytest.fixture(scope="module")
def frame(synthetic_hc18: Path) -> np.ndarray:
    """A training frame: the tiny model's distribution check knows too few images to pass a new one."""
    from PIL import Image as PILImage

    from medsight.data.hc18 import load_hc18

    case = load_hc18(synthetic_hc18).split("train").cases[0]
    return np.asarray(PILImage.open(case.image))


def test_a_head_frame_gets_its_measurements_in_mm(head: FrameAnalyzer, frame: np.ndarray) -> None:
    result = head.analyze(frame, pixel_spacing_mm=(PIXEL_MM, PIXEL_MM))
    assert not result.refused
    assert result.payload["task"] == "us-fetal-head"
    assert result.payload["model"] == head.model
    if result.payload["found"]:
        assert set(result.measurements) == {"hc_mm", "bpd_mm", "ofd_mm", "ga_weeks", "confidence"}
        assert result.ellipse is not None
        assert result.payload["hc_mm"] == pytest.approx(result.measurements["hc_mm"], abs=0.01)
        assert 0.0 <= result.measurements["confidence"] <= 1.0


def test_without_spacing_there_is_an_ellipse_but_no_millimetres(head: FrameAnalyzer, frame: np.ndarray) -> None:
    result = head.analyze(frame)
    assert result.payload["hc_mm"] is None
    assert result.payload["pixel_spacing_mm"] is None
    assert "hc_mm" not in result.measurements


def test_float_frames_in_unit_or_byte_range_give_the_same_result(head: FrameAnalyzer, frame: np.ndarray) -> None:
    as_bytes = head.analyze(frame, PIXEL_MM).payload
    as_unit = head.analyze(frame.astype(np.float32) / 255.0, PIXEL_MM).payload
    as_float = head.analyze(frame.astype(np.float64), PIXEL_MM).payload
    assert as_bytes == as_unit == as_float


@pytest.mark.parametrize("shape", [(5,), (4, 4), (2, 64, 64), (64, 64, 4)])
def test_a_frame_that_is_not_one_plane_is_an_input_error(shape: tuple[int, ...]) -> None:
    with pytest.raises(InvalidImageError):
        frame_to_image(np.zeros(shape, dtype=np.uint8))


def test_a_colour_frame_is_refused_not_measured(head: FrameAnalyzer, frame: np.ndarray) -> None:
    rgb = np.stack([frame, np.roll(frame, 20, axis=1), 255 - frame], axis=-1)
    result = head.analyze(rgb, PIXEL_MM)
    assert result.refused
    assert result.payload["refused"]["check"] == "colour"
    assert result.measurements == {}


def test_a_blank_frame_is_refused(head: FrameAnalyzer) -> None:
    assert head.analyze(np.zeros((108, 160), dtype=np.uint8)).payload["refused"]["check"] == "blank"


def test_a_classification_task_reports_its_probability(tiny_breast_bundle: Path, frame: np.ndarray) -> None:
    breast = FrameAnalyzer.load("us-breast", tiny_breast_bundle)
    result = breast.analyze(frame)
    assert breast.task == "us-breast"
    if not result.refused:
        assert set(result.measurements) == {"probability"}
        assert result.payload["label"] in ("benign_or_normal", "malignant")


def test_a_model_of_another_task_is_a_usage_error(tiny_segmenter: Path) -> None:
    from medsight.errors import UsageError

    with pytest.raises(UsageError):
        FrameAnalyzer.load("us-breast", tiny_segmenter)
