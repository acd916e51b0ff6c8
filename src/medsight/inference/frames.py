"""One frame in, the task's result out: the per-frame entry point for live streams.

::

    analyzer = FrameAnalyzer.load("us-fetal-head")          # model loaded once (ONNX Runtime)
    result = analyzer.analyze(frame, pixel_spacing_mm=(0.12, 0.12))
    result.payload        # JSON: analyze --json's record for the task (refused, or the result)
    result.measurements   # numbers worth smoothing: {"hc_mm", "bpd_mm", "ga_weeks", "confidence"}
                          # or {"probability"}; empty when refused or nothing was found

``frame`` is one 2-D greyscale frame ``(rows, columns)``: uint8 (0-255), or float
(0-255, or 0-1 when its maximum is at most 1); an RGB frame ``(rows, columns, 3)`` of an
ultrasound display is accepted when its channels agree (a colour Doppler overlay is
refused). ``pixel_spacing_mm`` is ``(row, column)`` mm (or one number for square
pixels); without it ``us-fetal-head`` reports the ellipse in pixels and no mm or age.

The same checks and preprocessing as ``medsight analyze`` run on every frame (a frame
that is not what the task was made for is refused, with a reason). Calls are
thread-safe: the ONNX Runtime session and the loaded statistics are only read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.errors import InvalidImageError
from medsight.imaging import Geometry, Image, ImageMeta, Layout
from medsight.imaging.ellipse import Ellipse
from medsight.inference.analyzer import Analyzer
from medsight.inference.model import LoadedModel
from medsight.inference.segmentation import LoadedSegmenter, segment_images
from medsight.models.bundle import resolve_bundle
from medsight.tasks import get_task
from medsight.tasks.registry import TaskKind
from medsight.types import Modality

__all__ = ["FrameAnalysis", "FrameAnalyzer", "frame_to_image"]

Spacing = float | tuple[float, float] | None


@dataclass(frozen=True)
class FrameAnalysis:
    """The result for one frame.

    Attributes:
        payload: JSON-ready record: ``task``, ``model``, then ``refused`` or the result
            (``probability``, ``label``, ``uncertainty``; or ``found``, ``ellipse``,
            ``hc_mm``, ``bpd_mm``, ``ofd_mm``, ``ga_weeks``, ``confidence``...).
        measurements: the numbers to smooth over a stream, by name.
        ellipse: the head outline in frame pixels (``us-fetal-head``), for drawing.
    """

    payload: dict[str, Any]
    measurements: dict[str, float] = field(default_factory=dict)
    ellipse: Ellipse | None = None

    @property
    def refused(self) -> bool:
        """The frame was refused (``payload["refused"]`` says why)."""
        return "refused" in self.payload


def frame_to_image(frame: NDArray[Any], pixel_spacing_mm: Spacing = None, modality: Modality = Modality.US) -> Image:
    """One frame as an :class:`~medsight.imaging.Image` with 8-bit display values and its spacing.

    Raises:
        InvalidImageError: not a 2-D (or 2-D RGB) array, or not finite.
    """
    array = np.asarray(frame)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3) or min(array.shape[:2]) < 8:
        raise InvalidImageError(f"a frame must be (rows, columns) or (rows, columns, 3), got shape {array.shape}")
    pixels = array.astype(np.float32)
    if array.dtype != np.uint8:
        if not np.isfinite(pixels).all():
            raise InvalidImageError("a frame must hold finite values")
        if pixels.size and float(pixels.max()) <= 1.0:
            pixels = pixels * np.float32(255.0)
        pixels = np.clip(pixels, 0.0, 255.0)
    if pixel_spacing_mm is None:
        geometry = Geometry(spacing_known=False)
    else:
        row_mm, col_mm = (
            (pixel_spacing_mm, pixel_spacing_mm) if isinstance(pixel_spacing_mm, int | float) else pixel_spacing_mm
        )
        geometry = Geometry(spacing=(1.0, float(row_mm), float(col_mm)))
    meta = ImageMeta(modality=modality, photometric="MONOCHROME2", bits_stored=8)
    return Image(pixels=pixels, layout=Layout.IMAGE, geometry=geometry, meta=meta)


class FrameAnalyzer:
    """A task's model, loaded once, applied to single frames (see the module docstring)."""

    def __init__(self, model: LoadedModel | LoadedSegmenter) -> None:
        self.loaded = model
        self.analyzer = Analyzer(model, batch_size=1) if isinstance(model, LoadedModel) else None

    @classmethod
    def load(
        cls, task: str, model: str | Path | None = None, *, backend: str = "auto", threads: int = 0
    ) -> FrameAnalyzer:
        """Load ``model`` (a bundle folder or shipped name), else the task's shipped model (the largest).

        ``threads``: ONNX Runtime's threads per frame (0 lets it choose: one per core).

        Raises:
            UsageError: unknown task or backend. ModelNotFoundError: no such model.
            WeightsMismatchError: the weights differ from their recorded sha256.
        """
        spec = get_task(task)
        default = spec.shipped_models[max(spec.shipped_models)] if spec.shipped_models else None
        bundle = resolve_bundle(model, default=default)
        if bundle.metadata.medsight.task != spec.name:
            from medsight.errors import UsageError

            raise UsageError(f"model {bundle.name} is for task {bundle.metadata.medsight.task}, not {spec.name}")
        if spec.kind is TaskKind.SEGMENTATION:
            return cls(LoadedSegmenter.load(bundle, backend, threads))
        return cls(LoadedModel.load(bundle, backend, threads))

    @property
    def task(self) -> str:
        """The task name."""
        return self.loaded.task.name

    @property
    def model(self) -> dict[str, Any]:
        """The model's identity: name, version, sha256."""
        return self.loaded.bundle.identity()

    def analyze(self, frame: NDArray[Any], pixel_spacing_mm: Spacing = None) -> FrameAnalysis:
        """Analyse one frame (see the module docstring for what ``frame`` may be).

        Raises:
            InvalidImageError: ``frame`` is not a 2-D greyscale or RGB array of finite values.
        """
        image = frame_to_image(frame, pixel_spacing_mm)
        if self.analyzer is not None:
            analysis = self.analyzer.analyze(image)
            scored = {} if analysis.probability is None else {"probability": analysis.probability}
            return FrameAnalysis(analysis.to_dict(), scored)
        assert isinstance(self.loaded, LoadedSegmenter)
        spacing = None if not image.geometry.spacing_known else (image.geometry.spacing[1], image.geometry.spacing[2])
        result = segment_images(self.loaded, [image], [spacing])[0]
        measured: dict[str, float] = {}
        if result.biometry is not None:
            b = result.biometry
            measured = {"hc_mm": b.hc_mm, "bpd_mm": b.bpd_mm, "ofd_mm": b.ofd_mm, "ga_weeks": b.ga_weeks}
        if result.found and result.confidence is not None:
            measured["confidence"] = result.confidence
        return FrameAnalysis(result.to_dict(), measured, result.ellipse)
