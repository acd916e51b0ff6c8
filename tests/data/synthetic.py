"""Synthetic single-frame CT series with planted fake patient data (no pytest needed).

:func:`write_ct_series` writes a CT Image Storage series that looks like a scanner's:
file meta, Study/Series/Frame of Reference UIDs, one Image Position (Patient) per slice
along the slice normal (PS3.3 C.7.6.2.1.1), Rescale Slope 1 / Intercept -1024, and file
names shuffled so that name order is not slice order.

Pixel values follow one formula, so a test can check any voxel without a reference file:

    HU(k, r, c) = 16 * k + 4 * (4 * r // rows) + (4 * c // columns)

``k`` is the slice index, ``r`` and ``c`` the row and column. The low four bits are a
4x4 block pattern (flips and transposes show), the rest is the slice index (order
shows). Linear interpolation across a gap gives back the formula: exactly for one
missing slice, to float32 rounding for longer gaps.

:data:`PLANTED` is fake patient data written into every file; tests assert that none
of its values ever reaches a log line, an error message or an export.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    CTImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    generate_uid,
)

__all__ = ["PLANTED", "RESCALE_INTERCEPT", "expected_slice", "expected_volume", "write_ct_series"]

#: Fake patient data planted in every file (values that must never leak).
PLANTED: dict[str, str] = {
    "PatientName": "FAKE^PLANTED^PATIENT",
    "PatientID": "PLANTED-ID-0001",
    "PatientBirthDate": "19010101",
    "InstitutionName": "PLANTED HOSPITAL",
    "AccessionNumber": "PLANTED-ACC-0001",
    "ReferringPhysicianName": "PLANTED^REFERRER",
}
RESCALE_INTERCEPT = -1024.0


def expected_slice(index: int, rows: int, columns: int) -> NDArray[np.float32]:
    """Hounsfield units of slice ``index`` (the formula in the module docstring)."""
    r = (4 * np.arange(rows) // rows)[:, None]
    c = (4 * np.arange(columns) // columns)[None, :]
    return (16 * index + 4 * r + c).astype(np.float32)


def expected_volume(
    slices: int,
    rows: int,
    columns: int,
    missing: Iterable[int] = (),
) -> NDArray[np.float32]:
    """The volume a reader should assemble, shape (slice, row, column), in HU.

    Missing slices at either end are simply absent; interior gaps are expected to be
    filled by linear interpolation, which reproduces the formula (exactly for one
    missing slice; compare with ``np.allclose`` when a gap is longer).
    """
    gone = set(missing)
    present = [k for k in range(slices) if k not in gone]
    return np.stack([expected_slice(k, rows, columns) for k in range(present[0], present[-1] + 1)])


def write_ct_series(
    folder: Path,
    *,
    slices: int = 300,
    rows: int = 512,
    columns: int = 512,
    spacing: Sequence[float] = (2.5, 0.7, 0.7),
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    origin: Sequence[float] = (-180, -180, -300),
    shuffle_names: bool = True,
    missing: Iterable[int] = (),
    seed: int = 0,
    transfer_syntax: str = ExplicitVRLittleEndian,
    patient_name: str = PLANTED["PatientName"],
    patient_id: str = PLANTED["PatientID"],
    signed: bool = True,
) -> list[Path]:
    """Write one CT series into ``folder`` and return the files in slice order.

    Args:
        folder: created if absent.
        slices: slices before ``missing`` are taken out.
        rows: pixel rows per slice.
        columns: pixel columns per slice.
        spacing: mm between (slices, rows, columns).
        orientation: Image Orientation (Patient): row cosine then column cosine.
        origin: Image Position (Patient) of slice 0.
        shuffle_names: name files in a seeded random order instead of slice order.
        missing: slice indices not written (gaps in the series).
        seed: makes UIDs and the name order reproducible.
        transfer_syntax: a native syntax, or a compressed one pydicom can encode (RLE).
        patient_name: Patient Name to plant.
        patient_id: Patient ID to plant.
        signed: int16 stored values (Pixel Representation 1), else uint16.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    gone = set(missing)
    present = [k for k in range(slices) if k not in gone]
    rng = np.random.default_rng(seed)
    numbers = rng.permutation(len(present)) if shuffle_names else np.arange(len(present))
    row_cos, col_cos = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = np.cross(row_cos, col_cos)
    series = _series_dataset(seed, rows, columns, spacing, orientation, patient_name, patient_id)
    series.PixelRepresentation = 1 if signed else 0
    syntax = UID(transfer_syntax)
    paths: list[Path] = []
    for number, k in zip(numbers, present, strict=True):
        ds = copy.deepcopy(series)
        sop_uid = generate_uid(entropy_srcs=[str(seed), "sop", str(k)])
        ds.file_meta = _file_meta(sop_uid, syntax)
        ds.SOPInstanceUID = sop_uid
        ds.InstanceNumber = k + 1
        position = np.asarray(origin, float) + k * float(spacing[0]) * normal
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
        ds.SliceLocation = f"{float(position @ normal):.4f}"
        stored = expected_slice(k, rows, columns) - RESCALE_INTERCEPT
        kind = "i2" if signed else "u2"
        dtype = np.dtype((">" if syntax == ExplicitVRBigEndian else "<") + kind)
        if syntax.is_compressed:
            ds.compress(syntax, stored.astype(dtype.newbyteorder("=")), generate_instance_uid=False)
        else:
            ds.PixelData = stored.astype(dtype).tobytes()
        path = folder / f"IM{int(number):05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _series_dataset(
    seed: int,
    rows: int,
    columns: int,
    spacing: Sequence[float],
    orientation: Sequence[float],
    patient_name: str,
    patient_id: str,
) -> Dataset:
    """Attributes shared by every slice: patient, study, series, frame of reference, pixels."""
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.Modality = "CT"
    ds.Manufacturer = "medsight synthetic"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240102"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    for keyword, value in PLANTED.items():
        setattr(ds, keyword, value)
    ds.PatientName, ds.PatientID = patient_name, patient_id
    ds.PatientSex = "O"
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[str(seed), "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[str(seed), "series"])
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[str(seed), "frame-of-reference"])
    ds.StudyID, ds.SeriesNumber, ds.AcquisitionNumber = "1", 2, 1
    ds.BodyPartExamined = "CHEST"
    ds.KVP = "120"
    ds.PositionReferenceIndicator = ""
    ds.ImageOrientationPatient = [f"{float(v):.6f}" for v in orientation]
    ds.PixelSpacing = [f"{float(spacing[1]):g}", f"{float(spacing[2]):g}"]
    ds.SliceThickness = f"{float(spacing[0]):g}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.RescaleSlope, ds.RescaleIntercept = "1", f"{RESCALE_INTERCEPT:g}"
    ds.RescaleType = "HU"
    ds.WindowCenter, ds.WindowWidth = "40", "400"
    return ds


def _file_meta(sop_uid: str, syntax: UID) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta
