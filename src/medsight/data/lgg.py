"""The LGG layout (Buda et al., Kaggle ``kaggle_3m``): brain MRI slices as TIFFs, one patient a volume.

::

    <root>/index.csv   patient_folder, image, mask, slice, has_tumour, tumour_pixels
    <root>/<patient>/<patient>_<slice>.tif        256 x 256 RGB = (pre-contrast, FLAIR, post-contrast)
    <root>/<patient>/<patient>_<slice>_mask.tif   0/255, the FLAIR abnormality

A case is a **patient**: the slices are stacked in ``slice`` order into a volume, and the
split (:func:`medsight.data.volumes.rank_split`, 25% of patients to ``val``) never puts
one patient on both sides.

Only the FLAIR channel is kept: ``analyze`` reads one series at a time (a FLAIR series is
what a department would send for this task), so the model must not depend on the two
other sequences being there and registered to it.

The TIFFs record no voxel size. The volume gets a nominal 1 x 1 x 1 mm grid with
``spacing_known=False``: volumes in mL and diameters in mm from this layout are in those
nominal units (predicted and reference alike, so their errors are comparable), and a
DICOM or NIfTI input brings its real spacing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from medsight.data.volumes import VolumeCase, VolumeSet, provenance, rank_split, read_index
from medsight.errors import FileNotFoundInputError, InvalidDatasetError, MedsightError
from medsight.imaging import Geometry, Image, ImageMeta, Layout
from medsight.io import read_image
from medsight.settings import ReadLimits
from medsight.types import Modality

__all__ = ["FLAIR_CHANNEL", "LGG_COLUMNS", "LGG_LABELS", "load_lgg"]

LGG_COLUMNS = frozenset({"patient_folder", "image", "mask", "slice"})
LGG_LABELS = ("tumour",)
#: The FLAIR sequence's channel in the kaggle_3m RGB TIFFs.
FLAIR_CHANNEL = 1
_VAL_FRACTION = 0.25
_RULE = "patients ranked by sha256('lgg:<patient>'); the first round(25%) are val"


def load_lgg(path: Path, limits: ReadLimits | None = None) -> VolumeSet:
    """Read an LGG-layout folder (the module docstring).

    Raises:
        FileNotFoundInputError: ``path`` does not exist.
        InvalidDatasetError: no or a malformed ``index.csv``, or listed files missing.
    """
    if not path.is_dir():
        raise FileNotFoundInputError(f"{path} is not a folder")
    index = path / "index.csv"
    if not index.is_file():
        raise InvalidDatasetError(f"{path.name} holds no index.csv (the LGG layout)")
    slices: dict[str, list[tuple[int, str, str]]] = {}
    for line, row in enumerate(read_index(index), start=2):
        try:
            patient, number = row["patient_folder"], int(row["slice"])
            image, mask = row["image"], row["mask"]
        except (KeyError, ValueError):
            raise InvalidDatasetError(f"index.csv line {line}: expected patient_folder, image, mask, slice") from None
        if not (path / image).is_file() or not (path / mask).is_file():
            raise InvalidDatasetError(f"index.csv line {line}: a listed image or mask is missing")
        slices.setdefault(patient, []).append((number, image, mask))
    splits = rank_split("lgg", sorted(slices), _VAL_FRACTION)
    cases = []
    for patient in slices:
        ordered = sorted(slices[patient])
        files = tuple(f for _, image, mask in ordered for f in (image, mask))
        cases.append(VolumeCase(patient, splits[patient], files))
    return VolumeSet(
        root=path,
        layout="lgg",
        label_names=LGG_LABELS,
        cases=tuple(cases),
        provenance=provenance(index, "lgg", _RULE, splits),
        reader=_read_case,
        limits=limits or ReadLimits(),
    )


def _read_case(root: Path, case: VolumeCase, limits: ReadLimits) -> tuple[Image, NDArray[np.uint8]]:
    images, masks = case.files[0::2], case.files[1::2]
    try:
        planes = [_flair(read_image(root / name, limits).pixels) for name in images]
        labels = [read_image(root / name, limits).pixels for name in masks]
    except MedsightError as exc:
        raise InvalidDatasetError(f"case {case.key}: {exc.message}") from exc
    if any(p.shape != planes[0].shape for p in planes) or any(m.shape[:2] != planes[0].shape for m in labels):
        raise InvalidDatasetError(f"case {case.key}: slices or masks differ in size")
    volume = np.stack(planes).astype(np.float32)
    mask = np.stack([(m if m.ndim == 2 else m.mean(axis=-1)) > 127 for m in labels]).astype(np.uint8)
    image = Image(
        volume,
        layout=Layout.VOLUME,
        geometry=Geometry(spacing_known=False),
        meta=ImageMeta(modality=Modality.MR, body_part="BRAIN", bits_stored=8),
    )
    return image, mask


def _flair(pixels: NDArray[np.float32]) -> NDArray[np.float32]:
    return pixels[..., FLAIR_CHANNEL] if pixels.ndim == 3 else pixels
