"""Encode a greyscale volume as a DICOM MR Image series (one object a slice), in memory.

For volumes that arrive without DICOM (the LGG TIFF slices of a public data set) and
must enter the study store as an MR series: the brain MRI study of ``medsight serve
--demo``. Each object holds the Patient, General Study, General Series, Frame of
Reference, General Equipment, General Image, Image Plane, Image Pixel and MR Image
modules (PS3.3 A.4), with the MR Image module's Type 1 and 2 attributes; pixels are
16-bit (MR Image module: Bits Allocated 16). The caller gives the study and series UIDs;
instance and frame-of-reference UIDs derive from the series UID, so the same volume
always makes the same objects (:func:`~medsight.io.dicom.capture.stable_uid`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, MRImageStorage

from medsight import __version__
from medsight.errors import UsageError
from medsight.imaging import Geometry
from medsight.io.dicom.capture import stable_uid

__all__ = ["MrSeriesDescription", "encode_mr_series"]


@dataclass(frozen=True)
class MrSeriesDescription:
    """Who and what: the attributes of the series beside its pixels and geometry."""

    patient_id: str
    patient_name: str
    study_instance_uid: str
    series_instance_uid: str
    series_description: str
    body_part: str = "BRAIN"
    study_date: str = ""
    study_description: str | None = None
    accession_number: str = ""
    patient_sex: str = ""


def encode_mr_series(pixels: NDArray[np.uint16], geometry: Geometry, description: MrSeriesDescription) -> list[bytes]:
    """The PS3.10 bytes of one MR Image object per slice of ``pixels`` ``(z, y, x)``, in slice order.

    Raises:
        UsageError: ``pixels`` is not a 3-D uint16 array.
    """
    if pixels.ndim != 3 or pixels.dtype != np.uint16:
        raise UsageError("an MR series is a 3-D uint16 volume (slice, row, column)")
    base = _series_dataset(pixels, geometry, description)
    objects = []
    for k in range(pixels.shape[0]):
        ds = Dataset()
        ds.update(base)
        uid = stable_uid("mr-instance", description.series_instance_uid, str(k))
        ds.file_meta = _file_meta(uid)
        ds.SOPInstanceUID = uid
        ds.InstanceNumber = k + 1
        position = geometry.index_to_patient((k, 0, 0))
        ds.ImagePositionPatient = [f"{float(v):.4f}" for v in position]
        ds.SliceLocation = f"{float(np.dot(position, geometry.slice_normal)):.4f}"
        ds.PixelData = np.ascontiguousarray(pixels[k]).astype("<u2").tobytes()
        stream = io.BytesIO()
        dcmwrite(stream, ds, enforce_file_format=True)
        objects.append(stream.getvalue())
    return objects


def _file_meta(sop_instance_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"MEDSIGHT {__version__}"[:16]
    return meta


def _series_dataset(pixels: NDArray[np.uint16], geometry: Geometry, description: MrSeriesDescription) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = MRImageStorage
    ds.ImageType = ["DERIVED", "SECONDARY", "OTHER"]
    ds.PatientName = description.patient_name
    ds.PatientID = description.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = description.patient_sex
    ds.StudyInstanceUID = description.study_instance_uid
    ds.StudyDate = ds.SeriesDate = description.study_date
    ds.StudyTime = ""
    ds.StudyID = ""
    ds.AccessionNumber = description.accession_number
    ds.ReferringPhysicianName = ""
    if description.study_description:
        ds.StudyDescription = description.study_description
    ds.Modality = "MR"
    ds.SeriesInstanceUID = description.series_instance_uid
    ds.SeriesNumber = 1
    ds.SeriesDescription = description.series_description
    ds.BodyPartExamined = description.body_part
    ds.PatientPosition = "HFS"
    ds.FrameOfReferenceUID = stable_uid("mr-frame-of-reference", description.series_instance_uid)
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "medsight"
    # MR Image module (PS3.3 C.8.3.1): Type 1 and 2; the acquisition is not known here.
    ds.ScanningSequence = "RM"
    ds.SequenceVariant = "NONE"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.RepetitionTime = ""
    ds.EchoTime = ""
    ds.EchoTrainLength = ""
    ds.ImageOrientationPatient = [f"{float(v):.6f}" for v in (*geometry.direction[2], *geometry.direction[1])]
    ds.PixelSpacing = [f"{float(geometry.spacing[1]):g}", f"{float(geometry.spacing[2]):g}"]
    ds.SliceThickness = f"{float(geometry.spacing[0]):g}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(pixels.shape[1]), int(pixels.shape[2])
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 0
    return ds
