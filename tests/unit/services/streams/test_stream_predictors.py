"""Stream predictors: the registry, the FrameAnalyzer adapter, the classifier adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from medsight.errors import UnknownResourceError
from medsight.services.streams.predictors import (
    FRAME_PREDICTORS,
    ULTRASOUND_TOLERANCES,
    AnalyzerFramePredictor,
    Frame,
    frame_image,
    load_frame_predictor,
)


@dataclass(frozen=True)
class _Analysis:
    payload: dict[str, Any]
    measurements: dict[str, float] = field(default_factory=dict)


@dataclass
class _FakeFrameAnalyzer:
    task: str = "us-fetal-head"
    model: dict[str, str] = field(default_factory=lambda: {"name": "us-fetal-head-128", "version": "1"})
    seen: list[tuple[tuple[int, ...], Any]] = field(default_factory=list)

    def analyze(self, frame: np.ndarray, pixel_spacing_mm: tuple[float, float] | None = None) -> _Analysis:
        self.seen.append((frame.shape, pixel_spacing_mm))
        ellipse = {"cx": 400.0, "cy": 270.0, "semi_major": 120.0, "semi_minor": 90.0, "angle_deg": 10.0}
        payload = {"task": self.task, "model": self.model, "found": True, "ellipse": ellipse, "hc_mm": 180.0}
        return _Analysis(payload, {"hc_mm": 180.0, "ga_weeks": 20.1})


def test_every_task_of_the_issue_has_a_live_predictor() -> None:
    assert {"us-fetal-head", "us-breast", "cxr-pneumonia"} <= set(FRAME_PREDICTORS)


def test_the_frame_analyzer_adapter_passes_pixels_and_spacing_and_drops_the_model() -> None:
    analyzer = _FakeFrameAnalyzer()
    predictor = AnalyzerFramePredictor(analyzer)
    result = predictor.predict(Frame(np.zeros((540, 800), dtype=np.uint8), (0.12, 0.12), 7))
    assert analyzer.seen == [((540, 800), (0.12, 0.12))]
    assert "model" not in result.payload  # sent once, in "ready"
    assert result.payload["ellipse"]["semi_major"] == 120.0
    assert result.measurements == {"hc_mm": 180.0, "ga_weeks": 20.1}
    assert predictor.task == "us-fetal-head"
    assert set(result.measurements) <= set(predictor.tolerances) == set(ULTRASOUND_TOLERANCES)


def test_an_unknown_task_is_unknown_resource() -> None:
    with pytest.raises(UnknownResourceError, match="cxr-pneumonia"):
        load_frame_predictor("no-such-task")


def test_a_frame_becomes_an_image_with_its_spacing() -> None:
    image = frame_image(Frame(np.full((4, 6), 7, dtype=np.uint8), (0.2, 0.3)))
    assert image.pixels.dtype == np.float32
    assert image.geometry.spacing == (1.0, 0.2, 0.3)
    assert image.geometry.spacing_known
    assert not frame_image(Frame(np.zeros((4, 6), dtype=np.uint8))).geometry.spacing_known


def test_each_model_run_gets_the_cores_divided_among_the_inference_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import os

    from tests.unit.services.streams.fakes import FakePredictor

    from medsight.services.streams.hub import StreamHub, StreamOptions

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert StreamOptions(inference_threads=2).model_threads == 4
    assert StreamOptions(inference_threads=16).model_threads == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert StreamOptions().model_threads == 1  # 2 cores, 2 inference threads: never 4 threads on 2 cores
    asked: list[int] = []

    def load(threads: int) -> FakePredictor:
        asked.append(threads)
        return FakePredictor()

    async def first_stream() -> None:
        hub = StreamHub(StreamOptions(inference_threads=1), registry={"fake-task": load})
        try:
            await hub.predictor("fake-task")
        finally:
            hub.close()

    asyncio.run(first_stream())
    assert asked == [2]
