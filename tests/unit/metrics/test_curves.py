"""ROC curve and reliability table against the metrics they must agree with."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsight.metrics import binary_metrics, expected_calibration_error, reliability_table, roc_auc, roc_curve


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=2, max_size=40))
def test_roc_is_monotone_and_its_area_is_the_auc(cases: list[tuple[bool, int]]) -> None:
    y = np.array([c[0] for c in cases], dtype=int)
    p = np.array([c[1] / 20 for c in cases])
    if y.min() == y.max():
        return
    fpr, tpr, thresholds = roc_curve(y, p)
    assert (fpr[0], tpr[0], thresholds[0]) == (0.0, 0.0, math.inf)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0)
    assert np.all(np.diff(tpr) >= 0)
    assert np.all(np.diff(thresholds) < 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(y, p), abs=1e-12)


def test_each_point_is_the_rule_at_its_threshold() -> None:
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.8, 0.6, 0.5, 0.3, 0.3, 0.1])
    fpr, tpr, thresholds = roc_curve(y, p)
    assert thresholds.tolist() == [math.inf, 0.9, 0.8, 0.6, 0.5, 0.3, 0.1]
    for f, t, threshold in zip(fpr[1:], tpr[1:], thresholds[1:], strict=True):
        m = binary_metrics(y, p, threshold)
        assert t == pytest.approx(m["sensitivity"])
        assert f == pytest.approx(1 - m["specificity"])


def test_roc_with_one_class_is_nan_in_that_rate() -> None:
    fpr, tpr, _ = roc_curve([0, 0, 0], [0.1, 0.5, 0.9])
    assert np.isnan(tpr).all()
    assert fpr.tolist() == [0.0, 1 / 3, 2 / 3, 1.0]


def test_reliability_table_by_hand() -> None:
    y = [0, 1, 1, 1, 0]
    p = [0.1, 0.1, 0.6, 0.8, 1.0]
    table = reliability_table(y, p, n_bins=4)
    assert table.bin_edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert table.counts.tolist() == [2, 0, 1, 2]  # 1.0 falls in the last bin
    assert table.mean_predicted[0] == pytest.approx(0.1)
    assert table.observed_fraction[0] == pytest.approx(0.5)
    assert math.isnan(table.mean_predicted[1])
    assert math.isnan(table.observed_fraction[1])
    assert table.mean_predicted[3] == pytest.approx(0.9)
    assert table.observed_fraction[3] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="read-only"):
        table.counts[0] = 5


def test_reliability_table_reproduces_the_ece() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.4
    p = rng.random(300)
    table = reliability_table(y, p)
    filled = table.counts > 0
    gaps = np.abs(table.observed_fraction[filled] - table.mean_predicted[filled])
    assert table.counts.sum() == 300
    assert float((table.counts[filled] * gaps).sum() / 300) == pytest.approx(expected_calibration_error(y, p))
