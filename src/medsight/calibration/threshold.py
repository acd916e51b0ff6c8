"""Choosing the operating threshold of a binary classifier on held-out data.

Any threshold in the interval above one distinct probability up to the next gives the
same labels on the data, so the rules below pick one *interval* and report its midpoint:
the threshold never sits on a data point, and future cases scored near a data point are
not flipped by a rounding difference. Below the lowest probability the interval is taken
to start at 0 (calling every case positive gives threshold ``lowest / 2``, or 0 when a case
scores exactly 0).

Rules:

- ``"youden"``: maximise Youden's J = sensitivity + specificity - 1 (Youden 1950). Both
  terms are rates within one class, so J and the chosen threshold do not depend on the
  prevalence of the data: a threshold chosen on a validation split with 26 % normals holds
  its meaning on a test split with 37 %. (Accuracy- or F1-optimal thresholds do not.)
  When several intervals reach the same J, the one with the highest sensitivity wins.
- ``"min_sensitivity"``: the highest threshold whose sensitivity is at least
  ``min_sensitivity`` (a screening rule: miss at most that fraction of positives, at the
  best specificity that allows). Also independent of prevalence.
- ``"prevalence"``: the share of positives in the data. Where a calibrated probability
  equals the prior, the image's likelihood ratio is 1, and that is where Youden's J is
  highest in the population the data was drawn from (the ROC curve's slope is 1 there).
  The ``"youden"`` rule searches the sample's own curve instead, and on a small
  validation split one case can move its choice a long way (``us-breast``, 78 images:
  0.06 against 0.45 for nearly the same J; docs/models.md). This rule needs calibrated
  probabilities, which :mod:`medsight.calibration.temperature` gives, and is as
  independent of the prevalence of later data as Youden's: its meaning is a likelihood
  ratio of 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medsight.calibration._checks import check_labels, check_scores
from medsight.errors import UsageError

__all__ = ["THRESHOLD_RULES", "ThresholdChoice", "choose_threshold"]

#: The rules :func:`choose_threshold` knows.
THRESHOLD_RULES: tuple[str, ...] = ("youden", "min_sensitivity", "prevalence")


@dataclass(frozen=True, slots=True)
class ThresholdChoice:
    """An operating threshold and what it achieves on the data it was chosen on.

    Attributes:
        threshold: call a case positive when ``prob >= threshold``.
        rule: the rule that chose it.
        sensitivity: true-positive rate at the threshold on the choosing data.
        specificity: true-negative rate at the threshold on the choosing data.
    """

    threshold: float
    rule: str
    sensitivity: float
    specificity: float


def _sweep(
    y: NDArray[np.bool_], p: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """Candidate thresholds and the true/false positive counts at each, highest first.

    Candidate ``k`` is the midpoint between the ``k``-th highest distinct probability and
    the next lower one (0 below the lowest), so it calls exactly the cases with probability
    at least the ``k``-th highest positive.
    """
    order = np.argsort(-p, kind="stable")
    sorted_p = p[order]
    sorted_y = y[order]
    last = np.flatnonzero(np.r_[sorted_p[1:] != sorted_p[:-1], True])
    distinct = sorted_p[last]
    below = np.r_[distinct[1:], 0.0]
    tp = np.cumsum(sorted_y)[last].astype(np.int64)
    fp = np.cumsum(~sorted_y)[last].astype(np.int64)
    return (distinct + below) / 2.0, tp, fp


def _check_rule(rule: str, min_sensitivity: float | None) -> None:
    if rule not in THRESHOLD_RULES:
        raise UsageError(f"unknown threshold rule {rule!r}; choose one of: {', '.join(THRESHOLD_RULES)}")
    if rule == "min_sensitivity":
        if min_sensitivity is None:
            raise UsageError("rule 'min_sensitivity' needs min_sensitivity (a fraction in (0, 1])")
        if not (math.isfinite(min_sensitivity) and 0.0 < min_sensitivity <= 1.0):
            raise UsageError(f"min_sensitivity must lie in (0, 1], got {min_sensitivity!r}")
    elif min_sensitivity is not None:
        raise UsageError(f"min_sensitivity applies only to rule 'min_sensitivity', not {rule!r}")


def choose_threshold(
    y: ArrayLike, prob: ArrayLike, rule: str = "youden", *, min_sensitivity: float | None = None
) -> ThresholdChoice:
    """Choose the operating threshold by ``rule`` (see the module docstring).

    Args:
        y: 1-D labels in {0, 1}, both classes present.
        prob: 1-D calibrated probabilities of the positive class in [0, 1].
        rule: ``"youden"``, ``"min_sensitivity"`` or ``"prevalence"``.
        min_sensitivity: the sensitivity to keep, for ``"min_sensitivity"`` only.

    Returns:
        The threshold with its sensitivity and specificity on ``(y, prob)``.

    Raises:
        UsageError: invalid inputs, a single class, an unknown rule, or ``min_sensitivity``
            missing, out of (0, 1], or given to another rule.
    """
    _check_rule(rule, min_sensitivity)
    labels = check_labels(y)
    p = check_scores(prob, labels.size, what="probabilities", unit_interval=True)
    thresholds, tp, fp = _sweep(labels, p)
    n_pos, n_neg = int(tp[-1]), int(fp[-1])
    sensitivity = tp / n_pos
    if rule == "prevalence":
        threshold = n_pos / (n_pos + n_neg)
        chosen = p >= threshold
        return ThresholdChoice(
            threshold=threshold,
            rule=rule,
            sensitivity=float(chosen[labels].mean()),
            specificity=float((~chosen[~labels]).mean()),
        )
    if rule == "youden":
        # J * n_pos * n_neg in integers, so ties are exact; the last maximum in this
        # highest-first order is the most sensitive one.
        j_scaled = tp * n_neg - fp * n_pos
        k = int(np.flatnonzero(j_scaled == j_scaled.max())[-1])
    else:
        assert min_sensitivity is not None  # checked by _check_rule
        k = int(np.argmax(sensitivity >= min_sensitivity))
    return ThresholdChoice(
        threshold=float(thresholds[k]),
        rule=rule,
        sensitivity=float(sensitivity[k]),
        specificity=float((n_neg - fp[k]) / n_neg),
    )
