"""Labelled volumes: one image volume and its voxel labels per case, for the MRI segmentation tasks.

Two layouts feed this (each a module of its own): :mod:`medsight.data.lgg` (brain MRI
slices as TIFFs, one patient a volume) and :mod:`medsight.data.msd_hippocampus` (NIfTI
crops). :func:`load_volumes` tells them apart by their ``index.csv`` header, so that a
held-back folder in either layout, with its own ``index.csv``, is read unchanged.

**The split** is by case (a patient for the brain, a crop for the hippocampus), made
from the keys alone: every key is ranked by ``sha256("<layout>:<key>")`` and the first
``max(1, round(fraction * n))`` go to ``val``. No seed, no list to ship; the same folder
splits the same way on every machine, and the validation keys are recorded in the
bundle's provenance. ``all`` selects every case (scoring a held-back folder).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.errors import FileNotFoundInputError, InvalidDatasetError
from medsight.imaging import Image
from medsight.settings import ReadLimits

__all__ = ["VolumeCase", "VolumeSet", "load_volumes", "rank_split", "read_index"]


@dataclass(frozen=True)
class VolumeCase:
    """One labelled volume.

    Attributes:
        key: the case's name (patient folder or MSD case id).
        split: ``train`` or ``val`` (:func:`rank_split`).
        files: the files it is read from (relative to the dataset root), image(s) first.
    """

    key: str
    split: str
    files: tuple[str, ...]


#: Reads a case: ``(image volume, labels (z, y, x) uint8)``.
CaseReader = Callable[[Path, VolumeCase, ReadLimits], tuple[Image, NDArray[np.uint8]]]


@dataclass(frozen=True)
class VolumeSet:
    """The cases of a volume dataset, how to read them, and where they came from.

    Attributes:
        root: the dataset folder.
        layout: ``lgg`` or ``msd_hippocampus``.
        label_names: names of labels 1, 2, ... in order.
        cases: the cases, in index order.
        provenance: index file, its sha256, the split rule and the validation keys.
        reader: reads one case.
        limits: read limits.
    """

    root: Path
    layout: str
    label_names: tuple[str, ...]
    cases: tuple[VolumeCase, ...]
    provenance: dict[str, Any]
    reader: CaseReader
    limits: ReadLimits

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[VolumeCase]:
        return iter(self.cases)

    def split(self, name: str) -> VolumeSet:
        """The cases of ``train``, ``val`` or ``all``.

        Raises:
            InvalidDatasetError: an unknown split, or no case in it.
        """
        if name == "all":
            return self
        if name not in ("train", "val"):
            raise InvalidDatasetError(f"{self.layout} data has the splits train, val and all, not {name!r}")
        chosen = tuple(c for c in self.cases if c.split == name)
        if not chosen:
            raise InvalidDatasetError(f"{self.root.name} holds no {name!r} cases (use --split all)")
        return VolumeSet(self.root, self.layout, self.label_names, chosen, self.provenance, self.reader, self.limits)

    def split_sizes(self) -> dict[str, int]:
        """Cases per split."""
        return {s: sum(c.split == s for c in self.cases) for s in ("train", "val")}

    def read(self, case: VolumeCase) -> tuple[Image, NDArray[np.uint8]]:
        """The image volume and its labels ``(z, y, x)`` uint8 (0 background, k = ``label_names[k-1]``).

        Raises:
            InvalidDatasetError: a file is missing or unreadable, or the labels do not fit the image.
        """
        return self.reader(self.root, case, self.limits)


def rank_split(layout: str, keys: list[str], fraction: float) -> dict[str, str]:
    """``train``/``val`` per key: the module docstring's rule."""
    ranked = sorted(keys, key=lambda k: hashlib.sha256(f"{layout}:{k}".encode()).hexdigest())
    n_val = max(1, round(fraction * len(keys))) if len(keys) > 1 else 0
    val = set(ranked[:n_val])
    return {k: "val" if k in val else "train" for k in keys}


def read_index(path: Path) -> list[dict[str, str]]:
    """The rows of an ``index.csv`` as dicts.

    Raises:
        InvalidDatasetError: not a readable CSV, or no rows.
    """
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(stream)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidDatasetError(f"{path.name} is not a readable CSV") from exc
    if not rows:
        raise InvalidDatasetError(f"{path.name} lists no case")
    return rows


def load_volumes(path: Path, limits: ReadLimits | None = None) -> VolumeSet:
    """Read a labelled-volume folder in either layout (the module docstring).

    Raises:
        FileNotFoundInputError: ``path`` does not exist.
        InvalidDatasetError: no ``index.csv``, or one of neither layout.
    """
    from medsight.data.lgg import LGG_COLUMNS, load_lgg
    from medsight.data.msd_hippocampus import MSD_COLUMNS, load_msd_hippocampus

    if not path.exists():
        raise FileNotFoundInputError(f"{path} does not exist")
    index = path / "index.csv"
    if not index.is_file():
        raise InvalidDatasetError(f"{path.name} holds no index.csv (the LGG or MSD hippocampus layout)")
    columns = set(read_index(index)[0])
    if columns >= LGG_COLUMNS:
        return load_lgg(path, limits)
    if columns >= MSD_COLUMNS:
        return load_msd_hippocampus(path, limits)
    raise InvalidDatasetError(f"{path.name}/index.csv has neither the LGG nor the MSD hippocampus columns")


def provenance(index: Path, layout: str, rule: str, splits: dict[str, str]) -> dict[str, Any]:
    """What a bundle records of the data: the index file, its hash, the split rule, the val keys."""
    return {
        "layout": layout,
        "file": index.name,
        "sha256": hashlib.sha256(index.read_bytes()).hexdigest(),
        "split_rule": rule,
        "val_keys": sorted(k for k, s in splits.items() if s == "val"),
    }
