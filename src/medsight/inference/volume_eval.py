"""Score a volume segmentation model on a labelled split: Dice, HD95 and volume error, with 95% CIs.

Shared by ``medsight evaluate`` and by training's validation figures, so both report the
same numbers. A **case** is a patient volume (brain tumour) or a crop (hippocampus); at
the volume's own resolution and spacing, per case and label:

- ``dice``: predicted against reference voxels (1 when both are empty);
- ``hd95_mm``: 95th-percentile symmetric Hausdorff distance between their surfaces, mm
  (left out of the mean where either is empty);
- ``volume_abs_error_ml``: ``|predicted mL - reference mL|``;
- for single-label tasks with empty slices (the brain), ``false_positive_ml``: the
  predicted volume on the slices whose reference is empty (tumour-free slices must stay
  empty).

``confidence`` says how the model's own per-case confidence (the expected Dice, mean
over labels) tracks the real Dice: both means and their rank correlation
(:func:`~medsight.metrics.segmentation.confidence_tracking`).

Aggregates: ``dice_mean`` is the mean over cases of each case's Dice averaged over its
labels; ``dice_per_label`` the mean over cases per label; ``hd95_mm`` and
``volume_abs_error_ml`` the mean over cases of the per-case mean over labels. Each has a
95% percentile bootstrap CI over cases (``<key>_ci``; per label, ``dice_per_label_ci``).
Every case is scored, including those the distribution check would refuse in ``analyze``;
the refusals are reported beside.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.data.volumes import VolumeSet
from medsight.inference.volume_segmentation import LoadedVolumeSegmenter, segment_volume
from medsight.metrics.segmentation import bootstrap_statistic, confidence_tracking, dice, hd95_mm

__all__ = ["VOLUME_METRICS", "score_volumes"]

#: The aggregate keys, each with ``<key>_ci``.
VOLUME_METRICS = ("dice_mean", "hd95_mm", "volume_abs_error_ml", "false_positive_ml")


def _mean(values: NDArray[np.float64]) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def score_volumes(
    model: LoadedVolumeSegmenter,
    data: VolumeSet,
    *,
    bootstrap: int = 2000,
    seed: int = 0,
    on_case: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """``n``, the aggregates of the module docstring with 95% bootstrap CIs, and ``cases``.

    Raises:
        InvalidDatasetError: a case cannot be read.
    """
    names = model.names
    cases: list[dict[str, Any]] = []
    refusals: Counter[str] = Counter()
    for case in data:
        image, reference = data.read(case)
        result = segment_volume(model, image, measure_refused=True)
        if result.refused is not None:
            refusals[result.refused.check] += 1
        predicted = result.labels.labels if result.labels is not None else np.zeros_like(reference)
        row = _score_case(predicted, reference, names, image.geometry.spacing)
        row["key"] = case.key
        row["refused"] = result.refused.check if result.refused else None
        row["confidence"] = None if result.confidence is None else round(result.confidence, 4)
        cases.append(row)
        on_case()
    report: dict[str, Any] = {"n": len(cases), "labels": list(names), "tta": model.recipe.tta.value}
    per_case = {
        "dice_mean": np.array([c["dice_mean"] for c in cases], dtype=np.float64),
        "hd95_mm": np.array([_nanmean(c["hd95_mm"].values()) for c in cases], dtype=np.float64),
        "volume_abs_error_ml": np.array([np.mean(list(c["volume_abs_error_ml"].values())) for c in cases]),
    }
    if len(names) == 1:
        per_case["false_positive_ml"] = np.array([c["false_positive_ml"] for c in cases], dtype=np.float64)
    for key, values in per_case.items():
        report[key] = _round(_mean(values))
        report[f"{key}_ci"] = [_round(v) for v in bootstrap_statistic(values, _mean, n_boot=bootstrap, seed=seed)]
    report["dice_per_label"], report["dice_per_label_ci"] = {}, {}
    for name in names:
        values = np.array([c["dice"][name] for c in cases], dtype=np.float64)
        report["dice_per_label"][name] = _round(_mean(values))
        ci = bootstrap_statistic(values, _mean, n_boot=bootstrap, seed=seed)
        report["dice_per_label_ci"][name] = [_round(v) for v in ci]
    measured = [c for c in cases if c["confidence"] is not None]
    report["confidence"] = confidence_tracking(
        np.array([c["confidence"] for c in measured]), np.array([c["dice_mean"] for c in measured])
    )
    report["refused"] = {
        "n": sum(refusals.values()),
        "rate": round(sum(refusals.values()) / max(1, len(cases)), 4),
        "by_check": dict(sorted(refusals.items())),
    }
    report["cases"] = cases
    return report


def _score_case(
    predicted: NDArray[np.uint8], reference: NDArray[np.uint8], names: tuple[str, ...], spacing: tuple[float, ...]
) -> dict[str, Any]:
    voxel_ml = float(np.prod(spacing)) / 1000.0
    row: dict[str, Any] = {"dice": {}, "hd95_mm": {}, "volume_ml": {}, "reference_ml": {}, "volume_abs_error_ml": {}}
    for k, name in enumerate(names, start=1):
        p, r = predicted == k, reference == k
        row["dice"][name] = round(dice(p, r), 4)
        hd = hd95_mm(p, r, spacing) if p.any() and r.any() else float("nan")
        row["hd95_mm"][name] = _round(hd)
        pv, rv = float(p.sum()) * voxel_ml, float(r.sum()) * voxel_ml
        row["volume_ml"][name], row["reference_ml"][name] = round(pv, 4), round(rv, 4)
        row["volume_abs_error_ml"][name] = round(abs(pv - rv), 4)
    row["dice_mean"] = round(float(np.mean(list(row["dice"].values()))), 4)
    if len(names) == 1:
        empty = ~reference.reshape(len(reference), -1).any(axis=1)
        row["false_positive_ml"] = round(float((predicted[empty] > 0).sum()) * voxel_ml, 4)
        row["tumour_free_slices"] = int(empty.sum())
    return row


def _nanmean(values: Any) -> float:
    array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return _mean(array)


def _round(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)
