"""Measurements of a label volume: what a report states about each labelled structure.

Per label, from the voxel labels and the voxel spacing (mm, array-axis order):

- ``present``: any voxel carries the label;
- ``volume_ml``: voxel count times the voxel volume;
- ``largest_diameter_mm``: the longest in-plane distance between two voxel centres of
  the label on any one slice (the axial diameter a radiologist measures; RANO-style
  bidimensional measurement uses it), from the convex hull of each slice's voxels;
- ``slices``: the first and last slice index holding the label, and their count.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["largest_diameter_mm", "measure_labels"]


def measure_labels(
    labels: NDArray[np.uint8], names: tuple[str, ...], spacing: tuple[float, float, float]
) -> dict[str, Any]:
    """The module docstring's measurements, by label name."""
    voxel_ml = float(np.prod(spacing)) / 1000.0
    out: dict[str, Any] = {}
    for k, name in enumerate(names, start=1):
        mask = labels == k
        per_slice = mask.reshape(len(mask), -1).sum(axis=1)
        occupied = np.flatnonzero(per_slice)
        out[name] = {
            "present": bool(occupied.size),
            "volume_ml": round(float(per_slice.sum()) * voxel_ml, 4),
            "largest_diameter_mm": round(largest_diameter_mm(mask, spacing), 2) if occupied.size else None,
            "slices": (
                {"first": int(occupied[0]), "last": int(occupied[-1]), "count": int(occupied.size)}
                if occupied.size
                else None
            ),
        }
    return out


def largest_diameter_mm(mask: NDArray[np.bool_], spacing: tuple[float, float, float]) -> float:
    """Longest in-plane distance (mm) between two voxel centres of ``mask`` on any slice."""
    from scipy.spatial import ConvexHull, QhullError

    best = 0.0
    for plane in mask:
        rows, cols = np.nonzero(plane)
        if rows.size < 2:
            continue
        points = np.stack([rows * spacing[1], cols * spacing[2]], axis=1).astype(np.float64)
        # Collinear voxels have no hull: then every point stays a candidate (there are few).
        with contextlib.suppress(QhullError):
            points = points[ConvexHull(points).vertices]
        if len(points) > 2000:
            points = points[:: len(points) // 2000 + 1]
        gaps = points[:, None, :] - points[None, :, :]
        best = max(best, float(np.sqrt((gaps**2).sum(axis=-1)).max()))
    return best
