"""A fake frame predictor for stream tests: scripted measurements, an optional delay, no model."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from medsight.services.streams.predictors import Frame, FramePredictor, FrameResult
from medsight.services.streams.smoothing import Tolerance


@dataclass
class FakePredictor:
    """Answers the frame's mean pixel value as ``mean`` after ``delay_s`` (thread-safe)."""

    delay_s: float = 0.0
    task: str = "fake-task"
    model: dict[str, str] = field(default_factory=lambda: {"name": "fake", "version": "0", "sha256": "0" * 64})
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tolerances(self) -> Mapping[str, Tolerance]:
        return {"mean": Tolerance(absolute=1.0, min_count=3, window=5)}

    def predict(self, frame: Frame) -> FrameResult:
        with self._lock:
            self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        mean = float(frame.pixels.mean())
        return FrameResult({"mean": mean, "shape": list(frame.pixels.shape)}, {"mean": mean})


def registry(predictor: FakePredictor) -> dict[str, Callable[[int], FramePredictor]]:
    """A predictor registry holding ``predictor`` under its task name (the thread count is ignored)."""
    return {predictor.task: lambda threads: predictor}
