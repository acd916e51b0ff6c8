"""Mondrian conformal: the quantile rule, per-class coverage under a prevalence shift, storage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medsight.calibration import ConformalCalibrator, fit_conformal
from medsight.errors import InputError, UsageError


def _draw(rng: np.random.Generator, n: int, prevalence: float) -> tuple[np.ndarray, np.ndarray]:
    """A deliberately miscalibrated model: overlapping beta-distributed scores per class."""
    y = (rng.random(n) < prevalence).astype(int)
    p = np.where(y == 1, rng.beta(4, 2, n), rng.beta(2, 3, n))
    return y, p


def test_quantile_is_the_corrected_order_statistic() -> None:
    # Nine negatives with scores p = 0.1..0.9; coverage 0.8 -> rank ceil(10 * 0.8) = 8.
    y = [0] * 9 + [1]
    p = [k / 10 for k in range(1, 10)] + [0.7]
    cal = fit_conformal(y, p, coverage=0.8)
    assert cal.quantiles[0] == pytest.approx(0.8)
    # One positive is too few for 80 %: rank ceil(2 * 0.8) = 2 > 1, so class 1 is always kept.
    assert cal.quantiles[1] == 1.0
    assert cal.counts == (9, 1)


def test_per_class_coverage_holds_under_prevalence_shift() -> None:
    rng = np.random.default_rng(0)
    coverage = 0.9
    hits: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(200):
        cal = fit_conformal(*_draw(rng, 200, prevalence=0.7), coverage=coverage)
        y_test, p_test = _draw(rng, 1000, prevalence=0.3)  # prevalence shifted from 0.7 to 0.3
        sets = cal.prediction_sets(p_test)
        for c in (0, 1):
            hits[c].append(float(sets[y_test == c, c].mean()))
    for c in (0, 1):
        assert np.mean(hits[c]) >= coverage - 0.02
        # Split conformal is also nearly tight: at most 1 / (n_c + 1) above the target.
        assert np.mean(hits[c]) <= coverage + 0.04


def test_sets_can_be_empty_or_hold_both_labels() -> None:
    cal = ConformalCalibrator(coverage=0.9, quantiles=(0.3, 0.3))
    # Label 0 kept when p <= 0.3; label 1 kept when 1 - p <= 0.3.
    assert cal.prediction_set(0.1) == (0,)
    assert cal.prediction_set(0.9) == (1,)
    assert cal.prediction_set(0.5) == ()
    wide = ConformalCalibrator(coverage=0.9, quantiles=(0.8, 0.8))
    assert wide.prediction_set(0.5) == (0, 1)
    sets = wide.prediction_sets(np.array([0.1, 0.5, 0.95]))
    assert sets.shape == (3, 2)
    assert sets.dtype == bool
    assert sets.tolist() == [[True, False], [True, True], [False, True]]


def test_calibration_cases_on_the_quantile_are_kept() -> None:
    y, p = _draw(np.random.default_rng(1), 300, 0.5)
    cal = fit_conformal(y, p, coverage=0.95)
    sets = cal.prediction_sets(p)
    assert sets[y == 0, 0].mean() >= 0.95
    assert sets[y == 1, 1].mean() >= 0.95


def test_round_trips_through_json() -> None:
    cal = fit_conformal(*_draw(np.random.default_rng(2), 100, 0.5), coverage=0.95)
    stored = json.loads(json.dumps(cal.to_dict()))
    assert ConformalCalibrator.from_dict(stored) == cal


@pytest.mark.parametrize(
    "data",
    [
        {"coverage": 0.9},
        {"coverage": 0.9, "quantiles": [0.5]},
        {"coverage": "high", "quantiles": [0.5, 0.5]},
        {"coverage": 0.9, "quantiles": [0.5, 2.0]},
        {"method": "pooled", "coverage": 0.9, "quantiles": [0.5, 0.5]},
    ],
)
def test_from_dict_rejects_malformed_data(data: dict[str, object]) -> None:
    with pytest.raises(InputError, match="calibrator"):
        ConformalCalibrator.from_dict(data)


@pytest.mark.parametrize("coverage", [0.0, 1.0, float("nan")])
def test_rejects_bad_coverage(coverage: float) -> None:
    with pytest.raises(UsageError, match="coverage"):
        fit_conformal([0, 1], [0.2, 0.8], coverage=coverage)


def test_rejects_bad_probabilities() -> None:
    cal = ConformalCalibrator(coverage=0.9, quantiles=(0.5, 0.5))
    with pytest.raises(UsageError, match="probabilities"):
        cal.prediction_set(1.5)
