"""Binary classification metrics at an operating threshold, with calibration summaries.

A case is called positive when its probability is at least the threshold
(``prob >= threshold``). Metrics that are undefined for the data at hand (sensitivity with
no positive case, PPV with no positive call, AUC with one class) are ``nan``, never an
exception, so an evaluation report always has every key. Bad input (shapes, labels outside
{0, 1}, probabilities outside [0, 1] or not finite) raises :class:`~medsight.errors.UsageError`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from medsight.metrics._checks import check_binary, check_n_bins, check_threshold
from medsight.metrics._weighted import weighted_metrics

__all__ = [
    "BINARY_METRICS",
    "DEFAULT_ECE_BINS",
    "binary_metrics",
    "brier_score",
    "expected_calibration_error",
    "roc_auc",
]

#: The metrics :func:`binary_metrics` reports (besides ``n``), in report order.
BINARY_METRICS: tuple[str, ...] = ("auc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "f1", "ece", "brier")

#: Equal-width bins of the ECE unless a caller chooses otherwise (Guo et al. 2017 use 15).
DEFAULT_ECE_BINS = 15


def binary_metrics(y_true: ArrayLike, prob: ArrayLike, threshold: float) -> dict[str, float]:
    """Every metric of :data:`BINARY_METRICS`, and ``n``, for one set of predictions.

    - ``auc``: Mann-Whitney U / (n_pos * n_neg), ties counted one half (average ranks);
      threshold-free.
    - ``accuracy``, ``sensitivity`` (recall, TPR), ``specificity`` (TNR), ``ppv``
      (precision), ``npv``, ``f1``: from the confusion matrix at ``threshold``.
    - ``ece``: :func:`expected_calibration_error` with :data:`DEFAULT_ECE_BINS` bins.
    - ``brier``: :func:`brier_score`.

    Args:
        y_true: 1-D labels in {0, 1}.
        prob: 1-D probabilities of the positive class in [0, 1].
        threshold: operating point; a case is positive when ``prob >= threshold``.

    Returns:
        ``{"n": float(count), "auc": ..., ...}``; undefined metrics are ``nan``.

    Raises:
        UsageError: invalid inputs (see the module docstring) or a non-finite threshold.
    """
    y, p = check_binary(y_true, prob)
    t = check_threshold(threshold)
    rows = weighted_metrics(np.ones((1, p.size)), y, p, t, DEFAULT_ECE_BINS)
    return {name: float(values[0]) for name, values in rows.items()}


def roc_auc(y_true: ArrayLike, prob: ArrayLike) -> float:
    """Area under the ROC curve by the Mann-Whitney rank statistic (ties count one half).

    Equal to the probability that a random positive scores above a random negative
    (Hanley & McNeil 1982). ``nan`` when only one class is present.
    """
    y, p = check_binary(y_true, prob)
    # The threshold does not enter the AUC; 0.5 just satisfies the signature.
    return float(weighted_metrics(np.ones((1, p.size)), y, p, 0.5, 1)["auc"][0])


def expected_calibration_error(y: ArrayLike, prob: ArrayLike, n_bins: int = DEFAULT_ECE_BINS) -> float:
    """Expected calibration error of the positive-class probability (Guo et al. 2017).

    ``ECE = sum_k (n_k / n) * |observed_k - mean_predicted_k|`` over equal-width bins
    ``[k/K, (k+1)/K)`` of the predicted probability (the last bin also holds 1.0); empty
    bins contribute nothing.

    The choice: bins are on the probability of the *positive class*, not on the top-label
    confidence ``max(p, 1 - p)`` that Guo et al. use for multi-class models. For a binary
    classifier operated at a threshold, the positive-class probability is the quantity that
    is thresholded and reported, so its calibration is what a reader relies on; it also
    keeps the reliability diagram on one axis from 0 to 1. Equal-width (not equal-mass) bins
    match the reliability diagram of :func:`medsight.metrics.reliability_table`.

    Raises:
        UsageError: invalid inputs or ``n_bins`` not a positive integer.
    """
    labels, p = check_binary(y, prob)
    bins = check_n_bins(n_bins)
    return float(weighted_metrics(np.ones((1, p.size)), labels, p, 0.5, bins)["ece"][0])


def brier_score(y: ArrayLike, prob: ArrayLike) -> float:
    """Brier score: the mean squared difference between probability and label (Brier 1950).

    0 is perfect; always predicting the prevalence ``pi`` scores ``pi * (1 - pi)``.
    """
    labels, p = check_binary(y, prob)
    return float(np.mean((p - labels) ** 2))
