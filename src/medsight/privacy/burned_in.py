"""Burned-in text: which images may carry it, and where to mask it (Clean Pixel Data, PS3.15 E.3.1).

An image is flagged when its header says Burned In Annotation = YES, or when it is an
ultrasound or a secondary capture (screens, scanned documents) and the header says
nothing. Flagged images are exported only cleaned: for ultrasound everything outside the
Sequence of Ultrasound Regions is masked (the scanner writes patient and exam text in the
margins), and in any image the blocks that look like text are masked too.

Text detection (:func:`text_mask`), measured in ``tests/unit/privacy/test_burned_in.py``
(recall of planted text pixels, and the share of a text-free image masked): rendered
text is made of thin strokes with sharp contrast on both sides, light on dark or dark on
light. It errs on the side of masking: colour Doppler and bright specular echoes can lose
blocks, which costs utility, never privacy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["PixelFacts", "burned_in_reason", "clean_mask", "outside_regions", "text_mask"]

_US_CLASSES = ("1.2.840.10008.5.1.4.1.1.6.", "1.2.840.10008.5.1.4.1.1.3.")
_SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"
_BLOCK = 8
_CONTRAST = 0.2
_DENSITY = 0.04


@dataclass(frozen=True, slots=True)
class PixelFacts:
    """What the header says about an image's pixels.

    Attributes:
        modality: Modality (0008,0060).
        sop_class: SOP Class UID.
        burned_in: Burned In Annotation (0028,0301), None when absent.
        regions: Sequence of Ultrasound Regions as (x0, y0, x1, y1), inclusive pixel bounds.
        has_pixels: the object has Pixel Data.
    """

    modality: str
    sop_class: str
    burned_in: str | None
    regions: tuple[tuple[int, int, int, int], ...] = ()
    has_pixels: bool = True


def burned_in_reason(facts: PixelFacts) -> str | None:
    """Why this image may carry burned-in text, or None when nothing suggests it."""
    if not facts.has_pixels:
        return None
    said = (facts.burned_in or "").strip().upper()
    if said == "YES":
        return "Burned In Annotation is YES"
    if said == "NO":
        return None
    if facts.modality.strip().upper() == "US" or facts.sop_class.startswith(_US_CLASSES):
        return "ultrasound without Burned In Annotation"
    if facts.sop_class.startswith(_SC_CLASS):
        return "secondary capture without Burned In Annotation"
    return None


def outside_regions(shape: tuple[int, int], regions: tuple[tuple[int, int, int, int], ...]) -> NDArray[np.bool_]:
    """True where a pixel of a (rows, columns) image lies outside every ultrasound region."""
    mask = np.ones(shape, dtype=bool)
    rows, cols = shape
    for x0, y0, x1, y1 in regions:
        top, bottom = max(0, min(y0, y1)), min(rows, max(y0, y1) + 1)
        left, right = max(0, min(x0, x1)), min(cols, max(x0, x1) + 1)
        mask[top:bottom, left:right] = False
    return mask


def text_mask(image: NDArray[np.generic], white: float | None = None) -> NDArray[np.bool_]:
    """True on the pixels of blocks that look like rendered text.

    A pixel is a stroke when it differs from both of its neighbours two pixels away
    (left and right, or above and below) by more than :data:`_CONTRAST` of the white
    level, in the same direction: thin glyph strokes do, broad anatomy does not. An 8 x 8
    block with at least :data:`_DENSITY` stroke pixels is text-like; text-like blocks are
    grown by one block each way so the edges of glyphs are covered.

    Args:
        image: one frame, (rows, columns) or (rows, columns, channels), any numeric dtype;
            for a cine, pass the frame-wise maximum.
        white: the largest value the image can show (``2**BitsStored - 1``); default
            255 for 8-bit images, else the image's maximum.
    """
    grey = image.astype(np.float32)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    rows, cols = grey.shape
    if white is None:
        white = 255.0 if image.dtype == np.uint8 else float(grey.max())
    if white <= 0 or float(grey.max()) <= float(grey.min()):
        return np.zeros((rows, cols), dtype=bool)
    stroke = _strokes(grey, _CONTRAST * white)
    by, bx = -(-rows // _BLOCK), -(-cols // _BLOCK)
    padded = np.zeros((by * _BLOCK, bx * _BLOCK), dtype=np.float32)
    padded[:rows, :cols] = stroke
    blocks = padded.reshape(by, _BLOCK, bx, _BLOCK).mean(axis=(1, 3)) >= _DENSITY
    grown = blocks.copy()
    grown[1:, :] |= blocks[:-1, :]
    grown[:-1, :] |= blocks[1:, :]
    grown[:, 1:] |= blocks[:, :-1]
    grown[:, :-1] |= blocks[:, 1:]
    full = np.repeat(np.repeat(grown, _BLOCK, axis=0), _BLOCK, axis=1)
    return np.ascontiguousarray(full[:rows, :cols])


def _strokes(grey: NDArray[np.float32], threshold: float) -> NDArray[np.bool_]:
    pad = np.pad(grey, 2, mode="edge")
    left, right = pad[2:-2, :-4], pad[2:-2, 4:]
    up, down = pad[:-4, 2:-2], pad[4:, 2:-2]
    bright = (grey - np.maximum(left, right) > threshold) | (grey - np.maximum(up, down) > threshold)
    dark = (np.minimum(left, right) - grey > threshold) | (np.minimum(up, down) - grey > threshold)
    return bright | dark


def clean_mask(frames: NDArray[np.generic], facts: PixelFacts, white: float | None = None) -> NDArray[np.bool_]:
    """The pixels to mask in every frame: outside the ultrasound regions, and text-like blocks.

    Args:
        frames: (frames, rows, columns[, channels]) as displayed (palette colour expanded).
        facts: the header facts (regions).
        white: the largest displayable value (see :func:`text_mask`).
    """
    summary = frames.max(axis=0)
    mask = text_mask(summary, white)
    if facts.regions:
        mask |= outside_regions(mask.shape, facts.regions)
    return mask
