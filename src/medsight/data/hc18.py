"""The HC18 layout: fetal head ultrasound images, their head-contour annotations and the CSV.

::

    <root>/training_set/NNN_HC.png               8-bit greyscale ultrasound image
    <root>/training_set/NNN_HC_Annotation.png    the expert's head outline (a thin ellipse, 0/255)
    <root>/training_set_pixel_size_and_HC.csv    filename, pixel size(mm), head circumference (mm)

(``<root>`` may also be the ``training_set`` folder itself, with the CSV beside or inside
it.) The number before ``_`` is the subject: ``010_HC.png`` and ``010_2HC.png`` are two
images of one fetus. HC18 records no split; this module makes one **by subject**, never
by image, from a hash of the subject number: a subject is in ``val`` when the first eight
hex digits of ``sha256("hc18:<subject>")`` are 0 modulo 5 (about 20%). The rule needs no
seed and no list, gives every subject the same part on every machine, and puts a new
subject somewhere without moving the others. ``all`` selects every image (a held-back
folder in this layout is scored with ``--split all``).

The reference mask is the annotation's ellipse, filled: an ellipse is fitted to the
outline's pixels (4 outlines of HC18 run past the image edge, where a hole fill fails).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.errors import FileNotFoundInputError, InvalidDatasetError, MedsightError
from medsight.imaging import Image
from medsight.imaging.ellipse import Ellipse, fill_ellipse, fit_ellipse
from medsight.io import read_image
from medsight.settings import ReadLimits

__all__ = ["HC18_CSV", "MeasuredCase", "MeasuredSet", "load_hc18", "subject_split"]

HC18_CSV = "training_set_pixel_size_and_HC.csv"
_VAL_MODULUS = 5


def subject_split(subject: str) -> str:
    """``val`` or ``train`` for an HC18 subject number (the module docstring's rule)."""
    digest = hashlib.sha256(f"hc18:{subject}".encode()).hexdigest()
    return "val" if int(digest[:8], 16) % _VAL_MODULUS == 0 else "train"


@dataclass(frozen=True)
class MeasuredCase:
    """One image with its reference outline and measurement.

    Attributes:
        key: the image's file name (``010_2HC.png``).
        subject: the subject number (``010``).
        split: ``train`` or ``val`` (:func:`subject_split`).
        image: the image file.
        annotation: the outline file.
        pixel_mm: pixel size, mm (square pixels).
        hc_mm: the reference head circumference, mm.
    """

    key: str
    subject: str
    split: str
    image: Path
    annotation: Path
    pixel_mm: float
    hc_mm: float


@dataclass(frozen=True)
class MeasuredSet:
    """The cases of an HC18-layout folder, and where they came from."""

    root: Path
    cases: tuple[MeasuredCase, ...]
    provenance: dict[str, Any]
    limits: ReadLimits

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[MeasuredCase]:
        return iter(self.cases)

    def split(self, name: str) -> MeasuredSet:
        """The cases of ``train``, ``val`` or ``all``.

        Raises:
            InvalidDatasetError: an unknown split name, or no case in it.
        """
        if name == "all":
            return self
        if name not in ("train", "val"):
            raise InvalidDatasetError(f"HC18 data has the splits train, val and all, not {name!r}")
        chosen = tuple(c for c in self.cases if c.split == name)
        if not chosen:
            raise InvalidDatasetError(f"{self.root.name} holds no {name!r} images (use --split all)")
        return MeasuredSet(self.root, chosen, self.provenance, self.limits)

    def split_sizes(self) -> dict[str, int]:
        """Images per split."""
        return {s: sum(c.split == s for c in self.cases) for s in ("train", "val")}

    def image(self, case: MeasuredCase) -> Image:
        """The ultrasound image of ``case``, with its CSV pixel size as its spacing."""
        image = read_image(case.image, self.limits)
        geometry = replace(image.geometry, spacing=(1.0, case.pixel_mm, case.pixel_mm), spacing_known=True)
        return replace(image, geometry=geometry)

    def reference(self, case: MeasuredCase, shape: tuple[int, int]) -> tuple[Ellipse, NDArray[np.bool_]]:
        """The annotated ellipse (pixels) and its filled mask of ``shape``.

        Raises:
            InvalidDatasetError: the annotation cannot be read or holds no ellipse.
        """
        try:
            outline = read_image(case.annotation, self.limits).pixels
            rows, cols = np.nonzero((outline if outline.ndim == 2 else outline.mean(axis=-1)) > 127)
            ellipse = fit_ellipse(cols.astype(np.float64), rows.astype(np.float64))
        except (MedsightError, ValueError) as exc:
            raise InvalidDatasetError(f"{case.annotation.name}: no head outline could be read") from exc
        return ellipse, fill_ellipse(shape, ellipse)


def load_hc18(path: Path, limits: ReadLimits | None = None) -> MeasuredSet:
    """Read an HC18-layout folder (the module docstring).

    Raises:
        FileNotFoundInputError: ``path`` does not exist.
        InvalidDatasetError: no CSV, a malformed CSV, or listed files missing.
    """
    if not path.exists():
        raise FileNotFoundInputError(f"{path} does not exist")
    folder = path / "training_set" if (path / "training_set").is_dir() else path
    csv_file = next((p for p in (path / HC18_CSV, folder / HC18_CSV, folder.parent / HC18_CSV) if p.is_file()), None)
    if csv_file is None:
        raise InvalidDatasetError(f"{path} holds no {HC18_CSV} (the HC18 layout)")
    cases = tuple(_cases(csv_file, folder))
    if not cases:
        raise InvalidDatasetError(f"{csv_file.name} lists no image")
    digest = hashlib.sha256(csv_file.read_bytes()).hexdigest()
    provenance = {"layout": "hc18", "file": csv_file.name, "sha256": digest, "split_rule": "sha256(subject) % 5 == 0"}
    return MeasuredSet(path, cases, provenance, limits or ReadLimits())


def _cases(csv_file: Path, folder: Path) -> Iterator[MeasuredCase]:
    try:
        with csv_file.open(newline="", encoding="utf-8") as stream:
            rows = list(csv.reader(stream))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidDatasetError(f"{csv_file.name} is not a readable CSV") from exc
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            name, pixel, hc = row[0].strip(), float(row[1]), float(row[2])
        except (IndexError, ValueError):
            raise InvalidDatasetError(f"{csv_file.name} line {line}: expected filename, pixel size, HC") from None
        image, annotation = folder / name, folder / name.replace(".png", "_Annotation.png")
        if not image.is_file() or not annotation.is_file():
            raise InvalidDatasetError(f"{csv_file.name} line {line}: {name} or its annotation is missing")
        subject = name.split("_")[0]
        yield MeasuredCase(name, subject, subject_split(subject), image, annotation, pixel, hc)
