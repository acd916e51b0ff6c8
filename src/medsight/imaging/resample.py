"""Change an image's sample spacing, or the order and sense of its axes.

:func:`resample` interpolates (scipy.ndimage) onto a new grid whose voxel 0 has the same
centre as before; :func:`reorient` only permutes and flips axes, so pixel values are
untouched. Both keep :class:`~medsight.imaging.geometry.Geometry` true: a voxel's
``index_to_patient`` position is where it lies in the patient, before and after.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from medsight.errors import ResourceLimitError, UsageError
from medsight.imaging.geometry import Geometry, Vec3
from medsight.imaging.image import Image, Layout
from medsight.settings import ReadLimits

__all__ = ["reorient", "resample"]

# Axis code letter -> (LPS component, sign): L = +x, P = +y, S = +z.
_LETTERS: dict[str, tuple[int, float]] = {
    "L": (0, 1.0),
    "R": (0, -1.0),
    "P": (1, 1.0),
    "A": (1, -1.0),
    "S": (2, 1.0),
    "I": (2, -1.0),
}


def resample(
    image: Image,
    spacing: Sequence[float],
    order: int = 1,
    *,
    max_bytes: int | None = None,
) -> Image:
    """Interpolate ``image`` onto a grid with another spacing.

    The centre of voxel 0 stays where it was (the origin is unchanged) and each axis of
    ``n`` samples at spacing ``s`` gets ``round(n * s / s_new)`` samples (at least 1), so
    the physical extent ``n * s`` is kept to within one new sample. Samples past the last
    input centre take the nearest input value. RGB images are resampled channel by
    channel.

    Args:
        image: a 2D image or a volume; cines are refused (their first axis is time).
        spacing: new spacing in mm, ``(dz, dy, dx)`` in array-axis order. For a 2D image
            ``(dy, dx)``, or a 3-tuple whose ``dz`` is ignored.
        order: spline order for :func:`scipy.ndimage.affine_transform`, 0 (nearest)
            to 5; 1 is linear.
        max_bytes: most bytes the float32 output may take; defaults to
            ``ReadLimits().max_pixel_bytes``.

    Returns:
        A new image with the same metadata and the new spacing.

    Raises:
        UsageError: a cine, a bad order, or a spacing of the wrong length or not
            positive.
        ResourceLimitError: the output would exceed ``max_bytes``; checked before any
            allocation.
    """
    if image.layout is Layout.CINE:
        raise UsageError("a cine cannot be resampled: its first axis is time, not space")
    if not 0 <= order <= 5:
        raise UsageError(f"interpolation order must be 0..5, got {order}")
    target = _target_spacing(image, spacing)
    axes = _spatial_axes(image)
    old = image.geometry.spacing
    shape_in = image.pixels.shape[: len(axes)]
    shape_out = tuple(max(1, math.floor(n * old[g] / target[g] + 0.5)) for n, g in zip(shape_in, axes, strict=True))
    limit = ReadLimits().max_pixel_bytes if max_bytes is None else max_bytes
    needed = math.prod(shape_out) * image.channels * 4
    if needed > limit:
        raise ResourceLimitError(f"resampling to {shape_out} needs {needed} bytes, more than the limit of {limit}")
    zoom = np.asarray([target[g] / old[g] for g in axes], dtype=np.float64)
    out = _interpolate(image.pixels, zoom, shape_out, order, image.channels)
    geometry = replace(image.geometry, spacing=target)
    return image.with_pixels(out, geometry=geometry)


def reorient(image: Image, target: str = "LPS") -> Image:
    """Permute and flip array axes so that they run as close as possible to ``target``.

    ``target`` is a three-letter code of L/R, A/P and S/I, one of each pair: array axis 2
    (columns) advances toward the first letter, axis 1 (rows) toward the second and
    axis 0 (slices) toward the third. Each array axis is matched to the patient axis its
    direction cosine is largest along, largest first (as nibabel's ``io_orientation``
    and SimpleITK's ``DICOMOrient`` do). No value is interpolated.

    A 2D image or a cine has only its two in-plane axes rearranged: the one whose patient
    axis comes earlier in ``target`` becomes the columns. A cine's frames stay in time
    order.

    ``source.sop_instance_uids``, when it holds one UID per slice, is reversed with a
    flipped slice axis; when slices are permuted with in-plane axes it is kept as is.

    Raises:
        UsageError: ``target`` is not a valid orientation code.
    """
    code = _parse_code(target)
    movable = (0, 1, 2) if image.layout is Layout.VOLUME else (1, 2)
    offset = 1 if image.layout is Layout.IMAGE else 0
    direction = np.asarray(image.geometry.direction, dtype=np.float64)
    world = _match_axes(direction, movable)
    rank = {w: k for k, (w, _) in enumerate(code)}
    ordered = sorted(movable, key=lambda g: rank[world[g]])
    source_of = {2 - k: g for k, g in enumerate(ordered)}  # output axis -> input axis
    flipped = {g for g in movable if np.sign(direction[g, world[g]]) != code[rank[world[g]]][1]}

    pixels = image.pixels
    if flipped:
        pixels = np.flip(pixels, axis=tuple(g - offset for g in sorted(flipped)))
    perm = list(range(pixels.ndim))
    for out_axis, in_axis in source_of.items():
        perm[out_axis - offset] = in_axis - offset
    pixels = np.ascontiguousarray(np.transpose(pixels, perm))

    geometry = _reoriented_geometry(image, source_of, flipped, offset)
    source = image.source
    uids = source.sop_instance_uids
    if source_of.get(0, 0) == 0 and 0 in flipped and len(uids) == image.frames:
        source = replace(source, sop_instance_uids=tuple(reversed(uids)))
    return image.with_pixels(pixels, geometry=geometry, source=source)


def _target_spacing(image: Image, spacing: Sequence[float]) -> Vec3:
    values = tuple(float(s) for s in spacing)
    if any(not math.isfinite(s) or s <= 0 for s in values):
        raise UsageError(f"spacing must be positive and finite, got {values}")
    if image.layout is Layout.IMAGE and len(values) in (2, 3):
        return (image.geometry.spacing[0], values[-2], values[-1])
    if len(values) == 3:
        return (values[0], values[1], values[2])
    wanted = "2 or 3 values (dy, dx)" if image.layout is Layout.IMAGE else "3 values (dz, dy, dx)"
    raise UsageError(f"spacing needs {wanted}, got {len(values)}")


def _spatial_axes(image: Image) -> tuple[int, ...]:
    """Geometry axes held by the array's leading axes, in order."""
    return (1, 2) if image.layout is Layout.IMAGE else (0, 1, 2)


def _interpolate(
    pixels: NDArray[np.float32],
    zoom: NDArray[np.float64],
    shape: tuple[int, ...],
    order: int,
    channels: int,
) -> NDArray[np.float32]:
    from scipy import ndimage  # deferred: scipy is slow to import and few commands need it

    out = np.empty((*shape, 3) if channels == 3 else shape, dtype=np.float32)
    planes = [(pixels[..., c], out[..., c]) for c in range(3)] if channels == 3 else [(pixels, out)]
    for plane_in, plane_out in planes:
        # A 1-D matrix is a diagonal: output index j samples input index j * zoom.
        ndimage.affine_transform(plane_in, zoom, output_shape=shape, output=plane_out, order=order, mode="nearest")
    return out


def _parse_code(target: str) -> tuple[tuple[int, float], ...]:
    code = target.strip().upper()
    if len(code) != 3 or any(c not in _LETTERS for c in code):
        raise UsageError(f"orientation code must be three of L/R, A/P, S/I, got {target!r}")
    parsed = tuple(_LETTERS[c] for c in code)
    if len({w for w, _ in parsed}) != 3:
        raise UsageError(f"orientation code must name each of L/R, A/P, S/I once, got {target!r}")
    return parsed


def _match_axes(direction: NDArray[np.float64], movable: tuple[int, ...]) -> dict[int, int]:
    """Greedily pair each movable array axis with the patient axis it runs most along."""
    weights = np.abs(direction).copy()
    fixed = [g for g in range(3) if g not in movable]
    weights[fixed, :] = -1.0
    world: dict[int, int] = {}
    for _ in movable:
        g, w = np.unravel_index(int(np.argmax(weights)), weights.shape)
        world[int(g)] = int(w)
        weights[g, :] = -1.0
        weights[:, w] = -1.0
    return world


def _reoriented_geometry(image: Image, source_of: dict[int, int], flipped: set[int], offset: int) -> Geometry:
    geometry = image.geometry
    corner = [0.0, 0.0, 0.0]
    for g in flipped:
        corner[g] = float(image.pixels.shape[g - offset] - 1)
    origin = geometry.index_to_patient(corner)
    spacing = list(geometry.spacing)
    direction = [geometry.direction[g] for g in range(3)]
    for out_axis, in_axis in source_of.items():
        sign = -1.0 if in_axis in flipped else 1.0
        spacing[out_axis] = geometry.spacing[in_axis]
        d = geometry.direction[in_axis]
        direction[out_axis] = (sign * d[0] + 0.0, sign * d[1] + 0.0, sign * d[2] + 0.0)  # no -0.0
    return replace(
        geometry,
        spacing=(spacing[0], spacing[1], spacing[2]),
        origin=(float(origin[0]), float(origin[1]), float(origin[2])),
        direction=(direction[0], direction[1], direction[2]),
    )
