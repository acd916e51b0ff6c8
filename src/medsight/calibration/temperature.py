"""Temperature scaling of a binary classifier's logit (Guo et al., ICML 2017).

One scalar ``T > 0`` divides the logit before the sigmoid: ``p = sigmoid(logit / T)``. It is
fitted on held-out data (the validation split, never the training data) by minimising the
negative log-likelihood. Dividing by a positive constant keeps the order of the cases, so
AUC and the ranking are unchanged; only the confidence is corrected (``T > 1`` softens an
over-confident network, the usual case).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize_scalar
from scipy.special import expit

from medsight.calibration._checks import check_labels, check_scores
from medsight.errors import UsageError

__all__ = ["T_MAX", "T_MIN", "apply_temperature", "fit_temperature"]

#: Bounds of the fitted temperature. Outside them the model is either nearly constant or
#: nearly a step function, and a temperature would hide that rather than fix it.
T_MIN = 0.05
T_MAX = 20.0


def _nll(log_t: float, logits: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    z = logits / math.exp(log_t)
    # -log-likelihood of a Bernoulli with logit z: log(1 + e^z) - y z, evaluated stably.
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(logits: ArrayLike, y: ArrayLike) -> float:
    """Fit the temperature minimising the NLL of ``sigmoid(logits / T)`` against ``y``.

    The search is over ``log T`` (bounded Brent, ``T`` in [:data:`T_MIN`, :data:`T_MAX`]),
    where the NLL is smooth and the bounds symmetric in ratio. A result at a bound means the
    data asked for more; it is returned as is.

    Args:
        logits: 1-D finite logits of the positive class, one per case.
        y: 1-D labels in {0, 1}, with both classes present (with one class the NLL keeps
            falling towards a bound and no temperature is identified).

    Returns:
        The temperature ``T``.

    Raises:
        UsageError: invalid or mismatched inputs, or a single class.
    """
    labels = check_labels(y)
    z = check_scores(logits, labels.size, what="logits", unit_interval=False)
    target = labels.astype(np.float64)
    result = minimize_scalar(
        _nll,
        bounds=(math.log(T_MIN), math.log(T_MAX)),
        args=(z, target),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(min(max(math.exp(float(result.x)), T_MIN), T_MAX))


def apply_temperature(logits: ArrayLike, t: float) -> NDArray[np.float64]:
    """Calibrated probabilities ``sigmoid(logits / t)``, any shape, as float64.

    The sigmoid is scipy's ``expit``, which neither overflows nor loses the tails, so a logit
    of ±1000 gives exactly 1 or 0 and ±inf is allowed.

    Raises:
        UsageError: ``t`` is not a finite positive number, or a logit is NaN.
    """
    temperature = float(t)
    if not (math.isfinite(temperature) and temperature > 0.0):
        raise UsageError(f"temperature must be finite and positive, got {t!r}")
    try:
        z = np.asarray(logits, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise UsageError("logits must be numeric") from exc
    if np.isnan(z).any():
        raise UsageError("logits must not be NaN")
    out: NDArray[np.float64] = expit(z / temperature)
    return out
