"""Temporal smoothing of a measurement over a stream, with outlier rejection and "stable".

Frame-by-frame measurements jitter: the probe moves, a frame is blurred, the model
misses an edge. The operator needs one number that holds still when the image does,
and to know when it has settled so that the frame can be frozen. Over the last
``window`` values:

* the median and the median absolute deviation (MAD, scaled by 1.4826 to estimate a
  standard deviation for Gaussian noise) define the inliers: values within
  ``k`` scaled MADs of the median, or within ``tolerance`` of it when the MAD is tiny;
* the smoothed value is the mean of the inliers (robust, yet not as jumpy as a median);
* the newest value is an ``outlier`` when it is not an inlier;
* the measurement is ``stable`` when at least ``min_count`` values are there, the newest
  is an inlier, at least ``min_inlier_fraction`` of the window are inliers, and every
  inlier lies within ``tolerance`` of the smoothed value.

This is the Hampel identifier (a sliding-window median/MAD filter) followed by a mean.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["Smoothed", "Smoother", "Tolerance"]

_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Tolerance:
    """How a measurement is smoothed and when it counts as settled.

    Attributes:
        absolute: spread allowed around the smoothed value, in the measurement's unit.
        relative: spread allowed as a fraction of the smoothed value (the larger wins).
        window: values kept.
        min_count: values needed before anything is called stable.
        k: inlier band, in scaled MADs.
        min_inlier_fraction: share of the window that must be inliers for "stable".
    """

    absolute: float
    relative: float = 0.0
    window: int = 9
    min_count: int = 5
    k: float = 3.0
    min_inlier_fraction: float = 0.75

    def __post_init__(self) -> None:
        if self.absolute < 0 or self.relative < 0 or self.k <= 0:
            raise ValueError("tolerances and k must be positive")
        if not 1 <= self.min_count <= self.window:
            raise ValueError(f"min_count must be 1..window ({self.window}), got {self.min_count}")
        if not 0 < self.min_inlier_fraction <= 1:
            raise ValueError("min_inlier_fraction must be in (0, 1]")

    def allowed(self, value: float) -> float:
        """The spread allowed around ``value``."""
        return max(self.absolute, self.relative * abs(value))


@dataclass(frozen=True)
class Smoothed:
    """A smoothed measurement after one more value.

    Attributes:
        value: mean of the inliers of the window.
        latest: the value just added.
        outlier: whether ``latest`` was rejected.
        stable: whether the measurement has settled (see the module docstring).
        count: values in the window.
    """

    value: float
    latest: float
    outlier: bool
    stable: bool
    count: int

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "value": round(self.value, 4),
            "latest": round(self.latest, 4),
            "outlier": self.outlier,
            "stable": self.stable,
            "n": self.count,
        }


class Smoother:
    """Smooths one measurement of one stream."""

    def __init__(self, tolerance: Tolerance) -> None:
        self.tolerance = tolerance
        self._values: deque[float] = deque(maxlen=tolerance.window)

    def add(self, value: float) -> Smoothed:
        """Add the newest value and return the smoothed measurement."""
        self._values.append(float(value))
        values = np.fromiter(self._values, dtype=np.float64)
        median = float(np.median(values))
        band = max(self.tolerance.k * _MAD_TO_SIGMA * float(np.median(np.abs(values - median))), 1e-12)
        band = max(band, self.tolerance.allowed(median))
        inliers = values[np.abs(values - median) <= band]
        smoothed = float(inliers.mean())
        outlier = abs(value - median) > band
        settled = bool(np.all(np.abs(inliers - smoothed) <= self.tolerance.allowed(smoothed)))
        stable = (
            len(values) >= self.tolerance.min_count
            and not outlier
            and len(inliers) >= self.tolerance.min_inlier_fraction * len(values)
            and settled
        )
        return Smoothed(value=smoothed, latest=float(value), outlier=outlier, stable=stable, count=len(values))

    def reset(self) -> None:
        """Forget the history (the probe moved to another view)."""
        self._values.clear()
