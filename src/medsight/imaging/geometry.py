"""Where pixels lie in the patient: spacing, origin and direction in DICOM patient coordinates.

medsight keeps every array in *array-axis order*: ``(slice, row, column)`` for the spatial
axes, the way numpy indexes it. :class:`Geometry` follows the same order, so
``spacing[a]`` and ``direction[a]`` describe array axis ``a``. Coordinates are in the
DICOM patient system, LPS (x to the patient's left, y to posterior, z to head), in mm,
as defined by PS3.3 C.7.6.2.1.1. NIfTI (RAS, ``(x, y, z)`` array order) is converted only
at the I/O boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Geometry", "Vec3"]

Vec3 = tuple[float, float, float]

_IDENTITY: tuple[Vec3, Vec3, Vec3] = ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0))


def _vec3(values: Sequence[float] | NDArray[np.floating[Any]]) -> Vec3:
    x, y, z = (float(v) for v in values)
    return (x, y, z)


@dataclass(frozen=True, slots=True)
class Geometry:
    """Physical placement of an array's three spatial axes.

    Attributes:
        spacing: mm between neighbouring samples along (slice, row, column).
        origin: LPS position in mm of the centre of voxel (0, 0, 0).
        direction: LPS unit vector along each array axis: ``direction[2]`` is the DICOM
            row cosine (Image Orientation (Patient)[0:3]), ``direction[1]`` the column
            cosine ([3:6]), ``direction[0]`` the direction in which slices advance.
        spacing_known: False when no spacing was recorded and 1 mm was assumed.
    """

    spacing: Vec3 = (1.0, 1.0, 1.0)
    origin: Vec3 = (0.0, 0.0, 0.0)
    direction: tuple[Vec3, Vec3, Vec3] = _IDENTITY
    spacing_known: bool = field(default=True)

    def __post_init__(self) -> None:
        if any(not np.isfinite(s) or s <= 0 for s in self.spacing):
            raise ValueError(f"spacing must be positive and finite, got {self.spacing}")
        if any(not np.isfinite(o) for o in self.origin):
            raise ValueError(f"origin must be finite, got {self.origin}")

    @classmethod
    def from_dicom(
        cls,
        pixel_spacing: Sequence[float] | None,
        orientation: Sequence[float] | None,
        position: Sequence[float] | None,
        slice_spacing: float | None = None,
    ) -> Geometry:
        """Build a geometry from the DICOM Image Plane attributes of one slice.

        Args:
            pixel_spacing: Pixel Spacing (row spacing, column spacing) or None.
            orientation: Image Orientation (Patient), six direction cosines, or None.
            position: Image Position (Patient), or None.
            slice_spacing: distance between slices when known (assembled series).
        """
        row_mm, col_mm = (1.0, 1.0) if not pixel_spacing else (float(pixel_spacing[0]), float(pixel_spacing[1]))
        direction = _IDENTITY
        if orientation is not None and len(orientation) == 6:
            row_cos = np.asarray(orientation[:3], dtype=np.float64)
            col_cos = np.asarray(orientation[3:], dtype=np.float64)
            normal = np.cross(row_cos, col_cos)
            if np.linalg.norm(normal) > 1e-6:
                direction = (_vec3(normal / np.linalg.norm(normal)), _vec3(col_cos), _vec3(row_cos))
        origin = _vec3(position) if position is not None and len(position) == 3 else (0.0, 0.0, 0.0)
        return cls(
            spacing=(float(slice_spacing or 1.0), row_mm, col_mm),
            origin=origin,
            direction=direction,
            spacing_known=bool(pixel_spacing),
        )

    @property
    def slice_normal(self) -> NDArray[np.float64]:
        """The unit normal of the image plane (row cosine x column cosine)."""
        return np.cross(np.asarray(self.direction[2]), np.asarray(self.direction[1]))

    def affine(self) -> NDArray[np.float64]:
        """4x4 matrix from array index ``(slice, row, column, 1)`` to LPS mm."""
        matrix = np.eye(4)
        for axis in range(3):
            matrix[:3, axis] = np.asarray(self.direction[axis]) * self.spacing[axis]
        matrix[:3, 3] = self.origin
        return matrix

    def index_to_patient(self, index: Sequence[float]) -> NDArray[np.float64]:
        """LPS position in mm of a (slice, row, column) index, fractional allowed."""
        position: NDArray[np.float64] = self.affine() @ np.append(np.asarray(index, dtype=np.float64), 1.0)
        return position[:3]

    def with_spacing(self, spacing: Vec3) -> Geometry:
        """The same placement with another sample spacing (origin stays at voxel 0)."""
        return Geometry(spacing=_vec3(spacing), origin=self.origin, direction=self.direction)

    @classmethod
    def from_affine(cls, affine: NDArray[np.float64]) -> Geometry:
        """Inverse of :meth:`affine`; spacing is the length of each column."""
        spacing = np.linalg.norm(affine[:3, :3], axis=0)
        safe = np.where(spacing > 0, spacing, 1.0)
        directions = affine[:3, :3] / safe
        return cls(
            spacing=_vec3(safe),
            origin=_vec3(affine[:3, 3]),
            direction=(_vec3(directions[:, 0]), _vec3(directions[:, 1]), _vec3(directions[:, 2])),
        )
