"""Temperature scaling recovers a known temperature and applies it stably."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from medsight.calibration import apply_temperature, fit_temperature
from medsight.calibration.temperature import T_MAX, T_MIN
from medsight.errors import UsageError


def _nll(logits: np.ndarray, y: np.ndarray, t: float) -> float:
    p = 1.0 / (1.0 + np.exp(-logits / t))
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


@pytest.mark.parametrize("true_t", [0.5, 2.5])
def test_recovers_a_known_temperature(true_t: float) -> None:
    # Labels drawn from sigmoid(z); the model reports z * true_t, so dividing by true_t is
    # exactly right.
    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 2.0, 20_000)
    y = (rng.random(z.size) < 1.0 / (1.0 + np.exp(-z))).astype(int)
    fitted = fit_temperature(z * true_t, y)
    assert fitted == pytest.approx(true_t, rel=0.05)
    # And it is the minimum of the NLL, checked by brute force on a grid around it.
    grid = fitted * np.array([0.9, 0.97, 1.03, 1.1])
    assert all(_nll(z * true_t, y, fitted) <= _nll(z * true_t, y, t) for t in grid)


def test_result_stays_within_bounds() -> None:
    # Perfectly separated data wants T -> 0; the search stops at the bound.
    assert fit_temperature([-1.0, -2.0, 1.0, 2.0], [0, 0, 1, 1]) == pytest.approx(T_MIN, rel=1e-3)
    # Labels unrelated to huge logits want T -> infinity.
    assert fit_temperature([-50.0, 50.0, -50.0, 50.0], [1, 0, 0, 1]) == pytest.approx(T_MAX, rel=1e-3)


def test_apply_is_the_sigmoid_and_stable() -> None:
    logits = np.array([-3.0, 0.0, 2.0])
    assert apply_temperature(logits, 2.0) == pytest.approx(1.0 / (1.0 + np.exp(-logits / 2.0)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        extreme = apply_temperature(np.array([-1000.0, 1000.0, -np.inf, np.inf]), 0.05)
    assert extreme.tolist() == [0.0, 1.0, 0.0, 1.0]
    assert apply_temperature(np.zeros((2, 3)), 1.0).shape == (2, 3)


def test_temperature_keeps_the_ranking() -> None:
    logits = np.random.default_rng(1).normal(size=50)
    assert np.array_equal(np.argsort(apply_temperature(logits, 3.0)), np.argsort(logits))


@pytest.mark.parametrize("t", [0.0, -1.0, float("nan"), float("inf")])
def test_apply_rejects_bad_temperature(t: float) -> None:
    with pytest.raises(UsageError, match="temperature"):
        apply_temperature([0.0], t)


@pytest.mark.parametrize(
    ("logits", "y", "message"),
    [
        ([0.1, 0.2], [1, 1], "both classes"),
        ([0.1, 0.2, 0.3], [1, 0], "differ in length"),
        ([0.1, float("nan")], [1, 0], "finite"),
        ([0.1, 0.2], [1, 3], "0 or 1"),
    ],
)
def test_fit_rejects_bad_input(logits: list[float], y: list[int], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        fit_temperature(logits, y)
