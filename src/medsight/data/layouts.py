"""Readers of the dataset layouts a user has: MedMNIST npz, labels.csv, class folders.

- **npz** (MedMNIST): ``{split}_images`` ``(n, H, W[, 3])`` uint8 and ``{split}_labels``
  ``(n, 1)``, as ``medmnist`` downloads it or as ``../shared`` stores it. A folder holding
  one ``.npz`` is read as that file.
- **labels.csv**: columns ``path,label,split`` (``label`` an index or a class name; paths
  relative to the CSV), any other column kept as a subgroup (``sex``, ``age``, ``source``).
  Without a ``split`` column every case belongs to no split (select them with ``all``).
- **class folders**: ``<root>/<split>/<CLASS>/*`` (Kermany's Kaggle layout), or
  ``<root>/<CLASS>/*`` without splits.

Every layout records what defines it with sha256 hashes, for model cards.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from medsight.data.cases import Case, LabelledSet
from medsight.errors import FileNotFoundInputError, InvalidDatasetError, MedsightError
from medsight.imaging import Image, ImageMeta
from medsight.io import read_image
from medsight.settings import ReadLimits

__all__ = ["IMAGE_SUFFIXES", "KNOWN_SPLITS", "load_dataset"]

KNOWN_SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".dicom", ""})
# Columns of labels.csv that are not subgroups.
_CORE_COLUMNS = frozenset({"path", "label", "split", "sha256", "class_name", "patient_id"})
# Columns that could identify a person or give the label away are never kept as groups.
_NEVER_GROUPS = frozenset({"patient_id", "clinical_reading", "name", "patient_name"})

LabelOf = Callable[[str], int]


def load_dataset(
    path: Path,
    label_of: LabelOf,
    limits: ReadLimits | None = None,
    *,
    relabel: Callable[[int], int] | None = None,
) -> LabelledSet:
    """Read the labelled dataset at ``path``, in whichever supported layout it is.

    Args:
        path: an ``.npz`` file, a ``labels.csv``, or a folder holding either or class folders.
        label_of: maps a class spelling (``PNEUMONIA``) to its label index.
        limits: read limits for the image files.
        relabel: maps an integer label as stored (npz, a numeric CSV label) to the
            task's class index (``TaskSpec.class_of_stored``); None keeps it.

    Raises:
        FileNotFoundInputError: ``path`` does not exist.
        InvalidDatasetError: ``path`` is in none of the layouts, or is malformed.
    """
    limits = limits or ReadLimits()
    if not path.exists():
        raise FileNotFoundInputError(f"{path} does not exist")
    if path.is_file() and path.suffix == ".npz":
        return _from_npz(path, relabel)
    if path.is_file() and path.suffix == ".csv":
        return _from_csv(path, label_of, limits, relabel)
    if path.is_dir():
        if (path / "labels.csv").is_file():
            return _from_csv(path / "labels.csv", label_of, limits, relabel)
        npz = sorted(path.glob("*.npz"))
        if len(npz) == 1:
            return _from_npz(npz[0], relabel)
        if len(npz) > 1:
            names = ", ".join(p.name for p in npz)
            raise InvalidDatasetError(f"{path} holds several .npz files ({names}); name one")
        return _from_class_folders(path, label_of, limits)
    raise InvalidDatasetError(f"{path} is not an .npz, a labels.csv or a folder of class folders")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _from_npz(path: Path, relabel: Callable[[int], int] | None = None) -> LabelledSet:
    try:
        archive = np.load(path, allow_pickle=False)
        arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError) as exc:
        raise InvalidDatasetError(f"{path.name} is not a readable .npz archive") from exc
    cases: list[Case] = []
    images: dict[str, np.ndarray] = {}
    for split in KNOWN_SPLITS:
        if f"{split}_images" not in arrays:
            continue
        imgs, labels = arrays[f"{split}_images"], arrays.get(f"{split}_labels")
        if labels is None or len(labels) != len(imgs) or imgs.ndim not in (3, 4):
            raise InvalidDatasetError(f"{path.name}: {split}_images and {split}_labels do not match")
        images[split] = imgs
        flat = np.asarray(labels).reshape(len(labels), -1)[:, 0]
        mapped = [relabel(int(y)) if relabel else int(y) for y in flat]
        cases += [Case(key=f"{split}/{i}", label=y, split=split, index=i) for i, y in enumerate(mapped)]
    if not cases:
        raise InvalidDatasetError(f"{path.name} holds no '{{split}}_images' arrays (MedMNIST layout)")

    def load(case: Case) -> Image:
        assert case.index is not None
        pixels = images[case.split][case.index].astype(np.float32)
        return Image(pixels=pixels, meta=ImageMeta(bits_stored=8, photometric="MONOCHROME2"))

    provenance = {"layout": "npz", "file": path.name, "sha256": _sha256(path)}
    return LabelledSet(path, "npz", tuple(cases), provenance, load)


def _file_loader(limits: ReadLimits) -> Callable[[Case], Image]:
    def load(case: Case) -> Image:
        assert case.path is not None
        return read_image(case.path, limits)

    return load


def _from_csv(
    path: Path, label_of: LabelOf, limits: ReadLimits, relabel: Callable[[int], int] | None = None
) -> LabelledSet:
    root = path.parent
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidDatasetError(f"{path.name} is not a readable UTF-8 CSV") from exc
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise InvalidDatasetError(f"{path.name} needs at least the columns path,label (and usually split)")
    group_columns = [c for c in rows[0] if c not in _CORE_COLUMNS and c not in _NEVER_GROUPS]
    cases = []
    for line, row in enumerate(rows, start=2):
        try:
            stored = row["label"].strip()
            label = (relabel or int)(int(stored)) if stored.isdigit() else label_of(stored)
        except MedsightError as exc:
            raise InvalidDatasetError(f"{path.name} line {line}: {exc.message}") from None
        relative = row["path"].strip()
        if not relative or Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise InvalidDatasetError(f"{path.name} line {line}: path must be relative to the CSV, inside its folder")
        groups = {c: (row.get(c) or "").strip() for c in group_columns}
        split = (row.get("split") or "").strip()
        cases.append(Case(key=relative, label=label, split=split, groups=groups, path=root / relative))
    missing = [c.key for c in cases if c.path is not None and not c.path.is_file()]
    if missing:
        raise InvalidDatasetError(f"{path.name}: {len(missing)} listed files are missing (first: {missing[0]})")
    provenance: dict[str, Any] = {"layout": "labels_csv", "file": path.name, "sha256": _sha256(path)}
    if "sha256" in rows[0]:
        provenance["images_listed_with_sha256"] = True
    return LabelledSet(path, "labels_csv", tuple(cases), provenance, _file_loader(limits))


def _from_class_folders(root: Path, label_of: LabelOf, limits: ReadLimits) -> LabelledSet:
    split_dirs = [root / s for s in KNOWN_SPLITS if (root / s).is_dir()]
    bases = [(d, d.name) for d in split_dirs] or [(root, "")]
    cases: list[Case] = []
    for base, split in bases:
        for class_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            try:
                label = label_of(class_dir.name)
            except MedsightError:
                continue  # not a class folder (a README folder, __MACOSX...)
            for file in sorted(class_dir.iterdir()):
                if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES and not file.name.startswith("."):
                    cases.append(Case(key=str(file.relative_to(root)), label=label, split=split, path=file))
    if not cases:
        raise InvalidDatasetError(
            f"{root} holds no labels.csv, no .npz and no class folders (<split>/<CLASS>/* or <CLASS>/*)"
        )
    listing = hashlib.sha256("\n".join(f"{c.key}\t{c.label}" for c in cases).encode()).hexdigest()
    provenance = {"layout": "class_folders", "file": root.name, "listing_sha256": listing}
    return LabelledSet(root, "class_folders", tuple(cases), provenance, _file_loader(limits))
