"""Small statistics for the service bench: nearest-rank percentiles, rates, ratios."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Percentiles", "nearest_rank", "windows_ratio"]


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile by nearest rank: the smallest value with at least ``q``% at or below it.

    Raises:
        ValueError: no values, or ``q`` outside (0, 100].
    """
    if not values:
        raise ValueError("no values")
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {q}")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Seconds of single requests: p50, p99 (nearest rank) and how many."""

    p50: float
    p99: float
    count: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Percentiles:
        return cls(p50=nearest_rank(seconds, 50), p99=nearest_rank(seconds, 99), count=len(seconds))


def windows_ratio(samples: Sequence[tuple[float, float]], window_s: float) -> tuple[float, float, float]:
    """Median of the values in the first and in the last ``window_s`` seconds, and last / first.

    ``samples`` are (seconds since start, value) in time order, spanning more than one window.

    Raises:
        ValueError: a window holds no sample.
    """
    if not samples:
        raise ValueError("no samples")
    start, end = samples[0][0], samples[-1][0]
    first = [value for at, value in samples if at <= start + window_s]
    last = [value for at, value in samples if at >= end - window_s]
    if not first or not last:
        raise ValueError("a window holds no sample")
    head, tail = statistics.median(first), statistics.median(last)
    return head, tail, tail / head
