"""A label volume: a segmentation's voxel labels on the grid of the image they were drawn on.

The one result type that the MRI segmentation tasks produce and that the writers (NIfTI,
DICOM SEG, the SR's volumes, the viewer's overlay) consume. Pure numpy, so that ``io``
can write it without knowing which model made it.

- ``labels``: ``(slice, row, column)`` uint8, 0 = background, ``k`` = ``names[k - 1]``;
  always on the source image's own grid (same shape and :class:`Geometry`), whatever
  resolution the model ran at;
- ``names``: the label names in label order (``("tumour",)``, ``("anterior", "posterior")``);
- ``source``: the image the labels belong to (its geometry places every voxel in the
  patient; its :class:`SourceRef` lets a DICOM SEG reference the source series);
- ``confidence``: per-voxel calibrated probability of the label chosen, or None.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from medsight.imaging.image import Image, Layout

__all__ = ["LabelVolume"]


@dataclass(frozen=True, eq=False)
class LabelVolume:
    """Voxel labels on the grid of :attr:`source` (see the module docstring)."""

    labels: NDArray[np.uint8]
    names: tuple[str, ...]
    source: Image
    confidence: NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        if self.labels.dtype != np.uint8 or self.labels.ndim != 3:
            raise ValueError(f"labels must be a 3-D uint8 array, got {self.labels.dtype} {self.labels.shape}")
        spatial = self.source.shape[:3] if self.source.layout is Layout.VOLUME else (1, *self.source.shape[:2])
        if tuple(self.labels.shape) != tuple(spatial):
            raise ValueError(f"labels {self.labels.shape} are not on the source grid {spatial}")
        if int(self.labels.max(initial=0)) > len(self.names):
            raise ValueError(f"a label above {len(self.names)} has no name")

    @property
    def voxel_ml(self) -> float:
        """Volume of one voxel in mL (mm^3 / 1000)."""
        return float(np.prod(self.source.geometry.spacing)) / 1000.0

    def mask(self, label: int) -> NDArray[np.bool_]:
        """Voxels of label ``label`` (1-based)."""
        return np.asarray(self.labels == label)

    def volumes_ml(self) -> dict[str, float]:
        """Volume of each label in mL, by name (in label order)."""
        counts = np.bincount(self.labels.ravel(), minlength=len(self.names) + 1)
        return {name: float(counts[k + 1]) * self.voxel_ml for k, name in enumerate(self.names)}
