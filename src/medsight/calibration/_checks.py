"""Input checks of the calibration fitters; they raise UsageError with the failing rule named.

Kept apart from ``medsight.metrics``'s checks on purpose: calibration imports nothing from
medsight but ``errors``, so the two packages can be used and tested independently.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medsight.errors import UsageError

__all__ = ["check_labels", "check_scores"]


def check_labels(y: ArrayLike, *, both_classes: bool = True) -> NDArray[np.bool_]:
    """1-D labels in {0, 1} as bool; with ``both_classes``, each class at least once."""
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.size == 0:
        raise UsageError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    if not (labels.dtype == np.bool_ or np.issubdtype(labels.dtype, np.number)):
        raise UsageError(f"labels must be bool or numeric, got dtype {labels.dtype}")
    if not np.all((labels == 0) | (labels == 1)):
        raise UsageError("labels must be 0 or 1")
    out = labels.astype(bool)
    if both_classes and (out.all() or not out.any()):
        raise UsageError("calibration needs both classes: the labels hold only one")
    return out


def check_scores(values: ArrayLike, n: int | None, *, what: str, unit_interval: bool) -> NDArray[np.float64]:
    """1-D finite scores as float64, of length ``n`` when given, in [0, 1] when asked.

    Args:
        values: the scores (logits or probabilities).
        n: the required length (that of the labels), or None for any.
        what: their name in messages (``"logits"``, ``"probabilities"``).
        unit_interval: require every value in [0, 1].
    """
    scores = np.asarray(values)
    if scores.ndim != 1 or scores.size == 0:
        raise UsageError(f"{what} must be a non-empty 1-D array, got shape {scores.shape}")
    if not (np.issubdtype(scores.dtype, np.integer) or np.issubdtype(scores.dtype, np.floating)):
        raise UsageError(f"{what} must be numeric, got dtype {scores.dtype}")
    if n is not None and scores.size != n:
        raise UsageError(f"{what} and labels differ in length: {scores.size} and {n}")
    out = scores.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise UsageError(f"{what} must be finite (found NaN or infinity)")
    if unit_interval and (out.min() < 0.0 or out.max() > 1.0):
        raise UsageError(f"{what} must lie in [0, 1], found {out.min():g}..{out.max():g}")
    return out
