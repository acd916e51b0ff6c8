"""The VOI LUT of a DICOM image as plain data (PS3.3 C.11.2), kept for display."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["VoiLut"]


@dataclass(frozen=True, eq=False)
class VoiLut:
    """A lookup table from modality values to display values.

    Attributes:
        first_mapped: the input value mapped to ``table[0]`` (LUT Descriptor, 2nd value).
        table: output values; inputs below ``first_mapped`` take ``table[0]``, above the
            end take ``table[-1]``.
        bits: bits per output entry (LUT Descriptor, 3rd value), for the display range.
        explanation: LUT Explanation, if any (for instance "SOFT TISSUE").
    """

    first_mapped: int
    table: NDArray[np.float32] = field(repr=False)
    bits: int
    explanation: str = ""

    def __post_init__(self) -> None:
        if self.table.ndim != 1 or self.table.size == 0:
            raise ValueError("a VOI LUT needs a non-empty one-dimensional table")
        if not 1 <= self.bits <= 16:
            raise ValueError(f"VOI LUT bits must be 1..16, got {self.bits}")
