"""Parsing DICOM with pydicom, and the one place pydicom's errors become medsight's.

pydicom raises a wide zoo on broken input (EOFError, struct.error, ValueError,
KeyError, NotImplementedError, ...). Everything it raises while parsing or decoding
is translated here into :class:`~medsight.errors.InvalidDicomError` or a subclass.
Messages name the file and the failing step, never a value read from the file:
pydicom's own messages can quote attribute values, which may be patient data.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset, FileDataset
from pydicom.errors import InvalidDicomError as PydicomInvalidDicomError

from medsight.errors import InvalidDicomError, MedsightError, MissingPixelDataError
from medsight.io.sources import Member

__all__ = ["PIXEL_DATA_TAGS", "STUDY_CONTEXT_KEYWORDS", "ParsedFile", "parse_member", "translating"]

#: Pixel Data, Float Pixel Data, Double Float Pixel Data.
PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)

# Attributes one of which any image-bearing or composite object has; a "DICOM" file
# parsed by force that holds none of them is random bytes that happened to parse.
_IDENTIFYING_TAGS = (0x00080016, 0x00080018, 0x0020000D, 0x00280010)
_MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage (PS3.10)
_PIXEL_VRS = (b"OB", b"OW", b"OF", b"OD", b"OV", b"UN")

# The attributes medsight reads from a header. Parsing only these (pydicom's
# specific_tags) skips converting the rest, private tags above all: on a typical
# scanner file that halves the cost of a header.
#: Patient and General Study module attributes that a derived object must repeat.
STUDY_CONTEXT_KEYWORDS = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDescription",
)
_HEADER_KEYWORDS = (
    *STUDY_CONTEXT_KEYWORDS,
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "SeriesInstanceUID",
    "FrameOfReferenceUID",
    "Modality",
    "SeriesNumber",
    "InstanceNumber",
    "BodyPartExamined",
    "ViewPosition",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "SliceThickness",
    "SpacingBetweenSlices",
    "GridFrameOffsetVector",
    "SequenceOfUltrasoundRegions",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "ModalityLUTSequence",
    "WindowCenter",
    "WindowWidth",
    "VOILUTSequence",
    "FrameTime",
    "FrameTimeVector",
    "CineRate",
    "RecommendedDisplayFrameRate",
    "RedPaletteColorLookupTableDescriptor",
    "GreenPaletteColorLookupTableDescriptor",
    "BluePaletteColorLookupTableDescriptor",
    "RedPaletteColorLookupTableData",
    "GreenPaletteColorLookupTableData",
    "BluePaletteColorLookupTableData",
    "SegmentedRedPaletteColorLookupTableData",
    "SegmentedGreenPaletteColorLookupTableData",
    "SegmentedBluePaletteColorLookupTableData",
    "PaletteColorLookupTableUID",
)
_HEADER_TAGS: list[int] = [tag for k in _HEADER_KEYWORDS if (tag := pydicom.datadict.tag_for_keyword(k)) is not None]


class ParsedFile:
    """A dataset parsed without its pixel data, and where the pixel data lies.

    Attributes:
        dataset: every attribute before Pixel Data.
        pixel_offset: byte offset of the Pixel Data element's value, or None when the
            element is absent or encapsulated (compressed, of undefined length).
        pixel_length: declared length of that value in bytes (None if unknown).
        encapsulated: True when Pixel Data is present in encapsulated (compressed) form.
        has_pixels: True when a Pixel Data element follows the header.
        truncated: True when the declared pixel data runs past the end of the file.
    """

    __slots__ = ("dataset", "encapsulated", "has_pixels", "pixel_length", "pixel_offset", "truncated")

    def __init__(
        self,
        dataset: Dataset,
        *,
        has_pixels: bool,
        pixel_offset: int | None,
        pixel_length: int | None,
        encapsulated: bool,
        truncated: bool,
    ) -> None:
        self.dataset = dataset
        self.has_pixels = has_pixels
        self.pixel_offset = pixel_offset
        self.pixel_length = pixel_length
        self.encapsulated = encapsulated
        self.truncated = truncated


@contextmanager
def translating(label: str, step: str, error: type[InvalidDicomError] = InvalidDicomError) -> Iterator[None]:
    """Re-raise anything but a :class:`MedsightError` as ``error`` (an InvalidDicomError).

    Args:
        label: the file, as the user named it.
        step: what was being done ("parsing", "decoding pixel data").
        error: the class to raise.
    """
    try:
        yield
    except (MedsightError, KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except MemoryError as exc:
        raise error(f"{label}: out of memory while {step}") from exc
    # pydicom's error surface is open-ended (see the module doc), and decoders written in
    # Rust raise pyo3's PanicException, which derives from BaseException, on corrupt data.
    except BaseException as exc:
        raise error(f"{label}: {step} failed ({type(exc).__name__})") from exc


def parse_member(member: Member) -> ParsedFile:
    """Parse a member's header (everything before Pixel Data) and locate its pixels.

    Raises:
        InvalidDicomError: the bytes are not a DICOM dataset.
    """
    with member.open() as stream, translating(member.label, "parsing"):
        dataset = _read_header(stream, member.label)
        offset_of_element = stream.tell()
        return _locate_pixels(stream, dataset, offset_of_element, member.size)


def _read_header(stream: BinaryIO, label: str) -> FileDataset:
    try:
        dataset = pydicom.dcmread(stream, stop_before_pixels=True, specific_tags=_HEADER_TAGS)
    except PydicomInvalidDicomError:
        # No preamble/"DICM": old ACR-NEMA style files are still DICOM.
        stream.seek(0)
        dataset = pydicom.dcmread(stream, stop_before_pixels=True, force=True, specific_tags=_HEADER_TAGS)
    meta = getattr(dataset, "file_meta", None)
    if meta is not None and meta.get("MediaStorageSOPClassUID") == _MEDIA_DIRECTORY:
        raise MissingPixelDataError(f"{label}: a media directory (DICOMDIR), not an image")
    # Random bytes can parse as a dataset; a real one holds identifying attributes.
    if not any(tag in dataset for tag in _IDENTIFYING_TAGS):
        raise InvalidDicomError(f"{label}: not a DICOM file")
    return dataset


def _locate_pixels(stream: BinaryIO, dataset: FileDataset, at: int, file_size: int) -> ParsedFile:
    """Read the Pixel Data element header found at ``at`` (where pydicom stopped)."""
    stream.seek(at)
    head = stream.read(12)
    _implicit, little = getattr(dataset, "original_encoding", (None, None))
    endian = "<" if little is not False else ">"
    absent = ParsedFile(
        dataset, has_pixels=False, pixel_offset=None, pixel_length=None, encapsulated=False, truncated=False
    )
    if len(head) < 8:
        return absent
    group, element = struct.unpack(endian + "HH", head[:4])
    if (group << 16) | element not in PIXEL_DATA_TAGS:
        return absent
    # Trust the bytes over the header: some writers switch VR encoding mid-file, and
    # an explicit-VR element always names one of these VRs right after its tag.
    if head[4:6] in _PIXEL_VRS and len(head) == 12:
        (length,) = struct.unpack(endian + "L", head[8:12])
        value_at = at + 12
    else:
        (length,) = struct.unpack(endian + "L", head[4:8])
        value_at = at + 8
    if length == 0xFFFFFFFF:
        return ParsedFile(
            dataset, has_pixels=True, pixel_offset=None, pixel_length=None, encapsulated=True, truncated=False
        )
    return ParsedFile(
        dataset,
        has_pixels=True,
        pixel_offset=value_at,
        pixel_length=length,
        encapsulated=False,
        truncated=value_at + length > file_size,
    )
