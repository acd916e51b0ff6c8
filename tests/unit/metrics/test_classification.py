"""Binary metrics against hand-computed confusion matrices and a brute-force AUC."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsight.errors import UsageError
from medsight.metrics import (
    BINARY_METRICS,
    binary_metrics,
    brier_score,
    expected_calibration_error,
    roc_auc,
)

# Eight cases at threshold 0.5 (a case exactly at 0.5 is called positive):
#   pred = 1 1 0 1 0 0 1 1  ->  TP = 3 (cases 0, 1, 7), FN = 1 (2), FP = 2 (3, 6), TN = 2 (4, 5)
Y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
P = np.array([0.9, 0.6, 0.4, 0.7, 0.2, 0.1, 0.5, 0.5])


def _pairwise_auc(y: np.ndarray, p: np.ndarray) -> float:
    """P(pos > neg) + P(pos == neg) / 2 by counting every pair."""
    pos, neg = p[y == 1], p[y == 0]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return float(wins / (pos.size * neg.size))


def _loop_ece(y: np.ndarray, p: np.ndarray, n_bins: int) -> float:
    """ECE written out bin by bin."""
    total = 0.0
    for k in range(n_bins):
        lo, hi = k / n_bins, (k + 1) / n_bins
        inside = [(yi, pi) for yi, pi in zip(y, p, strict=True) if lo <= pi < hi or (k == n_bins - 1 and pi == 1.0)]
        if inside:
            observed = sum(yi for yi, _ in inside) / len(inside)
            predicted = sum(pi for _, pi in inside) / len(inside)
            total += len(inside) / len(y) * abs(observed - predicted)
    return total


def test_hand_computed_confusion_matrix() -> None:
    m = binary_metrics(Y, P, 0.5)
    assert set(m) == {"n", *BINARY_METRICS}
    assert m["n"] == 8
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["sensitivity"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(2 / 4)
    assert m["ppv"] == pytest.approx(3 / 5)
    assert m["npv"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    # Pairs: 0.9 beats 4, 0.6 beats 3, 0.4 beats 2, 0.5 beats 2 and ties 1 -> 11.5 / 16.
    assert m["auc"] == pytest.approx(11.5 / 16)
    assert m["brier"] == pytest.approx(1.57 / 8)
    assert m["ece"] == pytest.approx(_loop_ece(Y, P, 15))


def test_threshold_is_inclusive() -> None:
    assert binary_metrics([1, 0], [0.5, 0.49], 0.5)["accuracy"] == 1.0
    assert binary_metrics([1, 0], [0.5, 0.49], 0.500001)["sensitivity"] == 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10)), min_size=2, max_size=40))
def test_auc_equals_pairwise_count(cases: list[tuple[bool, int]]) -> None:
    # Probabilities on a grid of 11 values, so ties are frequent.
    y = np.array([c[0] for c in cases], dtype=int)
    p = np.array([c[1] / 10 for c in cases])
    if y.min() == y.max():
        assert math.isnan(roc_auc(y, p))
    else:
        assert roc_auc(y, p) == pytest.approx(_pairwise_auc(y, p), abs=1e-12)
        assert binary_metrics(y, p, 0.5)["auc"] == pytest.approx(_pairwise_auc(y, p), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0.0, 1.0)), min_size=1, max_size=40),
    st.integers(1, 20),
)
def test_ece_matches_bin_loop(cases: list[tuple[bool, float]], n_bins: int) -> None:
    y = np.array([c[0] for c in cases], dtype=int)
    p = np.array([c[1] for c in cases])
    assert expected_calibration_error(y, p, n_bins) == pytest.approx(_loop_ece(y, p, n_bins), abs=1e-12)


def test_ece_is_zero_when_each_bin_is_calibrated() -> None:
    # 0.25 four times with one positive, 0.75 four times with three: observed = predicted.
    y = [1, 0, 0, 0, 1, 1, 1, 0]
    p = [0.25] * 4 + [0.75] * 4
    assert expected_calibration_error(y, p) == pytest.approx(0.0)
    assert expected_calibration_error(y, p, n_bins=1) == pytest.approx(0.0)


def test_brier_score_references() -> None:
    assert brier_score([1, 0], [1.0, 0.0]) == 0.0
    assert brier_score([1, 0], [0.0, 1.0]) == 1.0
    # Predicting the prevalence scores pi * (1 - pi).
    assert brier_score([1, 0, 0, 0], [0.25] * 4) == pytest.approx(0.25 * 0.75)


def test_undefined_metrics_are_nan_not_errors() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division warnings either
        only_negatives = binary_metrics([0, 0, 0], [0.1, 0.2, 0.3], 0.5)
        nothing_called = binary_metrics([1, 0], [0.2, 0.1], 0.9)
    assert math.isnan(only_negatives["auc"])
    assert math.isnan(only_negatives["sensitivity"])
    assert math.isnan(only_negatives["ppv"])
    assert math.isnan(only_negatives["f1"])
    assert only_negatives["specificity"] == 1.0
    assert only_negatives["npv"] == 1.0
    assert math.isnan(nothing_called["ppv"])
    assert nothing_called["f1"] == 0.0
    assert nothing_called["auc"] == 1.0


def test_accepts_bool_and_float_labels() -> None:
    a = binary_metrics(np.array(Y, dtype=bool), P, 0.5)
    b = binary_metrics(np.array(Y, dtype=float), P.astype(np.float32), 0.5)
    assert a["auc"] == pytest.approx(b["auc"])
    assert a["f1"] == pytest.approx(b["f1"])


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([[1, 0]], [[0.5, 0.5]], "1-D"),
        ([1, 0, 1], [0.5, 0.5], "differ in length"),
        ([], [], "no cases"),
        ([1, 2], [0.5, 0.5], "0 or 1"),
        (["a", "b"], [0.5, 0.5], "bool or numeric"),
        ([1, 0], [0.5, 1.5], r"\[0, 1\]"),
        ([1, 0], [0.5, float("nan")], "finite"),
        ([1, 0], ["x", "y"], "numeric"),
    ],
)
def test_invalid_input_raises_usage_error(y: object, p: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        binary_metrics(y, p, 0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("n_bins", [0, -1, 2.5, True])
def test_invalid_bins(n_bins: object) -> None:
    with pytest.raises(UsageError, match="n_bins"):
        expected_calibration_error([1, 0], [0.5, 0.5], n_bins)  # type: ignore[arg-type]


def test_invalid_threshold() -> None:
    with pytest.raises(UsageError, match="threshold"):
        binary_metrics([1, 0], [0.5, 0.5], float("nan"))


def test_a_probability_on_a_bin_edge_falls_in_the_bin_it_starts() -> None:
    # 0.15 == 3 / 20 in floating point; np.linspace(0, 1, 21)[3] is 0.15000000000000002.
    # Found by hypothesis: bin 2 (linspace) against bin 3 (the definition).
    y, p = np.array([0, 1]), np.array([0.15, 0.125])
    assert expected_calibration_error(y, p, 20) == pytest.approx(_loop_ece(y, p, 20), abs=1e-12)
