"""Chest X-ray DICOM objects for the analysis-job tests: synthetic, or real from ../shared.

Synthetic ones (:func:`synthetic_chest_series`) are what the test-trained ``tiny`` bundle
accepts; the shipped models refuse them as out of distribution, as they should. Real
ones (:func:`kermany_chest`) are validation images of the Kermany set, for tests that
run a shipped model; None when ``../shared`` lacks the set.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import generate_uid

from tests.data.synthetic_cxr import chest_like, write_dx_dicom

__all__ = ["KERMANY", "kermany_chest", "synthetic_chest_series", "with_uids"]

KERMANY = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "chest_xray_pneumonia_224"


def with_uids(data: bytes, *, study: str | None = None, series: str | None = None, **values: str) -> bytes:
    """``data`` with its Study/Series Instance UIDs (and other attributes) replaced."""
    dataset = pydicom.dcmread(io.BytesIO(data))
    if study is not None:
        dataset.StudyInstanceUID = study
    if series is not None:
        dataset.SeriesInstanceUID = series
    for keyword, value in values.items():
        setattr(dataset, keyword, value)
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()


def synthetic_chest_series(folder: Path, count: int = 3, *, size: int = 28, seed: int = 5) -> list[bytes]:
    """``count`` synthetic DX chest films (positives and negatives) in one new study and series."""
    rng = np.random.default_rng(seed)
    study, series = generate_uid(), generate_uid()
    out = []
    for i in range(count):
        path = write_dx_dicom(folder / f"cxr{i}.dcm", chest_like(size, bool(i % 2 == 0), rng))
        out.append(with_uids(path.read_bytes(), study=study, series=series))
    return out


def kermany_chest(folder: Path, *, label: int = 1, index: int = 0) -> bytes | None:
    """A validation chest X-ray of the Kermany set as a DX object, or None without the set."""
    labels = KERMANY / "labels.csv"
    if not labels.is_file():
        return None
    from PIL import Image

    with labels.open(newline="") as stream:
        rows = [row for row in csv.DictReader(stream) if row["split"] == "val" and row["label"] == str(label)]
    with Image.open(KERMANY / rows[index]["path"]) as image:
        pixels = np.asarray(image.convert("L"))
    return write_dx_dicom(folder / f"kermany-{label}-{index}.dcm", pixels).read_bytes()
