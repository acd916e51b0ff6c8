"""Input checks shared by the metrics: one place that turns bad arrays into UsageError."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medsight.errors import UsageError

__all__ = ["bin_index", "check_binary", "check_n_bins", "check_threshold"]


def check_binary(y_true: ArrayLike, prob: ArrayLike) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Validate labels and probabilities of a binary classifier and return them as arrays.

    Args:
        y_true: 1-D labels in {0, 1} (bool, integer or float holding 0/1).
        prob: 1-D predicted probabilities of the positive class, finite, in [0, 1].

    Returns:
        The labels as bool and the probabilities as float64.

    Raises:
        UsageError: the arrays are not 1-D, differ in length, are empty, or hold values
            outside their domain.
    """
    y = np.asarray(y_true)
    p = np.asarray(prob)
    if y.ndim != 1 or p.ndim != 1:
        raise UsageError(f"labels and probabilities must be 1-D, got shapes {y.shape} and {p.shape}")
    if y.shape != p.shape:
        raise UsageError(f"labels and probabilities differ in length: {y.size} and {p.size}")
    if y.size == 0:
        raise UsageError("no cases: labels and probabilities are empty")
    if not (y.dtype == np.bool_ or np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise UsageError(f"labels must be bool or numeric, got dtype {y.dtype}")
    if not np.all((y == 0) | (y == 1)):
        raise UsageError("labels must be 0 or 1")
    if not (np.issubdtype(p.dtype, np.integer) or np.issubdtype(p.dtype, np.floating)):
        raise UsageError(f"probabilities must be numeric, got dtype {p.dtype}")
    p = p.astype(np.float64)
    if not np.all(np.isfinite(p)):
        raise UsageError("probabilities must be finite (found NaN or infinity)")
    if p.min() < 0.0 or p.max() > 1.0:
        raise UsageError(f"probabilities must lie in [0, 1], found {p.min():g}..{p.max():g}")
    return y.astype(bool), p


def check_threshold(threshold: float) -> float:
    """The threshold as a float; it must be finite (0 flags every case, above 1 none)."""
    value = float(threshold)
    if not math.isfinite(value):
        raise UsageError(f"threshold must be finite, got {threshold!r}")
    return value


def check_n_bins(n_bins: int) -> int:
    """The number of calibration bins; a positive integer."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise UsageError(f"n_bins must be a positive integer, got {n_bins!r}")
    return int(n_bins)


def bin_edges(n_bins: int) -> NDArray[np.float64]:
    """The ``n_bins + 1`` equal-width edges ``k / n_bins`` from 0 to 1."""
    return np.arange(n_bins + 1, dtype=np.float64) / n_bins


def bin_index(prob: NDArray[np.float64], n_bins: int) -> NDArray[np.intp]:
    """Equal-width bin of each probability: bin k holds [k/n, (k+1)/n), the last also 1.0.

    The edges are :func:`bin_edges`, ``k / n`` computed as that division, so a probability
    that equals ``k / n`` in floating point (0.15 with 20 bins) falls in bin ``k`` as the
    definition says; ``np.linspace`` would put its edge a rounding error above it. The
    index agrees with the edges that :func:`medsight.metrics.reliability_table` reports.
    """
    edges = bin_edges(n_bins)
    index = np.searchsorted(edges, prob, side="right") - 1
    return np.clip(index, 0, n_bins - 1)
