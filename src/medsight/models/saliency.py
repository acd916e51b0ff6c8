"""How a classifier's heatmaps are made: a bundle's ``saliency`` setting (torch-free).

Two methods, chosen per model by what its saliency audit shows
(``medsight audit saliency``, docs/models.md):

- ``gradcam`` (the default, and what an empty setting means): Grad-CAM on the last
  residual stage, one forward pass. Its map has the stage's resolution (7 x 7 cells at
  224 px, 3 x 3 at 96 px).
- ``occlusion`` (Zeiler and Fergus, ECCV 2014): the input is scored again with each
  ``patch`` x ``patch`` square, every ``stride`` pixels, filled with the image's mean;
  a pixel's value is the mean drop of the logit over the squares that cover it,
  rectified. It measures what the model does without those pixels, so it follows the
  model's evidence where Grad-CAM's stage activations do not (the 96 px TB ensemble:
  Grad-CAM failed the audit, occlusion passed it), at the price of one batched pass
  over ``positions ** 2`` copies of the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["GRADCAM", "METHODS", "OCCLUSION", "SaliencySpec"]

GRADCAM = "gradcam"
OCCLUSION = "occlusion"
METHODS = (GRADCAM, OCCLUSION)


@dataclass(frozen=True)
class SaliencySpec:
    """A bundle's saliency method and its parameters.

    Attributes:
        method: ``gradcam`` or ``occlusion``.
        patch: occlusion only: side of the filled square, px at the model's input.
        stride: occlusion only: step between squares, px (at most ``patch``, so that
            every pixel is covered).

    Raises:
        ValueError: an unknown method, or parameters that do not fit it.
    """

    method: str = GRADCAM
    patch: int = 0
    stride: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"saliency method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.method == GRADCAM and (self.patch or self.stride):
            raise ValueError("Grad-CAM takes no patch or stride")
        if self.method == OCCLUSION and not (self.patch >= 2 and 1 <= self.stride <= self.patch):
            raise ValueError(f"occlusion needs patch >= 2 and 1 <= stride <= patch, got {self.patch} and {self.stride}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SaliencySpec:
        """The setting as a bundle stores it; empty is Grad-CAM."""
        if not data:
            return cls()
        unknown = set(data) - {"method", "patch", "stride"}
        if unknown:
            raise ValueError(f"unknown saliency setting(s): {', '.join(sorted(unknown))}")
        return cls(str(data.get("method", GRADCAM)), int(data.get("patch", 0)), int(data.get("stride", 0)))

    def to_dict(self) -> dict[str, Any]:
        """Inverse of :meth:`from_dict`: empty for Grad-CAM, so that such bundles keep their settings digest."""
        if self.method == GRADCAM:
            return {}
        return {"method": self.method, "patch": self.patch, "stride": self.stride}

    def positions(self, size: int) -> int:
        """Occlusion squares along one axis of a ``size`` px input (the last one flush with the edge)."""
        if size <= self.patch:
            return 1
        return -(-(size - self.patch) // self.stride) + 1

    def describe(self) -> str:
        """One line for model cards and audit reports."""
        if self.method == GRADCAM:
            return "Grad-CAM on the last residual stage"
        return (
            f"occlusion: {self.patch} x {self.patch} px squares every {self.stride} px of the model input, "
            "each filled with the image's mean; the drop of the logit, averaged over the squares covering a pixel"
        )
