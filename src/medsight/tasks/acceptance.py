"""Is this input what a task's model was made for? Checks that run before any scoring.

A model scores whatever it is given; a radiologist would not read a knee film for
pneumonia. Each task therefore refuses inputs outside its remit, with a reason, instead
of returning a number. Three kinds of check, cheapest first:

1. **metadata** (:class:`AcceptanceRule`): DICOM modality, Body Part Examined and View
   Position, when the input records them;
2. **pixel gates** (:func:`pixel_refusal`): one plane only, greyscale only, not blank;
3. **distribution** (``medsight.inference.ood``): the input's pixel statistics and the
   model's own features, against what it saw in training.

A refusal is a result (:class:`Refusal`), not an exception: analysing a folder refuses
some inputs and scores the rest. Every refusal carries the code
``input.out_of_distribution`` and names the ``check`` that failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medsight.imaging import Image
from medsight.types import Modality

__all__ = ["REFUSAL_CODE", "AcceptanceRule", "Refusal", "pixel_refusal"]

#: The code of every refusal (the ``check`` says which test failed).
REFUSAL_CODE = "input.out_of_distribution"

# A greyscale radiograph stored as RGB has equal channels up to compression noise; a
# photograph differs by tens of levels. Mean absolute channel difference, 0..255 scale.
_COLOUR_LIMIT = 6.0
# Standard deviation of the unit-scaled plane below which there is nothing to read.
_BLANK_LIMIT = 0.02


@dataclass(frozen=True)
class Refusal:
    """Why an input was not scored.

    Attributes:
        check: which test failed (``modality``, ``body_part``, ``view``, ``frames``,
            ``colour``, ``blank``, ``pixel_statistics``, ``features``).
        reason: one sentence for a person; never patient data.
        code: always :data:`REFUSAL_CODE`.
    """

    check: str
    reason: str
    code: str = REFUSAL_CODE

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``analyze --json`` and the service."""
        return {"code": self.code, "check": self.check, "reason": self.reason}


@dataclass(frozen=True)
class AcceptanceRule:
    """The metadata a task accepts. Absent metadata (PNG, JPEG) passes to the pixel checks.

    Attributes:
        description: what the task is for, as a refusal states it ("a frontal chest X-ray").
        modalities: DICOM modalities accepted; OT (unknown) always passes to the pixel checks.
        body_parts: Body Part Examined values accepted when the attribute is present.
        views: View Position values accepted when the attribute is present.
    """

    description: str
    modalities: frozenset[Modality]
    body_parts: frozenset[str]
    views: frozenset[str]

    def refusal(self, image: Image) -> Refusal | None:
        """The first metadata check ``image`` fails, or None."""
        meta = image.meta
        if meta.modality is not Modality.OT and meta.modality not in self.modalities:
            return Refusal("modality", f"modality {meta.modality.value} is not {self.description}")
        if meta.body_part and meta.body_part.upper() not in self.body_parts:
            return Refusal("body_part", f"body part {meta.body_part.upper()} is not {self.description}")
        if meta.view and meta.view.upper() not in self.views:
            return Refusal("view", f"view position {meta.view.upper()} is not {self.description}")
        return None


def pixel_refusal(image: Image, description: str) -> Refusal | None:
    """The first pixel gate ``image`` fails (several frames, colour, blank), or None."""
    if image.frames > 1:
        kind = image.layout.value
        return Refusal("frames", f"a {kind} of {image.frames} frames is not {description}")
    if image.channels == 3:
        rgb = image.pixels
        spread = float(np.abs(rgb[..., 0] - rgb[..., 1]).mean() + np.abs(rgb[..., 1] - rgb[..., 2]).mean()) / 2
        if spread > _COLOUR_LIMIT:
            return Refusal("colour", f"a colour image is not {description}")
    pixels = image.pixels if image.channels == 1 else image.pixels.mean(axis=-1)
    finite = pixels[np.isfinite(pixels)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if high <= low or float(finite.std()) / (high - low) < _BLANK_LIMIT:
        return Refusal("blank", "the image is blank or nearly uniform")
    return None
