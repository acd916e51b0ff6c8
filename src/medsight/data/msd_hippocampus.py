"""The MSD Task04 hippocampus layout: 3D MRI crops as NIfTI, labels 1 anterior, 2 posterior.

::

    <root>/index.csv                      case, image, label, ... (one row per crop)
    <root>/imagesTr/hippocampus_NNN.nii.gz
    <root>/labelsTr/hippocampus_NNN.nii.gz

A case is a crop (MSD publishes no case-to-subject map, so the left and right crops of one
person may fall on both sides: the split is by case, not by subject). 20% of the cases go
to ``val`` (:func:`medsight.data.volumes.rank_split`). Intensities are raw (uint8 or
float32, maxima from about 1e2 to 1.7e6); the task normalises each volume itself.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from medsight.data.volumes import VolumeCase, VolumeSet, provenance, rank_split, read_index
from medsight.errors import FileNotFoundInputError, InvalidDatasetError, MedsightError
from medsight.imaging import Image
from medsight.io import read_image
from medsight.settings import ReadLimits
from medsight.types import Modality

__all__ = ["MSD_COLUMNS", "MSD_LABELS", "load_msd_hippocampus"]

MSD_COLUMNS = frozenset({"case", "image", "label"})
MSD_LABELS = ("anterior", "posterior")
_VAL_FRACTION = 0.2
_RULE = "cases ranked by sha256('msd_hippocampus:<case>'); the first round(20%) are val"


def load_msd_hippocampus(path: Path, limits: ReadLimits | None = None) -> VolumeSet:
    """Read an MSD hippocampus folder (the module docstring).

    Raises:
        FileNotFoundInputError: ``path`` does not exist.
        InvalidDatasetError: no or a malformed ``index.csv``, or listed files missing.
    """
    if not path.is_dir():
        raise FileNotFoundInputError(f"{path} is not a folder")
    index = path / "index.csv"
    if not index.is_file():
        raise InvalidDatasetError(f"{path.name} holds no index.csv (the MSD hippocampus layout)")
    rows = []
    for line, row in enumerate(read_index(index), start=2):
        try:
            key, image, label = row["case"], row["image"], row["label"]
        except KeyError:
            raise InvalidDatasetError(f"index.csv line {line}: expected case, image, label") from None
        if not (path / image).is_file() or not (path / label).is_file():
            raise InvalidDatasetError(f"index.csv line {line}: a listed image or label is missing")
        rows.append((key, image, label))
    splits = rank_split("msd_hippocampus", [key for key, _, _ in rows], _VAL_FRACTION)
    return VolumeSet(
        root=path,
        layout="msd_hippocampus",
        label_names=MSD_LABELS,
        cases=tuple(VolumeCase(key, splits[key], (image, label)) for key, image, label in rows),
        provenance=provenance(index, "msd_hippocampus", _RULE, splits),
        reader=_read_case,
        limits=limits or ReadLimits(),
    )


def _read_case(root: Path, case: VolumeCase, limits: ReadLimits) -> tuple[Image, NDArray[np.uint8]]:
    try:
        image = read_image(root / case.files[0], limits)
        labels = read_image(root / case.files[1], limits).pixels
    except MedsightError as exc:
        raise InvalidDatasetError(f"case {case.key}: {exc.message}") from exc
    if labels.shape != image.pixels.shape or image.channels != 1:
        raise InvalidDatasetError(f"case {case.key}: the labels do not fit the image")
    rounded = np.rint(labels)
    if rounded.min() < 0 or rounded.max() > len(MSD_LABELS):
        raise InvalidDatasetError(f"case {case.key}: labels outside 0..{len(MSD_LABELS)}")
    image = replace(image, meta=replace(image.meta, modality=Modality.MR, body_part="BRAIN"))
    return image, rounded.astype(np.uint8)
