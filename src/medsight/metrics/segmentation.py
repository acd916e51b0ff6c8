"""Segmentation and measurement statistics: Dice, HD95 in mm, and bootstrap CIs of per-image values.

Pure numpy and scipy. Distances are physical: each mask's pixel spacing is given, so an
image at 0.1 mm per pixel and one at 0.3 mm per pixel are scored in the same unit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = ["bootstrap_statistic", "confidence_tracking", "dice", "hd95_mm"]


def dice(prediction: NDArray[np.bool_], reference: NDArray[np.bool_]) -> float:
    """Dice overlap of two filled masks (1 when both are empty)."""
    total = int(prediction.sum()) + int(reference.sum())
    if total == 0:
        return 1.0
    return 2.0 * float(np.logical_and(prediction, reference).sum()) / total


def _edge(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    edge: NDArray[np.bool_] = mask & ~ndimage.binary_erosion(mask, border_value=0)
    return edge


def hd95_mm(prediction: NDArray[np.bool_], reference: NDArray[np.bool_], spacing: tuple[float, ...]) -> float:
    """95th-percentile symmetric Hausdorff distance between the two masks' edges, in mm.

    The distances from each edge pixel of one mask to the nearest edge pixel of the other,
    both ways, pooled; their 95th percentile (the convention of MONAI's
    ``compute_hausdorff_distance(percentile=95)``). ``inf`` when exactly one mask is empty.

    Args:
        prediction: filled predicted mask.
        reference: filled reference mask, same shape.
        spacing: pixel or voxel spacing per axis in mm ((row, column) or (slice, row, column)).
    """
    a, b = _edge(prediction), _edge(reference)
    if not a.any() and not b.any():
        return 0.0
    if not a.any() or not b.any():
        return float("inf")
    to_b = ndimage.distance_transform_edt(~b, sampling=spacing)
    to_a = ndimage.distance_transform_edt(~a, sampling=spacing)
    distances = np.concatenate([to_b[a], to_a[b]])
    return float(np.percentile(distances, 95))


def bootstrap_statistic(
    values: NDArray[np.float64],
    statistic: Callable[[NDArray[np.float64]], float],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``statistic`` over per-image ``values`` (resampling images).

    Non-finite values are kept (a failed image counts against the model); the percentiles
    are taken over the resamples whose statistic is finite.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, values.size, size=(n_boot, values.size))
    stats = np.array([statistic(values[row]) for row in picks], dtype=np.float64)
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return (float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return (float(low), float(high))


def confidence_tracking(expected: NDArray[np.float64], real: NDArray[np.float64]) -> dict[str, float | None]:
    """How a per-case expected Dice tracks the real one: both means (calibration in the
    large: an expected mean above the real one is an optimistic confidence) and Spearman's
    rank correlation (whether it tells the worse cases from the better). None below 3 cases."""
    expected, real = np.asarray(expected, dtype=np.float64), np.asarray(real, dtype=np.float64)
    if expected.size < 3:
        return {"mean_expected_dice": None, "mean_dice": None, "spearman": None}
    rho = None
    if np.ptp(expected) > 0 and np.ptp(real) > 0:  # a rank correlation needs two ranks on each side
        from scipy.stats import spearmanr

        rho = round(float(spearmanr(expected, real).statistic), 4)
    return {
        "mean_expected_dice": round(float(expected.mean()), 4),
        "mean_dice": round(float(real.mean()), 4),
        "spearman": rho,
    }
