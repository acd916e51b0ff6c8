"""Per-frame predictors: what a live stream runs on each frame it analyses, by task.

A :class:`FramePredictor` takes one decoded frame and returns a JSON-ready result plus
the numeric measurements worth smoothing over time (with the tolerance that says when
each has settled). :data:`FRAME_PREDICTORS` maps a task name to the function that
loads its predictor, given the threads one model run may use; the stream hub calls it
once per process and shares the result between streams, so a predictor must be safe to
call from several threads at once (ONNX Runtime sessions are).

Adding a task is one entry in :data:`FRAME_PREDICTORS`: the ultrasound tasks go through
their per-frame entry point (:class:`medsight.inference.frames.FrameAnalyzer`), the chest
X-ray task through its :class:`~medsight.inference.Analyzer`. Loaders import their model
code inside the function, so importing this module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from medsight.errors import UnknownResourceError
from medsight.imaging import Geometry, Image, ImageMeta, Layout
from medsight.services.streams.smoothing import Tolerance

if TYPE_CHECKING:
    from medsight.inference import Analyzer

_PROBABILITY = Tolerance(absolute=0.05)  # a probability has settled within 0.05

__all__ = [
    "FRAME_PREDICTORS",
    "ULTRASOUND_TOLERANCES",
    "AnalyzerFramePredictor",
    "Frame",
    "FramePredictor",
    "FrameResult",
    "PredictorLoader",
    "frame_image",
    "load_frame_predictor",
]


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        pixels: ``(rows, columns)`` uint8 greyscale.
        pixel_spacing_mm: ``(row, column)`` mm, when the sender knows it.
        index: the sender's frame counter.
    """

    pixels: NDArray[np.uint8]
    pixel_spacing_mm: tuple[float, float] | None = None
    index: int = 0


@dataclass(frozen=True)
class FrameResult:
    """What a predictor says about one frame.

    Attributes:
        payload: the JSON-ready result (probability, ellipse, refusal...).
        measurements: numbers to smooth over the stream, by name (empty when refused).
    """

    payload: dict[str, Any]
    measurements: dict[str, float] = field(default_factory=dict)


class FramePredictor(Protocol):
    """Analyses single frames of one task; thread-safe, loaded once per process."""

    @property
    def task(self) -> str:
        """The task name."""
        ...

    @property
    def model(self) -> dict[str, Any]:
        """The model's identity (name, version, sha256)."""
        ...

    @property
    def tolerances(self) -> Mapping[str, Tolerance]:
        """How each measurement is smoothed, by name."""
        ...

    def predict(self, frame: Frame) -> FrameResult:
        """Analyse one frame."""
        ...


def frame_image(frame: Frame) -> Image:
    """The frame as an :class:`~medsight.imaging.Image` (8-bit greyscale, spacing when known)."""
    row_mm, col_mm = frame.pixel_spacing_mm or (1.0, 1.0)
    geometry = Geometry(spacing=(1.0, row_mm, col_mm), spacing_known=frame.pixel_spacing_mm is not None)
    meta = ImageMeta(photometric="MONOCHROME2", bits_stored=8)
    return Image(pixels=frame.pixels.astype(np.float32), layout=Layout.IMAGE, geometry=geometry, meta=meta)


@dataclass(frozen=True)
class ClassifierFramePredictor:
    """A classification task's :class:`~medsight.inference.Analyzer` applied to single frames.

    The result is ``analyze --json``'s record (probability, label, uncertainty, or the
    refusal); the probability is the one smoothed measurement.
    """

    analyzer: Analyzer
    probability_tolerance: Tolerance = _PROBABILITY

    @property
    def task(self) -> str:
        return self.analyzer.model.task.name

    @property
    def model(self) -> dict[str, Any]:
        return self.analyzer.model.bundle.identity()

    @property
    def tolerances(self) -> Mapping[str, Tolerance]:
        return {"probability": self.probability_tolerance}

    def predict(self, frame: Frame) -> FrameResult:
        analysis = self.analyzer.analyze(frame_image(frame))
        payload = analysis.to_dict()
        payload.pop("model", None)  # sent once, in the stream's "ready" message
        if analysis.probability is None:
            return FrameResult(payload)
        return FrameResult(payload, {"probability": analysis.probability})


class FrameAnalysisLike(Protocol):
    """What :class:`medsight.inference.frames.FrameAnalysis` offers."""

    @property
    def payload(self) -> dict[str, Any]: ...

    @property
    def measurements(self) -> dict[str, float]: ...


class FrameAnalyzerLike(Protocol):
    """What :class:`medsight.inference.frames.FrameAnalyzer` offers (the ultrasound tasks' entry point)."""

    @property
    def task(self) -> str: ...

    @property
    def model(self) -> dict[str, Any]: ...

    def analyze(
        self, frame: NDArray[Any], pixel_spacing_mm: tuple[float, float] | None = None
    ) -> FrameAnalysisLike: ...


#: When each ultrasound measurement has settled: HC within 2 mm (the target error is 2.5),
#: BPD 1 mm, OFD 1.5 mm, gestational age 0.3 weeks (2 days), confidence and probability 0.05.
ULTRASOUND_TOLERANCES: dict[str, Tolerance] = {
    "hc_mm": Tolerance(absolute=2.0),
    "bpd_mm": Tolerance(absolute=1.0),
    "ofd_mm": Tolerance(absolute=1.5),
    "ga_weeks": Tolerance(absolute=0.3),
    "confidence": Tolerance(absolute=0.05),
    "probability": _PROBABILITY,
}


@dataclass(frozen=True)
class AnalyzerFramePredictor:
    """A task's per-frame entry point (``FrameAnalyzer``) as a stream's predictor."""

    analyzer: FrameAnalyzerLike
    tolerances: Mapping[str, Tolerance] = field(default_factory=lambda: dict(ULTRASOUND_TOLERANCES))

    @property
    def task(self) -> str:
        return self.analyzer.task

    @property
    def model(self) -> dict[str, Any]:
        return self.analyzer.model

    def predict(self, frame: Frame) -> FrameResult:
        analysis = self.analyzer.analyze(frame.pixels, frame.pixel_spacing_mm)
        payload = {key: value for key, value in analysis.payload.items() if key != "model"}
        return FrameResult(payload, dict(analysis.measurements))


#: Loads a task's predictor; its argument is the threads one model run may use (0: the runtime's choice).
PredictorLoader = Callable[[int], FramePredictor]


def _frame_analyzer(task_name: str) -> PredictorLoader:
    def load(threads: int) -> FramePredictor:
        from medsight.inference.frames import FrameAnalyzer

        return AnalyzerFramePredictor(FrameAnalyzer.load(task_name, threads=threads))

    return load


def _classifier(task_name: str) -> PredictorLoader:
    def load(threads: int) -> FramePredictor:
        from medsight.inference import Analyzer
        from medsight.services.models import load_model
        from medsight.tasks import get_task

        model = load_model(get_task(task_name), None, resolution=None, backend="auto", threads=threads)
        return ClassifierFramePredictor(Analyzer(model, batch_size=1))

    return load


#: Tasks a live stream can run, and how to load each one's predictor.
FRAME_PREDICTORS: dict[str, PredictorLoader] = {
    "cxr-pneumonia": _classifier("cxr-pneumonia"),
    "us-breast": _frame_analyzer("us-breast"),
    "us-fetal-head": _frame_analyzer("us-fetal-head"),
}


def load_frame_predictor(
    task: str, registry: Mapping[str, PredictorLoader] | None = None, threads: int = 0
) -> FramePredictor:
    """Load the predictor of ``task``, its model runs on ``threads`` threads (0: the runtime's choice).

    Raises:
        UnknownResourceError: no live predictor for that task.
    """
    table = FRAME_PREDICTORS if registry is None else registry
    if task not in table:
        raise UnknownResourceError(f"no live stream for task {task!r}; streams exist for: {', '.join(sorted(table))}")
    return table[task](threads)
