"""Temperature scaling of a multi-class softmax (Guo et al., ICML 2017), for per-voxel labels.

One scalar ``T > 0`` divides every logit before the softmax: ``p = softmax(z / T)``. The
argmax, and so the predicted labels, are unchanged; only the confidence moves. Fitted on
validation voxels by minimising the negative log-likelihood over ``log T`` (bounded
Brent, ``T`` within the binary fit's bounds).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from medsight.calibration.temperature import T_MAX, T_MIN
from medsight.errors import UsageError

__all__ = ["apply_softmax_temperature", "fit_softmax_temperature"]


def _nll(log_t: float, logits: NDArray[np.float64], y: NDArray[np.int64]) -> float:
    scaled = log_softmax(logits / math.exp(log_t), axis=1)
    return float(-np.mean(scaled[np.arange(len(y)), y]))


def fit_softmax_temperature(logits: ArrayLike, y: ArrayLike) -> float:
    """The ``T`` minimising the NLL of ``softmax(logits / T)`` against ``y``.

    Args:
        logits: ``(n, k)`` finite logits.
        y: ``(n,)`` labels in ``0..k-1``, at least two of them present.

    Raises:
        UsageError: invalid or mismatched inputs, or a single label present.
    """
    z = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(y)
    if z.ndim != 2 or labels.shape != (len(z),) or len(z) == 0:
        raise UsageError(f"expected logits (n, k) and labels (n,), got {z.shape} and {labels.shape}")
    if not np.isfinite(z).all():
        raise UsageError("logits must be finite")
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() >= z.shape[1]:
        raise UsageError(f"labels must lie in 0..{z.shape[1] - 1}")
    if len(np.unique(labels)) < 2:
        raise UsageError("a temperature needs at least two labels present")
    result = minimize_scalar(
        _nll, bounds=(math.log(T_MIN), math.log(T_MAX)), args=(z, labels), method="bounded", options={"xatol": 1e-6}
    )
    return float(min(max(math.exp(float(result.x)), T_MIN), T_MAX))


def apply_softmax_temperature(logits: ArrayLike, t: float, axis: int = 1) -> NDArray[np.float32]:
    """``softmax(logits / t)`` along ``axis``, float32.

    Raises:
        UsageError: ``t`` is not finite and positive.
    """
    if not (math.isfinite(t) and t > 0.0):
        raise UsageError(f"temperature must be finite and positive, got {t!r}")
    return np.asarray(softmax(np.asarray(logits, dtype=np.float32) / np.float32(t), axis=axis), dtype=np.float32)
