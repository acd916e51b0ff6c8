"""DICOM files the browser tests upload: a chest X-ray and a multi-slice CT series, with made-up patients."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from medsight.services.demo_studies import demo_objects

__all__ = ["SHARED", "chest_xray", "ct_series"]

SHARED = Path(__file__).resolve().parents[3].parent / "shared"


def _save(dataset: pydicom.Dataset, path: Path) -> Path:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    path.write_bytes(buffer.getvalue())
    return path


def chest_xray(folder: Path, patient: str) -> tuple[Path, bool]:
    """A DX chest film: a Kermany validation image when ../shared has it (True), else pydicom's CR (False).

    The shipped model scores the real film and refuses the stand-in, so the caller knows
    which outcome to expect.
    """
    objects = [item for item in demo_objects(SHARED, per_class=1) if item.source.startswith("chest_xray")]
    if objects:
        dataset = pydicom.dcmread(io.BytesIO(objects[-1].data))
        real = True
    else:
        path = get_testdata_file("dicomdirtests/77654033/CR1/6154")
        assert isinstance(path, str)
        dataset = pydicom.dcmread(path)
        dataset.Modality, dataset.BodyPartExamined = "DX", "CHEST"
        real = False
    _identify(dataset, patient, generate_uid(), generate_uid(), "Chest PA")
    dataset.StudyDate = "20261120"
    # An adult on paper, so routing runs both chest tasks (TB only from 15 years: services.routing).
    dataset.PatientBirthDate = "19800101"
    return _save(dataset, folder / "chest.dcm"), real


def ct_series(folder: Path, patient: str, slices: int = 8) -> list[Path]:
    """``slices`` CT images of one series, 5 mm apart, each with different pixels (pydicom's CT_small)."""
    path = get_testdata_file("CT_small.dcm")
    assert isinstance(path, str)
    study, series = generate_uid(), generate_uid()
    out = []
    for number in range(1, slices + 1):
        dataset = pydicom.dcmread(path)
        _identify(dataset, patient, study, series, "CT chest")
        dataset.StudyDate = "20261121"
        dataset.InstanceNumber = number
        x, y, z = (float(v) for v in dataset.ImagePositionPatient)
        dataset.ImagePositionPatient = [x, y, z + 5.0 * number]
        pixels = dataset.pixel_array.astype(np.int16)
        dataset.PixelData = np.roll(pixels, 6 * number, axis=1).tobytes()
        out.append(_save(dataset, folder / f"ct{number:02d}.dcm"))
    return out


def _identify(dataset: pydicom.Dataset, patient: str, study: str, series: str, description: str) -> None:
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.StudyInstanceUID = study
    dataset.SeriesInstanceUID = series
    dataset.PatientName = patient
    dataset.PatientID = patient.replace("^", "-")
    dataset.StudyDescription = description
    dataset.AccessionNumber = patient[-6:].replace("^", "")
