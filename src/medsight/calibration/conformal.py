"""Class-conditional (Mondrian) split conformal prediction sets for a binary classifier.

Split conformal prediction (Vovk, Gammerman & Shafer 2005; Angelopoulos & Bates 2021)
turns any probability into a *set* of labels that contains the true label with a chosen
probability. Here the calibration is Mondrian, one quantile per class (Vovk et al. 2005,
ch. 4; Sadinle, Lei & Wasserman 2019): for each class ``c``,

    P(c in C(x) | y = c) >= coverage,

whatever the prevalence of the cases it is applied to, because each class is calibrated
only on cases of that class. Pooled conformal would guarantee coverage only on average over
the calibration prevalence, and a shift (the pneumonia test split has more normals than
validation) moves the per-class coverage.

Score of a case with true class ``c``: ``s = 1 - p(c | x)``, with ``p(1 | x) = prob`` and
``p(0 | x) = 1 - prob``. With ``n_c`` calibration scores of class ``c``, the quantile is the
``ceil((n_c + 1) * coverage)``-th smallest, the finite-sample correction that makes the
guarantee exact for exchangeable data. When that rank exceeds ``n_c`` (too few cases for the
coverage asked) the quantile is 1.0, the largest possible score: the class is always kept.

A set may hold both labels (the model cannot tell at this coverage: an uncertain case) or
none (the case looks like neither class's calibration data: unusual input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medsight.calibration._checks import check_labels, check_scores
from medsight.errors import InputError, UsageError

__all__ = ["ConformalCalibrator", "fit_conformal"]

_METHOD = "mondrian_split_conformal"


def _check_unit(value: float, what: str, *, open_interval: bool) -> float:
    number = float(value)
    low_ok = number > 0.0 if open_interval else number >= 0.0
    high_ok = number < 1.0 if open_interval else number <= 1.0
    if not (math.isfinite(number) and low_ok and high_ok):
        bounds = "(0, 1)" if open_interval else "[0, 1]"
        raise UsageError(f"{what} must lie in {bounds}, got {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class ConformalCalibrator:
    """Per-class conformal quantiles of the score ``1 - p(true class)``.

    Attributes:
        coverage: the per-class coverage guaranteed, in (0, 1).
        quantiles: ``(q_0, q_1)``: label ``c`` is in the set when ``1 - p(c | x) <= q_c``.
        counts: calibration cases of each class, ``(n_0, n_1)``, kept for the record.
    """

    coverage: float
    quantiles: tuple[float, float]
    counts: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        _check_unit(self.coverage, "coverage", open_interval=True)
        if len(self.quantiles) != 2:
            raise UsageError(f"quantiles must hold one value per class (2), got {len(self.quantiles)}")
        for quantile in self.quantiles:
            _check_unit(quantile, "a conformal quantile", open_interval=False)

    def prediction_sets(self, prob: ArrayLike) -> NDArray[np.bool_]:
        """Membership of labels 0 and 1 in each case's set, shape ``(n, 2)``.

        Raises:
            UsageError: ``prob`` is not 1-D, finite and in [0, 1].
        """
        p = check_scores(prob, None, what="probabilities", unit_interval=True)
        # Scores computed exactly as in fit_conformal, so a calibration case on its quantile
        # is kept (the comparison is <=).
        return np.stack([p <= self.quantiles[0], (1.0 - p) <= self.quantiles[1]], axis=1)

    def prediction_set(self, prob: float) -> tuple[int, ...]:
        """The labels in the set of one case with positive-class probability ``prob``."""
        members = self.prediction_sets(np.array([prob], dtype=np.float64))[0]
        return tuple(int(label) for label in np.flatnonzero(members))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, read back by :meth:`from_dict`."""
        return {
            "method": _METHOD,
            "score": "1 - p(true class)",
            "coverage": self.coverage,
            "quantiles": [self.quantiles[0], self.quantiles[1]],
            "counts": [self.counts[0], self.counts[1]],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConformalCalibrator:
        """Rebuild a calibrator stored by :meth:`to_dict`.

        Raises:
            InputError: the mapping is not a stored calibrator (wrong method, missing or
                malformed fields, values out of range).
        """
        try:
            if data.get("method", _METHOD) != _METHOD:
                raise InputError(f"stored calibrator is {data.get('method')!r}, expected {_METHOD!r}")
            q0, q1 = (float(q) for q in data["quantiles"])
            n0, n1 = (int(n) for n in data.get("counts", (0, 0)))
            return cls(coverage=float(data["coverage"]), quantiles=(q0, q1), counts=(n0, n1))
        except (KeyError, TypeError, ValueError, AttributeError, UsageError) as exc:
            raise InputError(f"invalid stored conformal calibrator: {exc}") from exc


def _class_quantile(scores: NDArray[np.float64], coverage: float) -> float:
    """The ``ceil((n + 1) * coverage)``-th smallest score, or 1.0 when that rank exceeds n."""
    rank = math.ceil((scores.size + 1) * coverage)
    if rank > scores.size:
        return 1.0
    return float(np.partition(scores, rank - 1)[rank - 1])


def fit_conformal(y: ArrayLike, prob: ArrayLike, coverage: float = 0.95) -> ConformalCalibrator:
    """Fit per-class conformal quantiles on a calibration split (held out from training).

    Args:
        y: 1-D labels in {0, 1}. A class with too few cases for ``coverage`` (fewer than
            ``coverage / (1 - coverage)``, 19 at 95 %) gets quantile 1.0 and is always kept.
        prob: 1-D calibrated probabilities of the positive class in [0, 1].
        coverage: the per-class coverage to guarantee, in (0, 1).

    Raises:
        UsageError: invalid inputs or coverage.
    """
    level = _check_unit(coverage, "coverage", open_interval=True)
    labels = check_labels(y, both_classes=False)
    p = check_scores(prob, labels.size, what="probabilities", unit_interval=True)
    q0 = _class_quantile(p[~labels], level)
    q1 = _class_quantile(1.0 - p[labels], level)
    return ConformalCalibrator(coverage=level, quantiles=(q0, q1), counts=(int((~labels).sum()), int(labels.sum())))
