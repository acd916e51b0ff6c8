"""Bootstrap CIs: the vectorised resample metrics against explicit resamples, and the CI itself."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from medsight.errors import UsageError
from medsight.metrics import BINARY_METRICS, binary_metrics, bootstrap_ci
from medsight.metrics._weighted import weighted_metrics
from medsight.metrics.bootstrap import _resample_counts


def _sample(n: int = 600, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    p = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0.0, 1.0).round(2)  # rounded: ties
    return y, p


def test_resample_rows_equal_metrics_of_explicit_resamples() -> None:
    # Each row of multiplicities must score exactly as the resample it describes.
    y, p = _sample(80)
    counts = _resample_counts(np.random.default_rng(3), y.astype(bool), 25, stratified=False)
    rows = weighted_metrics(counts, y.astype(bool), p, 0.5, 15)
    for b in range(counts.shape[0]):
        reps = counts[b].astype(int)
        expected = binary_metrics(np.repeat(y, reps), np.repeat(p, reps), 0.5)
        for name, value in expected.items():
            assert rows[name][b] == pytest.approx(value, abs=1e-12, nan_ok=True), name


def test_stratified_resamples_keep_class_counts() -> None:
    y, _ = _sample(100)
    counts = _resample_counts(np.random.default_rng(0), y.astype(bool), 50, stratified=True)
    assert np.all(counts[:, y == 1].sum(axis=1) == y.sum())
    assert np.all(counts[:, y == 0].sum(axis=1) == (1 - y).sum())


def test_interval_brackets_the_estimate_and_is_reproducible() -> None:
    y, p = _sample()
    ci = bootstrap_ci(y, p, 0.5)
    point = binary_metrics(y, p, 0.5)
    assert set(ci) == set(BINARY_METRICS)
    for name in BINARY_METRICS:
        low, high = ci[name]
        assert low <= point[name] <= high, name
        assert high - low < 0.2, name
    assert bootstrap_ci(y, p, 0.5) == ci
    assert bootstrap_ci(y, p, 0.5, seed=1) != ci


def test_lower_level_gives_narrower_interval() -> None:
    y, p = _sample()
    wide = bootstrap_ci(y, p, 0.5, n_boot=500, level=0.95)["auc"]
    narrow = bootstrap_ci(y, p, 0.5, n_boot=500, level=0.5)["auc"]
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


def test_one_class_gives_nan_interval_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ci = bootstrap_ci([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.9], 0.5, n_boot=100)
    assert all(math.isnan(v) for v in ci["auc"])
    assert all(math.isnan(v) for v in ci["sensitivity"])
    assert ci["specificity"][1] == 1.0


def test_unstratified_ignores_resamples_with_one_class() -> None:
    # With 2 positives in 8, some resamples draw none; the AUC CI comes from the others.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ci = bootstrap_ci([1, 1, 0, 0, 0, 0, 0, 0], [0.9, 0.4, 0.5, 0.1, 0.2, 0.3, 0.2, 0.1], 0.5, stratified=False)
    assert 0.0 <= ci["auc"][0] <= ci["auc"][1] <= 1.0


@pytest.mark.parametrize(("n_boot", "level"), [(0, 0.95), (True, 0.95), (10, 1.0), (10, 0.0), (10, float("nan"))])
def test_invalid_options(n_boot: int, level: float) -> None:
    with pytest.raises(UsageError):
        bootstrap_ci([1, 0], [0.6, 0.4], 0.5, n_boot=n_boot, level=level)
