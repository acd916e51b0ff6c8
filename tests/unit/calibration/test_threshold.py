"""Threshold rules: a toy Youden example, a brute-force optimum, prevalence invariance, and
the prevalence rule's steadiness where one case moves Youden's choice."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsight.calibration import ThresholdChoice, choose_threshold
from medsight.errors import UsageError


def _rates(y: np.ndarray, p: np.ndarray, t: float) -> tuple[float, float]:
    called = p >= t
    return float(called[y == 1].mean()), float((~called)[y == 0].mean())


def test_youden_toy_example() -> None:
    # Negatives 0.1 0.2 0.3 0.6; positives 0.4 0.7 0.8 0.9. Calling >= 0.4 catches every
    # positive and clears three negatives: J = 1 + 3/4 - 1 = 0.75, the maximum.
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    p = [0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9]
    choice = choose_threshold(y, p)
    assert choice == ThresholdChoice(threshold=pytest.approx(0.35), rule="youden", sensitivity=1.0, specificity=0.75)  # type: ignore[arg-type]


def test_youden_ties_prefer_sensitivity() -> None:
    # J = 0.5 both at 0.6 (sens 0.5, spec 1) and at 0.225 (sens 1, spec 0.5).
    choice = choose_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert choice.threshold == pytest.approx(0.225)
    assert (choice.sensitivity, choice.specificity) == (1.0, 0.5)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=2, max_size=30))
def test_youden_reaches_the_brute_force_maximum_off_the_data(cases: list[tuple[bool, int]]) -> None:
    y = np.array([c[0] for c in cases], dtype=int)
    p = np.array([c[1] / 20 for c in cases])
    if y.min() == y.max():
        return
    choice = choose_threshold(y, p)
    candidates = np.linspace(-0.001, 1.001, 2005)  # a fine grid: finds every distinct rule
    best = max(sum(_rates(y, p, t)) - 1 for t in candidates)
    sens, spec = _rates(y, p, choice.threshold)
    assert sens + spec - 1 == pytest.approx(best)
    assert (sens, spec) == (choice.sensitivity, choice.specificity)
    # Off the data, except 0 when a case scores 0 (no lower threshold exists in [0, 1]).
    assert choice.threshold == 0.0 or choice.threshold not in set(p.tolist())


def test_youden_does_not_depend_on_prevalence() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(int)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.15), 0, 1)
    base = choose_threshold(y, p)
    # Every negative three times: prevalence drops from 0.3 to about 0.12, rates do not move.
    neg = y == 0
    shifted = choose_threshold(np.r_[y, y[neg], y[neg]], np.r_[p, p[neg], p[neg]])
    assert shifted == base


def test_min_sensitivity_is_the_highest_threshold_that_keeps_it() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])
    choice = choose_threshold(y, p, "min_sensitivity", min_sensitivity=0.75)
    # 0.7 is the lowest of the top three positives; the next lower probability is 0.6.
    assert choice.threshold == pytest.approx(0.65)
    assert (choice.sensitivity, choice.specificity) == (0.75, 1.0)
    strict = choose_threshold(y, p, "min_sensitivity", min_sensitivity=1.0)
    assert strict.threshold == pytest.approx(0.35)
    assert choose_threshold(y, p, "min_sensitivity", min_sensitivity=0.01).threshold == pytest.approx(0.85)


def test_prevalence_is_the_share_of_positives_with_its_rates_on_the_data() -> None:
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    p = np.array([0.05, 0.1, 0.2, 0.3, 0.26, 0.5, 0.24, 0.9])
    choice = choose_threshold(y, p, "prevalence")
    assert choice.threshold == pytest.approx(0.25)
    assert choice.rule == "prevalence"
    # Called: 0.3, 0.26, 0.5 (negatives) and 0.9 (positive); 0.24 is missed.
    assert (choice.sensitivity, choice.specificity) == (0.5, 0.5)


def test_one_low_positive_moves_youden_far_and_the_prevalence_rule_not_at_all() -> None:
    # A val split of 57 negatives and 21 positives, as BreastMNIST's: most negatives score
    # below 0.04, eight between 0.1 and 0.25; 18 positives above 0.6, two at 0.08 and 0.09.
    negatives = np.r_[np.linspace(0.001, 0.039, 49), np.linspace(0.1, 0.25, 8)]
    positives = np.r_[np.linspace(0.6, 1.0, 18), 0.08, 0.09]
    y = np.r_[np.zeros(57, dtype=int), np.ones(21, dtype=int)]

    def choices(last_positive: float) -> tuple[float, float]:
        p = np.r_[negatives, positives, last_positive]
        return choose_threshold(y, p).threshold, choose_threshold(y, p, "prevalence").threshold

    # The last positive at 0.02, among the low negatives: Youden stays between the classes
    # (J = 18/21 there). At 0.05, just above them, calling it costs only the 8 middle
    # negatives (J = 49/57 > 18/21), and Youden drops to 0.045: one case moved it.
    youden_before, prevalence_before = choices(0.02)
    youden_after, prevalence_after = choices(0.05)
    assert youden_before > 0.2
    assert youden_after < 0.05
    assert prevalence_before == prevalence_after == pytest.approx(21 / 78)


@pytest.mark.parametrize(
    ("rule", "min_sensitivity", "message"),
    [
        ("f1", None, "unknown threshold rule"),
        ("min_sensitivity", None, "needs min_sensitivity"),
        ("min_sensitivity", 0.0, r"\(0, 1\]"),
        ("min_sensitivity", 1.5, r"\(0, 1\]"),
        ("youden", 0.9, "applies only"),
    ],
)
def test_rule_errors(rule: str, min_sensitivity: float | None, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        choose_threshold([0, 1], [0.2, 0.8], rule, min_sensitivity=min_sensitivity)


def test_needs_both_classes() -> None:
    with pytest.raises(UsageError, match="both classes"):
        choose_threshold([1, 1], [0.2, 0.8])
