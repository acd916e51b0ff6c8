"""Is this input what a task's model was made for? Checks that run before any scoring.

A model scores whatever it is given; a radiologist would not read a knee film for
pneumonia. Each task therefore refuses inputs outside its remit, with a reason, instead
of returning a number. Four kinds of check, cheapest first:

1. **metadata** (:class:`AcceptanceRule`): DICOM modality, Body Part Examined and View
   Position, when the input records them;
2. **pixel gates** (:func:`pixel_refusal`): one plane only, greyscale only, not blank,
   not noise;
3. **image kind** (``medsight.inference.kind_gate``, for bundles that record an input
   gate): a small classifier of the kinds medsight reads (:class:`ImageKind`) must not
   take the input for another kind;
4. **distribution** (``medsight.inference.ood``): the input's pixel statistics and the
   model's own features, against what it saw in training.

A refusal is a result (:class:`Refusal`), not an exception: analysing a folder refuses
some inputs and scores the rest. Every refusal carries the code
``input.out_of_distribution`` and names the ``check`` that failed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from medsight.imaging import Image
from medsight.parallel import as_rows, map_row_bands
from medsight.types import Modality

__all__ = ["REFUSAL_CODE", "AcceptanceRule", "Refusal", "pixel_refusal"]

#: The code of every refusal (the ``check`` says which test failed).
REFUSAL_CODE = "input.out_of_distribution"

# A greyscale radiograph stored as RGB has equal channels up to compression noise; a
# photograph differs by tens of levels. Mean absolute channel difference, 0..255 scale.
_COLOUR_LIMIT = 6.0
# Standard deviation of the unit-scaled plane below which there is nothing to read.
_BLANK_LIMIT = 0.02
# Pixels the blank test's standard deviation is taken on, at most (a regular grid of them).
_SPREAD_SAMPLE = 1 << 18
# Correlation of horizontally neighbouring pixels below which an image is noise. Every
# radiograph is smooth at its own resolution: the lowest value among the PneumoniaMNIST
# (28 px) training and validation images is 0.69, among the 224 px Kermany images 0.97;
# white or Gaussian noise gives 0.00. Needed because averaging noise down to 28 px leaves
# a washed-out grey that a 28 px model cannot tell from a faint film.
_NOISE_LIMIT = 0.3
_NOISE_WINDOW = 256


@dataclass(frozen=True)
class Refusal:
    """Why an input was not scored.

    Attributes:
        check: which test failed (``modality``, ``body_part``, ``view``, ``frames``,
            ``plane``, ``colour``, ``blank``, ``noise``, ``image_kind``, ``pixel_statistics``,
            ``features``).
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
        views: View Position values accepted when the attribute is present; empty
            accepts any (ultrasound records no View Position that a task could check).
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
        if meta.view and self.views and meta.view.upper() not in self.views:
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
    low, high = _value_range(pixels)
    finite = pixels
    if not (math.isfinite(low) and math.isfinite(high)):  # decoded pixels are finite; floats may not be
        finite = pixels[np.isfinite(pixels)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if high <= low or float(_thinned(finite).std()) / (high - low) < _BLANK_LIMIT:
        return Refusal("blank", "the image is blank or nearly uniform")
    if _neighbour_correlation(pixels) < _NOISE_LIMIT:
        return Refusal("noise", "the image is noise: neighbouring pixels are unrelated")
    return None


def _value_range(pixels: np.ndarray) -> tuple[float, float]:
    """``(min, max)`` of ``pixels``, NaN if any is; on a band of rows per core (two full passes)."""
    if pixels.size == 0:
        return (math.nan, math.nan)
    rows = as_rows(pixels)
    ranges = map_row_bands(lambda band: (rows[band].min(), rows[band].max()), rows.shape[0], rows.shape[1])
    lows, highs = zip(*ranges, strict=True)
    return float(np.min(lows)), float(np.max(highs))


def _thinned(values: np.ndarray) -> np.ndarray:
    """A strided view of about :data:`_SPREAD_SAMPLE` of ``values`` (all of them when fewer).

    The spread of a 2048 px radiograph is the same, to the blank test's precision, on every
    fourth pixel of every fourth row, and a full pass over it costs several milliseconds.
    """
    step = math.isqrt(values.size // _SPREAD_SAMPLE) if values.size > _SPREAD_SAMPLE else 1
    if step <= 1:
        return values
    return values[::step, ::step] if values.ndim == 2 else values.reshape(-1)[:: step * step]


def _neighbour_correlation(plane: np.ndarray) -> float:
    """Pearson correlation of each pixel with its right neighbour, on the central window."""
    rows, cols = plane.shape[:2]
    r0, c0 = max(0, rows // 2 - _NOISE_WINDOW // 2), max(0, cols // 2 - _NOISE_WINDOW // 2)
    window = np.nan_to_num(plane[r0 : r0 + _NOISE_WINDOW, c0 : c0 + _NOISE_WINDOW].astype(np.float64))
    left, right = window[:, :-1].ravel(), window[:, 1:].ravel()
    left, right = left - left.mean(), right - right.mean()
    # einsum, not `@`: a BLAS dot wakes OpenBLAS's threads, which then spin on the cores
    # the next torch call needs (measured: Grad-CAM 5 ms -> 15-90 ms right after).
    scale = float(np.sqrt(np.einsum("i,i->", left, left) * np.einsum("i,i->", right, right)))
    return float(np.einsum("i,i->", left, right)) / scale if scale > 0 else 1.0
