"""A small synthetic MR series with planted fake patient data, and a label volume on its grid.

:func:`write_mr_series` writes an MR Image Storage series (single-frame, one file per
slice) complete enough for ``dciodvfy`` to pass it: patient, study, series, frame of
reference, equipment, image plane and pixel modules, and the MR Image module's Type 1
and 2 attributes. The pixels are a bright ellipsoid ("brain") in a dark field.

:func:`label_blobs` gives a ``(slice, row, column)`` uint8 volume on the same grid with
one ellipsoid per label, so tests know each label's voxel count exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, MRImageStorage, generate_uid

from medsight.imaging import Image
from tests.data.synthetic import PLANTED

__all__ = ["label_blobs", "mr_pixels", "write_mr_series", "write_mr_volume"]


def mr_pixels(slices: int, rows: int, columns: int) -> NDArray[np.uint16]:
    """A bright ellipsoid in a dark field, with a gentle gradient (uint16)."""
    z, y, x = np.meshgrid(
        np.linspace(-1, 1, slices), np.linspace(-1, 1, rows), np.linspace(-1, 1, columns), indexing="ij"
    )
    inside = (z / 1.2) ** 2 + (y / 0.8) ** 2 + (x / 0.7) ** 2 <= 1.0
    return (inside * (600 + 200 * y) + 20).astype(np.uint16)


def label_blobs(shape: tuple[int, int, int], labels: int = 2) -> NDArray[np.uint8]:
    """``labels`` disjoint ellipsoids, label ``k`` centred at ``k / (labels + 1)`` of the columns."""
    slices, rows, columns = shape
    z, y, x = np.meshgrid(np.arange(slices), np.arange(rows), np.arange(columns), indexing="ij")
    out = np.zeros(shape, dtype=np.uint8)
    for k in range(1, labels + 1):
        cz, cy, cx = (slices - 1) / 2, rows / 2, columns * k / (labels + 1)
        rz, ry, rx = max(slices / 3, 1.0), rows / 5, columns / (3 * (labels + 1))
        out[((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0] = k
    return out


def write_mr_series(
    folder: Path,
    *,
    slices: int = 8,
    rows: int = 32,
    columns: int = 32,
    spacing: Sequence[float] = (3.0, 0.9, 0.9),
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    origin: Sequence[float] = (-14.4, -14.4, -10.0),
    seed: int = 0,
    description: str = "AX FLAIR",
    body_part: str | None = "BRAIN",
) -> list[Path]:
    """Write one MR series into ``folder`` (created if absent); the files in slice order.

    ``body_part`` None leaves Body Part Examined out.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    row_cos, col_cos = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = np.cross(row_cos, col_cos)
    series = _series_dataset(seed, rows, columns, spacing, orientation)
    series.SeriesDescription = description
    if body_part is None:
        del series.BodyPartExamined
    else:
        series.BodyPartExamined = body_part
    pixels = mr_pixels(slices, rows, columns)
    paths: list[Path] = []
    for k in range(slices):
        ds = copy.deepcopy(series)
        sop_uid = generate_uid(entropy_srcs=[str(seed), "mr-sop", str(k)])
        ds.file_meta = _file_meta(sop_uid)
        ds.SOPInstanceUID = sop_uid
        ds.InstanceNumber = k + 1
        position = np.asarray(origin, float) + k * float(spacing[0]) * normal
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
        ds.SliceLocation = f"{float(position @ normal):.4f}"
        ds.PixelData = pixels[k].astype("<u2").tobytes()
        path = folder / f"MR{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_mr_volume(folder: Path, image: Image, *, seed: int = 0, description: str = "AX T1") -> list[Path]:
    """Write a volume (real pixels and geometry, e.g. a NIfTI crop) as an MR series; the files in slice order.

    Pixels are rounded and clipped to 0..4095 (12 bits stored); the patient is :data:`PLANTED`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    geometry = image.geometry
    orientation = (*geometry.direction[2], *geometry.direction[1])
    series = _series_dataset(seed, image.shape[1], image.shape[2], geometry.spacing, orientation)
    series.SeriesDescription = description
    pixels = np.clip(np.rint(image.pixels), 0, 4095).astype(np.uint16)
    paths: list[Path] = []
    for k in range(image.shape[0]):
        ds = copy.deepcopy(series)
        sop_uid = generate_uid(entropy_srcs=[str(seed), "mr-volume-sop", str(k)])
        ds.file_meta = _file_meta(sop_uid)
        ds.SOPInstanceUID = sop_uid
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [f"{v:.5f}" for v in geometry.index_to_patient((k, 0, 0))]
        ds.PixelData = pixels[k].astype("<u2").tobytes()
        path = folder / f"MR{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _series_dataset(
    seed: int, rows: int, columns: int, spacing: Sequence[float], orientation: Sequence[float]
) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = MRImageStorage
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    ds.Modality = "MR"
    ds.Manufacturer = "medsight synthetic"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240102"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    for keyword, value in PLANTED.items():
        setattr(ds, keyword, value)
    ds.PatientSex = "O"
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[str(seed), "mr-study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[str(seed), "mr-series"])
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[str(seed), "mr-frame-of-reference"])
    ds.StudyID, ds.SeriesNumber, ds.AcquisitionNumber = "1", 3, 1
    ds.SeriesDescription = "AX FLAIR"
    ds.BodyPartExamined = "BRAIN"
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    # MR Image module (PS3.3 C.8.3.1): Type 1 and 2 attributes.
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = "NONE"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.RepetitionTime = "9000"
    ds.EchoTime = "120"
    ds.EchoTrainLength = "16"
    ds.ImageOrientationPatient = [f"{float(v):.6f}" for v in orientation]
    ds.PixelSpacing = [f"{float(spacing[1]):g}", f"{float(spacing[2]):g}"]
    ds.SliceThickness = f"{float(spacing[0]):g}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.WindowCenter, ds.WindowWidth = "400", "800"
    return ds


def _file_meta(sop_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta
