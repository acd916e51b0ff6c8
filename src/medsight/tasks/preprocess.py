"""From any 2D image to a model's input: the one path shared by training and inference.

A model trained on one kind of pixels and served another kind fails silently, so every
caller (the trainer, ``evaluate``, ``analyze``, the service) goes through :func:`prepare`
with the :class:`Preprocessing` stored in the model's bundle. The steps:

1. one plane: the middle slice or frame of a stack (the acceptance check refuses stacks
   for projection-radiograph tasks before they get here);
2. greyscale: RGB is averaged (the acceptance check refuses real colour);
3. unit values in ``[0, 1]``: an 8/16-bit raster (PNG, JPEG, TIFF, an npz array) is divided
   by its full scale, as the training images were stored, and so is an 8-bit DICOM image
   without a window (its values are display values); any other DICOM image goes through
   its own VOI LUT or window, else the 1st..99th percentile window (``unit_array``), which
   also makes 8- and 16-bit, MONOCHROME1 and MONOCHROME2 sources look alike;
4. optional center crop to a square (MedMNIST's own recipe), then an anti-aliased
   resize to ``size`` x ``size``: integer block means, then bilinear to the exact size.

The model normalises its input itself (its first layer), so ``[0, 1]`` is the contract.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.imaging import Image
from medsight.imaging.overlay import resize_bilinear
from medsight.imaging.window import select_plane, unit_array
from medsight.parallel import map_row_bands

__all__ = ["Crop", "Prepared", "Preprocessing", "prepare", "resize_area", "unit_values"]

# Widest column block :func:`resize_area` sums by strided adds (see _sum_column_blocks).
_STRIDED_SUM_MAX = 7


class Crop(StrEnum):
    """How a non-square image becomes square before resizing."""

    NONE = "none"  # stretch to the square, as the 224 px Kermany copy was made
    CENTER_SQUARE = "center_square"  # keep the central square of the short side (MedMNIST)


@dataclass(frozen=True)
class Preprocessing:
    """Parameters of :func:`prepare`, stored in every model bundle.

    Attributes:
        size: side of the square model input, px.
        crop: how a non-square image is made square.
    """

    size: int
    crop: Crop = Crop.NONE

    def __post_init__(self) -> None:
        if not 8 <= self.size <= 1024:
            raise ValueError(f"size must be 8..1024 px, got {self.size}")

    def with_size(self, size: int) -> Preprocessing:
        """The same recipe at another size."""
        return replace(self, size=size)

    def to_dict(self) -> dict[str, Any]:
        """JSON form for a bundle's metadata."""
        return {"size": self.size, "crop": self.crop.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        """Inverse of :meth:`to_dict`."""
        return cls(size=int(data["size"]), crop=Crop(data.get("crop", Crop.NONE.value)))


@dataclass(frozen=True)
class Prepared:
    """A model input and what is needed to draw a result back on the original image.

    Attributes:
        input: float32 ``(1, size, size)`` in ``[0, 1]``.
        unit: float32 ``(rows, columns)`` of the whole original plane in ``[0, 1]``, for overlays.
        box: ``(row0, col0, row1, col1)`` of the region of ``unit`` the input shows.
    """

    input: NDArray[np.float32]
    unit: NDArray[np.float32]
    box: tuple[int, int, int, int]

    @property
    def display(self) -> NDArray[np.uint8]:
        """The whole original plane as 8-bit display values (computed on demand: it is big)."""
        display: NDArray[np.uint8] = np.rint(self.unit * np.float32(255.0)).astype(np.uint8)
        return display


def prepare(image: Image, preprocessing: Preprocessing) -> Prepared:
    """Turn ``image`` into the model input described by ``preprocessing``."""
    unit = unit_values(image)
    box = _crop_box(unit.shape, preprocessing.crop)
    r0, c0, r1, c1 = box
    small = resize_area(unit[r0:r1, c0:c1], (preprocessing.size, preprocessing.size))
    return Prepared(input=small[np.newaxis], unit=unit, box=box)


def unit_values(image: Image) -> NDArray[np.float32]:
    """One greyscale plane of ``image`` in ``[0, 1]`` (steps 1-3 of the module docstring)."""
    plane = select_plane(image)
    if plane.channels == 3:
        grey = plane.pixels.mean(axis=-1, dtype=np.float32)
        plane = plane.with_pixels(grey, meta=replace(plane.meta, photometric="MONOCHROME2"))
    if _is_raster(plane):
        full_scale = float(2 ** (plane.meta.bits_stored or 8) - 1)
        unit: NDArray[np.float32] = np.clip(plane.pixels / np.float32(full_scale), 0.0, 1.0)
        return unit.astype(np.float32, copy=False)
    return unit_array(plane)


def resize_area(plane: NDArray[np.float32], shape: tuple[int, int]) -> NDArray[np.float32]:
    """Resize a 2D array with area averaging (no aliasing), exact output ``shape``.

    Downsampling by block means first keeps a 2048 px radiograph to a few milliseconds
    and averages every source pixel; the bilinear step then only bridges a factor < 2.
    """
    resized: NDArray[np.float32] = resize_area_batch(plane[np.newaxis], shape)[0]
    return resized


def resize_area_batch(planes: NDArray[np.float32], shape: tuple[int, int]) -> NDArray[np.float32]:
    """:func:`resize_area` of each plane of ``(n, rows, columns)``, in one pass."""
    n, rows, cols = planes.shape
    fr, fc = max(1, rows // shape[0]), max(1, cols // shape[1])
    if fr > 1 or fc > 1:
        r, c = rows // fr, cols // fc
        means = np.empty((n, r, c), dtype=np.float32)

        def block_means(band: slice) -> None:
            # Rows first (adds whole contiguous rows), then columns: four times faster than
            # one mean over both block axes of a 2048 px radiograph. Only rows are trimmed
            # before the first sum: a plane cut on both axes is no longer contiguous, and
            # reshaping it would copy all of it.
            block_rows = planes[:, band.start * fr : band.stop * fr]
            summed = block_rows.reshape(n, band.stop - band.start, fr, cols).sum(axis=2, dtype=np.float32)
            blocks = _sum_column_blocks(summed[:, :, : c * fc], fc)
            np.multiply(blocks, np.float32(1.0 / (fr * fc)), out=means[:, band])

        # Output rows in bands, one per core: each band reads its own rows of the plane.
        map_row_bands(block_means, r, n * fr * cols)
        planes = means
    if planes.shape[1:] == shape:
        return np.ascontiguousarray(planes, dtype=np.float32)
    # scipy.ndimage.zoom(order=1, grid_mode=True) gave the same values to 2e-7 (float32
    # rounding) in nine times the time (3.4 against 0.4 ms from 227 to 224 px).
    return resize_bilinear(planes, shape)


def _sum_column_blocks(planes: NDArray[np.float32], fc: int) -> NDArray[np.float32]:
    """Sums of each run of ``fc`` columns of ``(n, rows, columns)`` (a multiple of ``fc`` wide)."""
    n, rows, cols = planes.shape
    if fc > _STRIDED_SUM_MAX:
        summed: NDArray[np.float32] = planes.reshape(n, rows, cols // fc, fc).sum(axis=3)
        return summed
    # Numpy's sum over a short last axis is slow (5 ms for 2048 -> 512 columns, against
    # 1 ms for strided adds); up to 7 terms it adds them in this same order, so the sums,
    # and the models' inputs, stay bit for bit what they were. From 8 on numpy sums
    # pairwise, so the other path keeps its rounding.
    acc = planes[:, :, 0::fc].copy()
    for k in range(1, fc):
        acc += planes[:, :, k::fc]
    return acc


def _is_raster(image: Image) -> bool:
    # Rasters and npz arrays carry no DICOM identity and no window: their stored values
    # already are display values, as in the training data. So are those of any 8-bit DICOM
    # image without a window or VOI LUT: an ultrasound frame or a secondary capture stores
    # what the scanner showed, and an 8-bit radiograph "for presentation" is the film as
    # the modality rendered it. A percentile window would stretch their contrast, unlike
    # the PNG and JPEG images the models learnt from; it is for 12- and 16-bit detector
    # values, which have no display scale of their own.
    if image.meta.window is not None or image.meta.voi_lut is not None:
        return False
    return image.source.sop_class_uid is None or image.meta.bits_stored == 8


def _crop_box(shape: tuple[int, ...], crop: Crop) -> tuple[int, int, int, int]:
    rows, cols = int(shape[0]), int(shape[1])
    if crop is Crop.NONE or rows == cols:
        return (0, 0, rows, cols)
    side = min(rows, cols)
    r0, c0 = (rows - side) // 2, (cols - side) // 2
    return (r0, c0, r0 + side, c0 + side)
