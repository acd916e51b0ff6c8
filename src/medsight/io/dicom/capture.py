"""Encode an 8-bit greyscale picture as a DICOM Secondary Capture object, in memory.

For images that arrive without DICOM (a PNG chest X-ray of a public data set) and must
enter the study store as DICOM: the demo studies of ``medsight serve --demo`` and tests.
The caller gives every UID, so the same picture always makes the same object and
storing it again is idempotent; :func:`stable_uid` derives such UIDs from a name.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from medsight import __version__
from medsight.errors import UsageError

__all__ = ["CaptureDescription", "encode_capture", "stable_uid"]


def stable_uid(*names: str) -> str:
    """A UID under 2.25 derived from ``names``: the same names give the same UID.

    2.25 takes a 128-bit integer (PS3.5 B.2); here the first 128 bits of a sha256, the
    way a name-based UUID is made. (pydicom's ``generate_uid`` ignores its entropy
    sources without a prefix of its own.)
    """
    digest = hashlib.sha256("\x1f".join(["medsight", *names]).encode()).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"


@dataclass(frozen=True)
class CaptureDescription:
    """Who, what and where: the attributes of the object beside its pixels."""

    patient_id: str
    patient_name: str
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    modality: str = "OT"
    body_part: str | None = None
    view_position: str | None = None
    study_date: str = ""
    study_description: str | None = None
    series_description: str | None = None
    accession_number: str = ""
    patient_sex: str = ""
    #: Window Center and Width to store (VOI LUT module), or None for none.
    window: tuple[float, float] | None = None


def encode_capture(pixels: NDArray[np.uint8], description: CaptureDescription) -> bytes:
    """The PS3.10 bytes of a MONOCHROME2 Secondary Capture holding ``pixels``.

    Raises:
        UsageError: ``pixels`` is not a 2-D uint8 array.
    """
    if pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise UsageError("a capture is a 2-D uint8 greyscale picture")
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = UID(description.sop_instance_uid)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = f"MEDSIGHT {__version__}"[:16]
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = description.sop_instance_uid
    _patient_and_study(ds, description)
    _series(ds, description)
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.ConversionType = "WSD"
    ds.PatientOrientation = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.BitsAllocated = ds.BitsStored = 8
    if description.window is not None:
        ds.WindowCenter, ds.WindowWidth = (f"{value:g}" for value in description.window)
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    data = np.ascontiguousarray(pixels).tobytes()
    ds.PixelData = data + b"\x00" if len(data) % 2 else data
    stream = io.BytesIO()
    dcmwrite(stream, ds, enforce_file_format=True)
    return stream.getvalue()


def _patient_and_study(ds: Dataset, description: CaptureDescription) -> None:
    ds.PatientName = description.patient_name
    ds.PatientID = description.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = description.patient_sex
    ds.StudyInstanceUID = description.study_instance_uid
    ds.StudyDate = description.study_date
    ds.StudyTime = ""
    ds.StudyID = ""
    ds.AccessionNumber = description.accession_number
    ds.ReferringPhysicianName = ""
    if description.study_description:
        ds.StudyDescription = description.study_description


def _series(ds: Dataset, description: CaptureDescription) -> None:
    ds.Modality = description.modality
    ds.SeriesInstanceUID = description.series_instance_uid
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    if description.series_description:
        ds.SeriesDescription = description.series_description
    if description.body_part:
        ds.BodyPartExamined = description.body_part
    if description.view_position:
        ds.ViewPosition = description.view_position
