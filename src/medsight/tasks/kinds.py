"""The kinds of image medsight's tasks read, as the input gate tells them apart.

A task made for one kind of image (a chest X-ray) must refuse the others, above all
those that medsight itself handles for other tasks: a fetal head frame sent to the
chest model, a brain MR slice sent to the breast model. The distribution check
(``medsight.inference.ood``) measures how far an input lies from one model's training
data; it leaves some of these through (a 28 px MR slice is as smooth and grey as a
28 px breast ultrasound frame). The input gate (``medsight.inference.kind_gate``) is a
small classifier trained on every kind at once, so it learns what separates them.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from medsight.tasks.preprocess import resize_area_batch

__all__ = ["ImageKind", "gate_planes"]

# Source pixels kept per side of each gate input pixel: a 2048 px radiograph is thinned to
# 128 px (every 16th row and column) before the block means. The gate reads layout, not
# texture, and reading all 16 MB of such a plane again cost 1.5 ms of a 50 ms analysis.
_SAMPLES_PER_PIXEL = 4


class ImageKind(StrEnum):
    """A kind of image the input gate recognises (one per dataset family medsight trains on)."""

    CHEST_XRAY = "chest_xray"
    BREAST_ULTRASOUND = "breast_ultrasound"
    FETAL_ULTRASOUND = "fetal_ultrasound"
    BRAIN_MRI = "brain_mri"

    @property
    def description(self) -> str:
        """The kind as a refusal names it ("a chest X-ray")."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    ImageKind.CHEST_XRAY: "a chest X-ray",
    ImageKind.BREAST_ULTRASOUND: "a breast ultrasound image",
    ImageKind.FETAL_ULTRASOUND: "a fetal head ultrasound image",
    ImageKind.BRAIN_MRI: "a brain MRI slice",
}


def gate_planes(units: Sequence[NDArray[np.float32]], size: int) -> NDArray[np.float32]:
    """The input gate's view of whole unit-scaled planes, ``(n, 1, size, size)``: training
    and every analysis make it here.

    A plane larger than ``4 * size`` px on its short side keeps every k-th row and column
    (down to at least ``4 * size`` px), then all are area-resized to ``size`` x ``size``
    without cropping. Planes of one shape (a folder of 28 px films) are resized in one pass.
    """
    out = np.empty((len(units), 1, size, size), dtype=np.float32)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, unit in enumerate(units):
        by_shape.setdefault(unit.shape, []).append(i)
    for indices in by_shape.values():
        out[indices, 0] = resize_area_batch(np.stack([_thinned(units[i], size) for i in indices]), (size, size))
    return out


def _thinned(unit: NDArray[np.float32], size: int) -> NDArray[np.float32]:
    step = max(1, min(unit.shape) // (size * _SAMPLES_PER_PIXEL))
    return unit[::step, ::step] if step > 1 else unit
