"""Confidence intervals for proportions: refusal rates, prevalences, accuracies of a subset."""

from __future__ import annotations

import math

__all__ = ["wilson_interval"]

_Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion (Wilson 1927); ``(nan, nan)`` when ``n`` is 0.

    Unlike the normal approximation it stays inside [0, 1] and keeps its coverage for
    proportions near 0 or 1 and for the small counts a refusal table or a subgroup has.
    """
    if n == 0:
        return (math.nan, math.nan)
    z = _Z95 if level == 0.95 else _normal_quantile(0.5 + level / 2.0)
    phat = successes / n
    denominator = 1.0 + z * z / n
    centre = (phat + z * z / (2 * n)) / denominator
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def _normal_quantile(q: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(q))
