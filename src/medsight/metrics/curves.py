"""The curves behind the metrics: ROC and the reliability table of a reliability diagram."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medsight.metrics._checks import bin_edges, bin_index, check_binary, check_n_bins
from medsight.metrics.classification import DEFAULT_ECE_BINS

__all__ = ["ReliabilityTable", "reliability_table", "roc_curve"]


def roc_curve(y: ArrayLike, prob: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The empirical ROC curve: one point per distinct probability, highest first.

    Point ``k`` is the rule ``prob >= thresholds[k]``. The first point is ``(0, 0)`` with
    threshold ``+inf`` (nothing called positive); the last is ``(1, 1)`` at the lowest
    probability. Tied probabilities make one point, so the curve's trapezoidal area is the
    Mann-Whitney AUC of :func:`~medsight.metrics.roc_auc`.

    Returns:
        ``(fpr, tpr, thresholds)``, each of length ``distinct probabilities + 1``. ``tpr``
        is ``nan`` throughout when there is no positive case, ``fpr`` when there is no
        negative one.
    """
    labels, p = check_binary(y, prob)
    order = np.argsort(-p, kind="stable")
    sorted_p = p[order]
    sorted_y = labels[order]
    # Last index of each run of equal probabilities (in descending order).
    last = np.flatnonzero(np.r_[sorted_p[1:] != sorted_p[:-1], True])
    tp = np.r_[0, np.cumsum(sorted_y)[last]].astype(np.float64)
    fp = np.r_[0, np.cumsum(~sorted_y)[last]].astype(np.float64)
    n_pos, n_neg = tp[-1], fp[-1]
    tpr = tp / n_pos if n_pos > 0 else np.full(tp.shape, np.nan)
    fpr = fp / n_neg if n_neg > 0 else np.full(fp.shape, np.nan)
    thresholds = np.r_[np.inf, sorted_p[last]]
    return fpr, tpr, thresholds


@dataclass(frozen=True, eq=False, slots=True)
class ReliabilityTable:
    """Per-bin summary of calibration, the data of a reliability diagram (DeGroot & Fienberg 1983).

    Arrays are read-only. Empty bins have count 0 and ``nan`` means.

    Attributes:
        bin_edges: ``n_bins + 1`` equal-width edges from 0 to 1.
        mean_predicted: mean predicted probability of the cases in each bin.
        observed_fraction: fraction of positive cases in each bin.
        counts: number of cases in each bin.
    """

    bin_edges: NDArray[np.float64]
    mean_predicted: NDArray[np.float64]
    observed_fraction: NDArray[np.float64]
    counts: NDArray[np.int64]


def reliability_table(y: ArrayLike, prob: ArrayLike, n_bins: int = DEFAULT_ECE_BINS) -> ReliabilityTable:
    """Bin the positive-class probability into equal-width bins, as the ECE does.

    Bin ``k`` holds ``[k/n_bins, (k+1)/n_bins)``; the last also holds 1.0. With
    ``table.counts`` as weights, ``sum(counts * |observed - predicted|) / n`` over non-empty
    bins is :func:`~medsight.metrics.expected_calibration_error`.
    """
    labels, p = check_binary(y, prob)
    bins = check_n_bins(n_bins)
    index = bin_index(p, bins)
    counts = np.bincount(index, minlength=bins).astype(np.int64)
    sum_p = np.bincount(index, weights=p, minlength=bins)
    sum_y = np.bincount(index, weights=labels.astype(np.float64), minlength=bins)
    filled = counts > 0
    mean_predicted = np.full(bins, np.nan)
    observed = np.full(bins, np.nan)
    mean_predicted[filled] = sum_p[filled] / counts[filled]
    observed[filled] = sum_y[filled] / counts[filled]
    arrays = (bin_edges(bins), mean_predicted, observed, counts)
    for array in arrays:
        array.setflags(write=False)
    return ReliabilityTable(*arrays)
