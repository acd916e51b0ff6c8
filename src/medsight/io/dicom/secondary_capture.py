"""Write a rendered plane as a DICOM Secondary Capture Image (PS3.3 A.8.1).

The object is filed beside its source: it carries the source's Study Instance UID and
the Patient and General Study attributes kept in ``image.study``, while it gets a new
Series and SOP Instance UID. Greyscale is stored windowed to 8-bit MONOCHROME2 (so a
viewer shows what medsight showed), colour as 8-bit RGB. Encoding is Explicit VR Little
Endian with a complete file meta group (PS3.10 7.1).

Decisions worth knowing:

* Modality is the source's, or OT when unknown (SC and SEG are no modality of an image).
* Study attributes absent from ``image.study`` are written empty, as Type 2 requires;
  with no source Study Instance UID a new one is made (the object then starts a study).
* Frame of Reference UID is copied when known, as a standard extended attribute (the SC
  IOD has no Frame of Reference module); Patient Orientation is derived from the
  geometry only then, else left empty.
* Source Image Sequence references the source instance of the rendered slice when
  ``source.sop_instance_uids`` holds one per slice, the single source instance (with
  Referenced Frame Number for a multi-frame source) when it holds one, else all of
  them; it is omitted when the source SOP Class UID is unknown (it is Type 1 there).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)
from pydicom.valuerep import DSfloat

from medsight import __version__
from medsight.imaging.image import Image
from medsight.imaging.window import display_array, plane_index, select_plane
from medsight.io._atomic import PathLike, atomic_write
from medsight.types import Modality, SOPInstanceUID

__all__ = ["COPIED_STUDY_KEYWORDS", "write_secondary_capture"]

#: Patient and General Study attributes copied from ``image.study``; all but
#: StudyDescription are Type 2, so they are written (empty) even when unknown.
COPIED_STUDY_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDescription",
)
_OPTIONAL = frozenset({"StudyDescription"})
_NOT_A_MODALITY = frozenset({Modality.SC, Modality.SEG})
_SERIES_NUMBER = 999
# LPS component -> (letter toward +, letter toward -), PS3.3 C.7.6.1.1.1.
_ORIENTATION_LETTERS = (("L", "R"), ("P", "A"), ("H", "F"))


def write_secondary_capture(
    image: Image,
    path: PathLike,
    *,
    series_description: str = "medsight derived",
    preset: str | None = None,
    index: int | None = None,
) -> SOPInstanceUID:
    """Render one plane of ``image`` and write it as a Secondary Capture object.

    Args:
        image: the source image, with its ``source`` identifiers and ``study`` context.
        path: the file to write; it appears whole or not at all.
        series_description: Series Description of the new series.
        preset: window preset for greyscale (see :mod:`medsight.imaging.window`).
        index: slice or frame to render; by default the middle slice or first frame.

    Returns:
        The new SOP Instance UID.

    Raises:
        UsageError: unknown ``preset`` or ``index`` out of range.
        OutputError: the file cannot be written.
    """
    chosen = plane_index(image, index)
    plane = select_plane(image, chosen)
    pixels = display_array(plane, preset)
    now = datetime.now()
    sop_uid = generate_uid()

    ds = Dataset()
    ds.file_meta = _file_meta(sop_uid)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    _add_patient_and_study(ds, image)
    _add_series_and_equipment(ds, image, series_description)
    ds.InstanceNumber = 1
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.ContentDate = ds.DateOfSecondaryCapture = now.strftime("%Y%m%d")
    ds.ContentTime = ds.TimeOfSecondaryCapture = now.strftime("%H%M%S")
    ds.BurnedInAnnotation = "NO"
    ds.PatientOrientation = _patient_orientation(plane) if ds.get("FrameOfReferenceUID") else ""
    if plane.geometry.spacing_known:
        _, row_mm, col_mm = plane.geometry.spacing
        ds.PixelSpacing = [DSfloat(row_mm, auto_format=True), DSfloat(col_mm, auto_format=True)]
    references = _source_references(image, chosen)
    if references:
        ds.SourceImageSequence = references
    _add_pixels(ds, pixels)

    def write(stream: BinaryIO) -> None:
        dcmwrite(stream, ds, enforce_file_format=True)

    atomic_write(path, write)
    return SOPInstanceUID(str(sop_uid))


def _file_meta(sop_uid: UID) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"MEDSIGHT {__version__}"[:16]
    return meta


def _add_patient_and_study(ds: Dataset, image: Image) -> None:
    for keyword in COPIED_STUDY_KEYWORDS:
        value = image.study.get(keyword)
        if value is not None:
            setattr(ds, keyword, value)
        elif keyword not in _OPTIONAL:
            setattr(ds, keyword, "")
    ds.StudyInstanceUID = image.source.study_uid or generate_uid()
    if image.source.frame_of_reference_uid:
        ds.FrameOfReferenceUID = image.source.frame_of_reference_uid


def _add_series_and_equipment(ds: Dataset, image: Image, description: str) -> None:
    modality = image.meta.modality
    ds.Modality = Modality.OT.value if modality in _NOT_A_MODALITY else modality.value
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = _SERIES_NUMBER
    ds.SeriesDescription = description
    if image.meta.body_part:
        ds.BodyPartExamined = image.meta.body_part
    ds.ConversionType = "WSD"  # workstation
    ds.SecondaryCaptureDeviceManufacturer = "medsight"
    ds.SecondaryCaptureDeviceSoftwareVersions = __version__


def _add_pixels(ds: Dataset, pixels: NDArray[np.uint8]) -> None:
    colour = pixels.ndim == 3
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = "RGB" if colour else "MONOCHROME2"
    if colour:
        ds.PlanarConfiguration = 0  # R, G, B interleaved per pixel
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if not colour:  # values are display values already: an identity window for viewers
        ds.WindowCenter = 128
        ds.WindowWidth = 256
    data = np.ascontiguousarray(pixels).tobytes()
    ds.PixelData = data + b"\x00" if len(data) % 2 else data


def _source_references(image: Image, chosen: int) -> list[Dataset]:
    source = image.source
    uids = source.sop_instance_uids
    if not uids or not source.sop_class_uid:
        return []
    if len(uids) == 1:
        picked: Sequence[tuple[str, int | None]] = [(uids[0], chosen + 1 if image.frames > 1 else None)]
    elif len(uids) == image.frames:
        picked = [(uids[chosen], None)]
    else:
        picked = [(uid, None) for uid in uids]
    items = []
    for uid, frame in picked:
        item = Dataset()
        item.ReferencedSOPClassUID = source.sop_class_uid
        item.ReferencedSOPInstanceUID = uid
        if frame is not None:
            item.ReferencedFrameNumber = frame
        items.append(item)
    return items


def _patient_orientation(plane: Image) -> list[str]:
    """Patient Orientation of a plane: the directions of its rows and of its columns."""
    direction = plane.geometry.direction
    return [_letters(direction[2]), _letters(direction[1])]


def _letters(vector: tuple[float, float, float]) -> str:
    components = np.asarray(vector, dtype=np.float64)
    out = []
    for axis in np.argsort(-np.abs(components), kind="stable"):
        if abs(components[axis]) > 1e-3:
            plus, minus = _ORIENTATION_LETTERS[int(axis)]
            out.append(plus if components[axis] > 0 else minus)
    return "".join(out)
