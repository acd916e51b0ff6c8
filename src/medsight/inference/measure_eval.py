"""Score a segmentation model on an HC18-layout split: Dice, HD95 and HC error, with 95% CIs.

Shared by ``medsight evaluate`` and by training's validation figures, so both report the
same numbers. Per image, at the frame's own resolution:

- ``dice``: the predicted head region (largest component, holes filled) against the
  filled reference ellipse;
- ``hd95_mm``: 95th-percentile symmetric Hausdorff distance between their edges, mm;
- ``hc_error_mm``: absolute difference of the fitted ellipse's HC from the CSV's HC.

An image where no head is found scores Dice 0, no HD95, and an HC error equal to the
reference HC (counted as ``failed``). Every image is measured, including those the
distribution check would refuse in ``analyze``; the refusals are reported beside.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.data.hc18 import MeasuredCase, MeasuredSet
from medsight.errors import InvalidDatasetError, MedsightError
from medsight.inference.segmentation import LoadedSegmenter, Segmentation, segment_images
from medsight.metrics.segmentation import bootstrap_statistic, confidence_tracking, dice, hd95_mm

__all__ = ["MEASURE_METRICS", "score_measured"]

_BATCH = 16

#: The statistics reported, each with ``<name>_ci``: (per-image value, statistic).
MEASURE_METRICS: dict[str, tuple[str, Callable[[NDArray[np.float64]], float]]] = {
    "dice": ("dice", lambda v: float(np.mean(v))),
    "hd95_mm": ("hd95", lambda v: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")),
    "hc_mae_mm": ("hc_error", lambda v: float(np.mean(v))),
    "hc_median_mm": ("hc_error", lambda v: float(np.median(v))),
    "hc_p95_mm": ("hc_error", lambda v: float(np.percentile(v, 95))),
}


def score_measured(
    model: LoadedSegmenter,
    data: MeasuredSet,
    *,
    bootstrap: int = 2000,
    seed: int = 0,
    on_case: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """``n``, the :data:`MEASURE_METRICS` with 95% bootstrap CIs, failures, refusals, confidence.

    Raises:
        InvalidDatasetError: an image or annotation cannot be read.
    """
    values: dict[str, list[float]] = {"dice": [], "hd95": [], "hc_error": [], "confidence": []}
    refusals: Counter[str] = Counter()
    failed = 0
    cases = list(data)
    for start in range(0, len(cases), _BATCH):
        batch = cases[start : start + _BATCH]
        try:
            images = [data.image(case) for case in batch]
        except MedsightError as exc:
            raise InvalidDatasetError(f"{data.root.name}: {exc.message}") from exc
        spacings = [(case.pixel_mm, case.pixel_mm) for case in batch]
        results = segment_images(model, images, spacings, keep=True, measure_refused=True)
        for case, image, result in zip(batch, images, results, strict=True):
            failed += _score_one(data, case, image.pixels.shape[:2], result, values)
            if result.refused is not None:
                refusals[result.refused.check] += 1
            on_case()
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    report: dict[str, Any] = {"n": len(cases)}
    for name, (key, statistic) in MEASURE_METRICS.items():
        report[name] = _round(statistic(arrays[key]) if len(cases) else float("nan"))
        ci = bootstrap_statistic(arrays[key], statistic, n_boot=bootstrap, seed=seed)
        report[f"{name}_ci"] = [_round(ci[0]), _round(ci[1])]
    report["failed"] = failed
    report["refused"] = {
        "n": sum(refusals.values()),
        "rate": round(sum(refusals.values()) / max(1, len(cases)), 4),
        "by_check": dict(sorted(refusals.items())),
    }
    report["confidence"] = confidence_tracking(arrays["confidence"], arrays["dice"])
    return report


def _score_one(
    data: MeasuredSet, case: MeasuredCase, shape: tuple[int, ...], result: Segmentation, values: dict[str, list[float]]
) -> int:
    """Append one image's values; 1 when no head was found in it."""
    _, reference = data.reference(case, (int(shape[0]), int(shape[1])))
    spacing = (case.pixel_mm, case.pixel_mm)
    values["confidence"].append(result.confidence or 0.0)
    if result.mask is None or result.biometry is None:
        values["dice"].append(0.0)
        values["hd95"].append(float("nan"))
        values["hc_error"].append(case.hc_mm)
        return 1
    values["dice"].append(dice(result.mask, reference))
    values["hd95"].append(hd95_mm(result.mask, reference, spacing))
    values["hc_error"].append(abs(result.biometry.hc_mm - case.hc_mm))
    return 0


def _round(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)
