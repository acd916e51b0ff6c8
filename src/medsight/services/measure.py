"""Use case: ``medsight analyze`` for a segmentation task: segment, fit, measure, draw.

Every input becomes one record: ``path``, ``task``, ``model``, then ``refused``, or
``found``, ``confidence``, ``ellipse`` (pixels of the original image), ``pixel_spacing_mm``
and the measurements (``hc_mm``, ``bpd_mm``, ``ofd_mm``, ``ga_weeks``, ``ga_method``,
``ga_extrapolated``; None without a pixel spacing), and ``overlay`` (the PNG with the
outline drawn, when ``--heatmap`` names where). The pixel spacing is the image's own
(DICOM Pixel Spacing, or the Sequence of Ultrasound Regions, read by ``medsight.io``),
else the one given in :attr:`AnalyzeOptions.pixel_spacing_mm`, else none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from medsight.imaging import Image
from medsight.imaging.ellipse import draw_ellipse
from medsight.inference.segmentation import LoadedSegmenter, Segmentation, segment_images
from medsight.io.raster import write_rgb_png
from medsight.models.bundle import resolve_bundle
from medsight.services.analyze import AnalyzeOptions, AnalyzeReport, ScannedInputs, _heatmap_target, _unique
from medsight.services.models import shipped_for
from medsight.tasks import get_task

__all__ = ["measure_path", "spacing_of", "write_outline"]


def spacing_of(image: Image, fallback_mm: float | None) -> tuple[float, float] | None:
    """``(row, column)`` mm: the image's recorded spacing, else ``fallback_mm``, else None."""
    if image.geometry.spacing_known:
        return (image.geometry.spacing[1], image.geometry.spacing[2])
    return None if fallback_mm is None else (fallback_mm, fallback_mm)


def measure_path(
    path: Path,
    options: AnalyzeOptions,
    *,
    on_start: Callable[[int], None] = lambda total: None,
    on_record: Callable[[dict[str, Any]], None] = lambda record: None,
) -> AnalyzeReport:
    """Segment and measure every image under ``path`` (the module docstring)."""
    task = get_task(options.task)
    bundle = resolve_bundle(options.model, default=shipped_for(task, None))
    if bundle.metadata.medsight.task != task.name:
        from medsight.errors import UsageError

        raise UsageError(f"model {bundle.name} is for task {bundle.metadata.medsight.task}, not {task.name}")
    model = LoadedSegmenter.load(bundle, options.backend)
    inputs = ScannedInputs.of(path, options.limits)
    single = inputs.single
    overlays = _heatmap_target(options.heatmap, single)
    records: list[dict[str, Any]] = []
    names: set[str] = set()
    on_start(inputs.total)
    for loaded in inputs.load_in_chunks(options.limits, records, on_record):
        spacings = [spacing_of(image, options.pixel_spacing_mm) for _, image in loaded]
        results = segment_images(model, [image for _, image in loaded], spacings, keep=overlays is not None)
        for (label, _), result in zip(loaded, results, strict=True):
            record = {"path": label, **result.to_dict()}
            if "found" in record and overlays is not None:
                target = overlays if single else overlays / _unique(label, names).replace(".heatmap.", ".outline.")
                record["overlay"] = str(write_outline(result, target))
            records.append(record)
            on_record(record)
    return AnalyzeReport(records=records, model=bundle.identity())


def write_outline(result: Segmentation, target: Path) -> Path:
    """Write the original image with the fitted outline (green) and its axes' ends drawn, as a PNG."""
    assert result.prepared is not None
    grey = np.rint(result.prepared.unit * np.float32(255.0)).astype(np.uint8)
    rgb = np.repeat(grey[..., np.newaxis], 3, axis=-1)
    if result.ellipse is not None:
        thickness = max(2, round(max(grey.shape) / 300))
        rgb = draw_ellipse(rgb, result.ellipse, (0, 255, 0), thickness)
    return write_rgb_png(rgb, target)
