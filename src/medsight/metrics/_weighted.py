"""Every binary metric for many resamples at once, each resample given as case multiplicities.

A bootstrap resample of the cases ``0..n-1`` is fully described by how often each case was
drawn. With those multiplicities as one row of a ``(B, n)`` matrix ``counts``, every metric
of :data:`~medsight.metrics.classification.BINARY_METRICS` is a weighted sum over the
original cases, so ``B`` resamples cost a few matrix products and one cumulative sum instead
of ``B`` sorts. The point estimate is the same computation with a single row of ones, so the
estimate and its bootstrap can never disagree on a definition.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from medsight.metrics._checks import bin_index

__all__ = ["weighted_metrics"]

_F64 = NDArray[np.float64]


def _ratio(num: _F64, den: _F64) -> _F64:
    """``num / den``, NaN where ``den`` is 0 (the metric is undefined there)."""
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _auc(counts: _F64, y: NDArray[np.bool_], prob: _F64) -> _F64:
    """Mann-Whitney AUC of each row: P(score_pos > score_neg) + P(tie) / 2.

    Cases are sorted by score once. For each case, the weighted number of negatives scoring
    strictly below its tie group and at or below it come from one cumulative sum; a positive
    contributes their mean, which is the average-rank treatment of ties.
    """
    order = np.argsort(prob, kind="stable")
    sorted_prob = prob[order]
    sorted_pos = y[order]
    weights = counts[:, order]
    neg_cum = np.zeros((counts.shape[0], prob.size + 1))
    np.cumsum(weights * ~sorted_pos, axis=1, out=neg_cum[:, 1:])
    # First and one-past-last position of each case's tie group in sorted order.
    start = np.searchsorted(sorted_prob, sorted_prob, side="left")
    stop = np.searchsorted(sorted_prob, sorted_prob, side="right")
    pos_idx = np.flatnonzero(sorted_pos)
    beaten = (neg_cum[:, start[pos_idx]] + neg_cum[:, stop[pos_idx]]) / 2.0
    numerator = np.einsum("bi,bi->b", weights[:, pos_idx], beaten)
    n_pos = weights[:, pos_idx].sum(axis=1)
    n_neg = neg_cum[:, -1]
    return _ratio(numerator, n_pos * n_neg)


def weighted_metrics(counts: _F64, y: NDArray[np.bool_], prob: _F64, threshold: float, n_bins: int) -> dict[str, _F64]:
    """Metrics of each row of ``counts`` (multiplicities of the cases), one array per name.

    Args:
        counts: ``(B, n)`` non-negative multiplicities; a row of ones is the sample itself.
        y: ``(n,)`` labels, checked.
        prob: ``(n,)`` probabilities of the positive class, checked.
        threshold: a case is called positive when ``prob >= threshold``.
        n_bins: equal-width bins for the ECE.

    Returns:
        ``n`` and every name in ``BINARY_METRICS``, each a ``(B,)`` float64 array; NaN where
        a metric is undefined for that row.
    """
    pred = prob >= threshold
    bins = bin_index(prob, n_bins)
    residual = y - prob
    # One design matrix: the four confusion cells, the squared error, then the signed
    # residual of each ECE bin. A single product gives every weighted sum.
    design = np.zeros((prob.size, 5 + n_bins))
    design[:, 0] = y & pred
    design[:, 1] = ~y & pred
    design[:, 2] = y & ~pred
    design[:, 3] = ~y & ~pred
    design[:, 4] = residual**2
    design[np.arange(prob.size), 5 + bins] = residual
    sums = counts @ design
    tp, fp, fn, tn = sums[:, 0], sums[:, 1], sums[:, 2], sums[:, 3]
    n = counts.sum(axis=1)
    return {
        "n": n,
        "auc": _auc(counts, y, prob),
        "accuracy": _ratio(tp + tn, n),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "ppv": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "f1": _ratio(2.0 * tp, 2.0 * tp + fp + fn),
        "ece": _ratio(np.abs(sums[:, 5:]).sum(axis=1), n),
        "brier": _ratio(sums[:, 4], n),
    }
