"""DICOM objects for the DICOMweb tests: pydicom's bundled files given fresh UIDs and made-up patients."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid


@dataclass(frozen=True)
class Patient:
    patient_id: str
    name: str
    study_date: str
    accession: str


def load(name: str) -> Dataset:
    path = get_testdata_file(name)
    assert path is not None, f"pydicom test file {name} is not bundled"
    return pydicom.dcmread(path)


def encode(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def renamed(
    name: str,
    *,
    patient: Patient,
    study: str,
    series: str | None = None,
    modality: str | None = None,
    number: int = 1,
) -> Dataset:
    """A bundled file with a new SOP Instance UID, the given study (and series) and patient."""
    dataset = load(name)
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.StudyInstanceUID = study
    dataset.SeriesInstanceUID = series or generate_uid()
    dataset.PatientID = patient.patient_id
    dataset.PatientName = patient.name
    dataset.StudyDate = patient.study_date
    dataset.StudyTime = "101500"
    dataset.AccessionNumber = patient.accession
    dataset.InstanceNumber = number
    if modality is not None:
        dataset.Modality = modality
    return dataset


def multipart(parts: list[tuple[bytes, str]], boundary: str = "test-boundary-0123456789") -> tuple[bytes, str]:
    """A multipart/related body and its Content-Type, for requests built by hand."""
    chunks = [f"--{boundary}\r\nContent-Type: {media}\r\n\r\n".encode() + body + b"\r\n" for body, media in parts]
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'
