"""Dice, HD95 in mm, and bootstrap CIs of per-image values."""

from __future__ import annotations

import numpy as np
import pytest

from medsight.metrics.segmentation import bootstrap_statistic, confidence_tracking, dice, hd95_mm


def _disk(shape: tuple[int, int], cy: float, cx: float, r: float) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - cy) ** 2 + (cols - cx) ** 2 <= r**2


def test_dice_of_identical_disjoint_and_empty_masks() -> None:
    a = _disk((64, 64), 32, 32, 10)
    assert dice(a, a) == 1.0
    assert dice(a, np.roll(a, 40, axis=1)) == 0.0
    assert dice(np.zeros_like(a), np.zeros_like(a)) == 1.0


def test_hd95_of_a_shifted_disk_is_the_shift_in_mm() -> None:
    a = _disk((100, 100), 50, 50, 20)
    b = _disk((100, 100), 50, 54, 20)
    assert hd95_mm(a, b, (1.0, 1.0)) == pytest.approx(4.0, abs=0.6)
    assert hd95_mm(a, b, (0.5, 0.5)) == pytest.approx(2.0, abs=0.3)
    assert hd95_mm(a, a, (1.0, 1.0)) == 0.0


def test_hd95_with_one_empty_mask_is_infinite() -> None:
    a = _disk((50, 50), 25, 25, 10)
    assert hd95_mm(a, np.zeros_like(a), (1.0, 1.0)) == float("inf")


def test_bootstrap_interval_holds_the_statistic_and_is_reproducible() -> None:
    values = np.random.default_rng(0).normal(2.0, 1.0, size=200)
    low, high = bootstrap_statistic(values, lambda v: float(np.mean(v)), n_boot=500, seed=1)
    assert low < values.mean() < high
    assert high - low == pytest.approx(2 * 1.96 / np.sqrt(200), rel=0.25)
    assert (low, high) == bootstrap_statistic(values, lambda v: float(np.mean(v)), n_boot=500, seed=1)


def test_bootstrap_of_nothing_is_nan() -> None:
    low, high = bootstrap_statistic(np.zeros(0), lambda v: float(np.mean(v)))
    assert np.isnan(low)
    assert np.isnan(high)


def test_confidence_tracking_reports_calibration_in_the_large_and_ranking() -> None:
    real = np.array([0.80, 0.85, 0.90, 0.95])
    optimistic = real + 0.04  # the same order, every case 0.04 too sure
    tracked = confidence_tracking(optimistic, real)
    assert tracked == {"mean_expected_dice": pytest.approx(0.915), "mean_dice": pytest.approx(0.875), "spearman": 1.0}
    assert confidence_tracking(real[::-1].copy(), real)["spearman"] == -1.0
    # No ranks to correlate where either side is constant; nothing at all below three cases.
    assert confidence_tracking(np.full(4, 0.9), real)["spearman"] is None
    assert confidence_tracking(real[:2], real[:2]) == {"mean_expected_dice": None, "mean_dice": None, "spearman": None}
