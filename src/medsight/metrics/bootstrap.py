"""Percentile bootstrap confidence intervals for every binary metric (Efron & Tibshirani 1993).

Resamples are drawn as multiplicities of the original cases (a multinomial draw is exactly
sampling with replacement), and all metrics of all resamples are computed together (see
:mod:`medsight.metrics._weighted`): 2,000 resamples of 600 cases take about 0.1 s on
one core.

Stratified resampling (the default) draws positives and negatives separately, keeping both
class counts of the sample, as an evaluation set with a fixed case mix is designed; AUC,
sensitivity and specificity are then defined in every resample. Unstratified resampling
lets prevalence vary too, and may draw a resample with one class, where the class-dependent
metrics are ``nan``; the percentiles are taken over the resamples where each is defined.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medsight.errors import UsageError
from medsight.metrics._checks import check_binary, check_threshold
from medsight.metrics._weighted import weighted_metrics
from medsight.metrics.classification import BINARY_METRICS, DEFAULT_ECE_BINS

__all__ = ["bootstrap_ci", "bootstrap_draws", "percentile_interval"]

# Resamples are processed in chunks of at most this many (resample, case) cells, so memory
# stays near 10 MB per temporary whatever n is. Fixed, so results do not depend on memory.
_CHUNK_CELLS = 1 << 20


def _draw_counts(rng: np.random.Generator, size: int, n_boot: int) -> NDArray[np.float64]:
    """Multiplicities of ``size`` cases drawn ``size`` times with replacement, per resample."""
    if size == 0:
        return np.zeros((n_boot, 0))
    return rng.multinomial(size, np.full(size, 1.0 / size), size=n_boot).astype(np.float64)


def _resample_counts(
    rng: np.random.Generator, y: NDArray[np.bool_], n_boot: int, stratified: bool
) -> NDArray[np.float64]:
    if not stratified:
        return _draw_counts(rng, y.size, n_boot)
    counts = np.empty((n_boot, y.size))
    pos = np.flatnonzero(y)
    neg = np.flatnonzero(~y)
    counts[:, pos] = _draw_counts(rng, pos.size, n_boot)
    counts[:, neg] = _draw_counts(rng, neg.size, n_boot)
    return counts


def _check_options(n_boot: int, level: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise UsageError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not (math.isfinite(level) and 0.0 < level < 1.0):
        raise UsageError(f"level must lie strictly between 0 and 1, got {level!r}")


def bootstrap_draws(
    y_true: ArrayLike,
    prob: ArrayLike,
    threshold: float,
    *,
    n_boot: int = 2000,
    rng: np.random.Generator,
    stratified: bool = True,
) -> dict[str, NDArray[np.float64]]:
    """Every metric of every resample: the draws that :func:`bootstrap_ci` takes percentiles of.

    Callers that combine resamples of several samples (the fairness audit resamples each
    subgroup on its own and takes differences between them, resample by resample) need
    the draws themselves, aligned by resample index.

    Args:
        y_true: 1-D labels in {0, 1}.
        prob: 1-D probabilities of the positive class in [0, 1].
        threshold: operating point, as in :func:`~medsight.metrics.binary_metrics`.
        n_boot: number of resamples.
        rng: the random generator to draw from (the caller owns the seeding).
        stratified: resample positives and negatives separately, keeping class counts.

    Returns:
        ``{metric: (n_boot,) array}`` for each name in :data:`BINARY_METRICS`; NaN where a
        metric is undefined in a resample.

    Raises:
        UsageError: invalid inputs or ``n_boot < 1``.
    """
    y, p = check_binary(y_true, prob)
    t = check_threshold(threshold)
    _check_options(n_boot, 0.95)
    chunk = max(1, _CHUNK_CELLS // p.size)
    values: dict[str, list[NDArray[np.float64]]] = {name: [] for name in BINARY_METRICS}
    for start in range(0, n_boot, chunk):
        counts = _resample_counts(rng, y, min(chunk, n_boot - start), stratified)
        rows = weighted_metrics(counts, y, p, t, DEFAULT_ECE_BINS)
        for name in BINARY_METRICS:
            values[name].append(rows[name])
    return {name: np.concatenate(parts) for name, parts in values.items()}


def bootstrap_ci(
    y_true: ArrayLike,
    prob: ArrayLike,
    threshold: float,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    stratified: bool = True,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap CI of every metric in :data:`BINARY_METRICS`.

    Args:
        y_true: 1-D labels in {0, 1}.
        prob: 1-D probabilities of the positive class in [0, 1].
        threshold: operating point, as in :func:`~medsight.metrics.binary_metrics`.
        n_boot: number of resamples.
        level: two-sided confidence level; the bounds are the ``(1 - level) / 2`` and
            ``(1 + level) / 2`` percentiles (linear interpolation).
        seed: seed of the resampling; the same seed gives the same intervals.
        stratified: resample positives and negatives separately, keeping class counts.

    Returns:
        ``{metric: (low, high)}`` for each name in :data:`BINARY_METRICS`; ``(nan, nan)``
        for a metric undefined in every resample (AUC with one class).

    Raises:
        UsageError: invalid inputs, ``n_boot < 1`` or ``level`` outside (0, 1).
    """
    _check_options(n_boot, level)
    draws = bootstrap_draws(
        y_true, prob, threshold, n_boot=n_boot, rng=np.random.default_rng(seed), stratified=stratified
    )
    return {name: percentile_interval(draws[name], level) for name in BINARY_METRICS}


def percentile_interval(draws: ArrayLike, level: float = 0.95) -> tuple[float, float]:
    """The two-sided percentile interval of bootstrap ``draws``, ignoring NaN draws.

    ``(nan, nan)`` when no draw is defined.
    """
    values = np.asarray(draws, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return (float("nan"), float("nan"))
    low, high = np.percentile(values, [50.0 * (1.0 - level), 50.0 * (1.0 + level)])
    return (float(low), float(high))
