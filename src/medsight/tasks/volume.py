"""How a volume segmentation task turns an image volume into model input, and what it accepts.

The one path shared by training, ``evaluate`` and ``analyze`` for the MRI tasks (as
:func:`medsight.tasks.prepare` is for 2-D images), stored in the bundle as a
:class:`VolumeRecipe`:

1. greyscale: colour is refused (an MR series is greyscale);
2. unit values per volume: the ``low``..``high`` percentiles of all voxels map to
   ``[0, 1]``, clipped. MR intensities have no physical scale (the MSD crops range from
   1e2 to 1.7e6 at their maximum), so only a per-volume rule makes two scanners comparable;
   it ignores the DICOM window on purpose, so that a NIfTI and a DICOM copy of one series
   give the same input;
3. ``dims == 2`` (slice-wise, 2.5D): every slice resized to ``size`` x ``size``, with
   ``context`` neighbours on each side as extra channels (edge slices repeated);
   ``dims == 3``: the volume as it is, windows of ``patch`` voxels (sliding-window
   inference covers inputs of any size).

At inference the recipe may also ask for test-time augmentation (:class:`Tta`): the
volume mirrored left-right (along the array axis nearest the patient's left-right axis,
:func:`mirror_axis`) is segmented too and the two calibrated probability maps averaged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.errors import UsageError
from medsight.imaging import Geometry, Image, Layout
from medsight.tasks.acceptance import Refusal, pixel_refusal
from medsight.tasks.preprocess import resize_area_batch

__all__ = [
    "Tta",
    "VolumeRecipe",
    "keep_largest_region",
    "mirror_axis",
    "parse_tta",
    "slice_stack",
    "unit_volume",
    "volume_refusal",
]

_BLANK_LIMIT = 0.02
# A slice-wise (2.5-D) model learned axial slices: the slices' normal within 45 degrees of
# the patient's head-foot axis (an axial series tilted along the skull base passes).
_AXIAL_COSINE = 0.7071


class Tta(StrEnum):
    """Test-time augmentation at inference.

    Attributes:
        NONE: one pass.
        FLIP: a second pass on the volume mirrored left-right; the two temperature-scaled
            probability maps are averaged before the argmax (twice the network time).
    """

    NONE = "none"
    FLIP = "flip"


@dataclass(frozen=True)
class VolumeRecipe:
    """Parameters of the volume path (module docstring), stored in every MRI bundle.

    Attributes:
        dims: 2 (slice-wise with ``context``) or 3.
        size: in-plane side of the model input for ``dims == 2``, px.
        context: neighbouring slices on each side given as channels (``dims == 2``).
        patch: the 3-D window, voxels ``(slice, row, column)`` (``dims == 3``).
        low: percentile mapped to 0.
        high: percentile mapped to 1.
        min_slices: fewer slices than this is not a volume the task reads.
        keep_largest: keep only the largest 3-D connected region of labelled voxels
            (Buda et al. 2019 post-process the same way: scattered specks on tumour-free
            slices are the usual false positives; one crop holds one hippocampus).
    """

    dims: int
    size: int = 128
    context: int = 1
    patch: tuple[int, int, int] = (48, 64, 48)
    low: float = 0.5
    high: float = 99.5
    min_slices: int = 8
    keep_largest: bool = True
    tta: Tta = Tta.NONE

    def __post_init__(self) -> None:
        if self.dims not in (2, 3):
            raise ValueError(f"dims must be 2 or 3, got {self.dims}")
        if not 0.0 <= self.low < self.high <= 100.0:
            raise ValueError("percentiles must satisfy 0 <= low < high <= 100")

    @property
    def in_channels(self) -> int:
        """Channels of the model input."""
        return 2 * self.context + 1 if self.dims == 2 else 1

    def to_dict(self) -> dict[str, Any]:
        """JSON form for a bundle."""
        data = asdict(self)
        data["patch"] = list(self.patch)
        data["tta"] = self.tta.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VolumeRecipe:
        """Inverse of :meth:`to_dict`."""
        fields = dict(data)
        a, b, c = (int(v) for v in fields.pop("patch", (48, 64, 48)))
        tta = Tta(fields.pop("tta", Tta.NONE.value))
        return cls(patch=(a, b, c), tta=tta, **fields)


def parse_tta(value: str | None) -> Tta | None:
    """``--tta`` as a :class:`Tta`, or None (the model's default) for None.

    Raises:
        UsageError: not a known mode.
    """
    if value is None:
        return None
    try:
        return Tta(value)
    except ValueError:
        raise UsageError(f"--tta must be one of {', '.join(t.value for t in Tta)}, not {value!r}") from None


def mirror_axis(geometry: Geometry) -> int:
    """The array axis that runs nearest the patient's left-right axis (LPS x), for a
    left-right mirror; the column axis where the geometry is the identity (no orientation)."""
    weights = [abs(geometry.direction[a][0]) for a in range(3)]
    return max(range(3), key=lambda a: (weights[a], a))


def unit_volume(pixels: NDArray[np.float32], recipe: VolumeRecipe) -> NDArray[np.float32]:
    """``pixels`` ``(z, y, x)`` mapped to ``[0, 1]`` by the recipe's percentiles (step 2)."""
    finite = np.nan_to_num(pixels.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(v) for v in np.percentile(finite, (recipe.low, recipe.high)))
    if high <= low:
        return np.zeros_like(finite, dtype=np.float32)
    scaled = (finite - np.float32(low)) * np.float32(1.0 / (high - low))
    clipped: NDArray[np.float32] = np.clip(scaled, 0.0, 1.0).astype(np.float32, copy=False)
    return clipped


def slice_stack(unit: NDArray[np.float32], recipe: VolumeRecipe) -> NDArray[np.float32]:
    """``(z, 2 * context + 1, size, size)``: each slice resized, with its neighbours as channels (step 3)."""
    small = resize_area_batch(unit, (recipe.size, recipe.size))
    z = len(small)
    offsets = np.arange(-recipe.context, recipe.context + 1)
    index = np.clip(np.arange(z)[:, None] + offsets[None, :], 0, z - 1)
    return np.ascontiguousarray(small[index])


def keep_largest_region(labels: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``labels`` with every voxel outside the largest 3-D connected labelled region set to 0.

    Connectivity is over all labels together (26-neighbourhood), so a structure made of
    two touching labels (anterior and posterior hippocampus) stays whole.
    """
    from scipy import ndimage

    regions, count = ndimage.label(labels > 0, structure=np.ones((3, 3, 3), dtype=bool))
    if count <= 1:
        return labels
    sizes = np.bincount(regions.ravel())
    sizes[0] = 0
    kept: NDArray[np.uint8] = np.where(regions == int(np.argmax(sizes)), labels, 0).astype(np.uint8)
    return kept


def volume_refusal(image: Image, description: str, recipe: VolumeRecipe) -> Refusal | None:
    """The first shape or pixel gate a volume task's input fails, or None.

    A single 2-D image (a radiograph, an ultrasound frame) is not a volume; a cine is
    not either; a slice-wise recipe (``dims == 2``) reads axial slices only, so sagittal
    and coronal series are refused (``plane``; a volume without orientation counts as
    axial); colour is refused; a blank volume has nothing to segment.
    """
    if image.layout is Layout.IMAGE:
        return Refusal("frames", f"a single 2-D image is not {description}")
    if image.layout is Layout.CINE:
        return Refusal("frames", f"a cine of {image.frames} frames is not {description}")
    if image.frames < recipe.min_slices:
        return Refusal("frames", f"a volume of {image.frames} slices is too thin for {description}")
    if recipe.dims == 2 and abs(float(image.geometry.slice_normal[2])) < _AXIAL_COSINE:
        return Refusal("plane", f"the slices are not axial; {description} is read in axial slices")
    middle = image.with_pixels(image.pixels[image.frames // 2], layout=Layout.IMAGE)
    gate = pixel_refusal(middle, description)
    if gate is not None and gate.check != "blank":
        return gate
    pixels = image.pixels if image.channels == 1 else image.pixels.mean(axis=-1)
    low, high = float(np.min(pixels)), float(np.max(pixels))
    if not np.isfinite(high - low) or high <= low or float(pixels.std()) / (high - low) < _BLANK_LIMIT:
        return Refusal("blank", "the volume is blank or nearly uniform")
    return None
