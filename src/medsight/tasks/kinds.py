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

from enum import StrEnum

__all__ = ["ImageKind"]


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
