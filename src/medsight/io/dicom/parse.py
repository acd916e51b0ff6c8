"""Parsing DICOM with pydicom, and the one place pydicom's errors become medsight's.

pydicom raises a wide zoo on broken input (EOFError, struct.error, ValueError,
KeyError, NotImplementedError, ...). Everything it raises while parsing or decoding
is translated here into :class:`~medsight.errors.InvalidDicomError` or a subclass.
Messages name the file and the failing step, never a value read from the file:
pydicom's own messages can quote attribute values, which may be patient data.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset, FileDataset
from pydicom.errors import InvalidDicomError as PydicomInvalidDicomError

from medsight.errors import InvalidDicomError, MedsightError, MissingPixelDataError
from medsight.io.dicom.tags import MEDIA_STORAGE_SOP_CLASS_UID
from medsight.io.dicom.values import DatasetValues, HeaderValues, RawValues
from medsight.io.dicom.walk import UnwalkableError, Walked, walk_stream
from medsight.io.sources import Member

__all__ = [
    "PIXEL_DATA_TAGS",
    "STUDY_CONTEXT_KEYWORDS",
    "STUDY_CONTEXT_TAGS",
    "ParsedFile",
    "parse_member",
    "translating",
]

#: Pixel Data, Float Pixel Data, Double Float Pixel Data.
PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)

# Attributes one of which any image-bearing or composite object has; a "DICOM" file
# parsed by force that holds none of them is random bytes that happened to parse.
_IDENTIFYING_TAGS = (0x00080016, 0x00080018, 0x0020000D, 0x00280010)
_MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage (PS3.10)
_IMPLICIT_LE, _EXPLICIT_LE, _EXPLICIT_BE = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"
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
#: The study context attributes by tag.
STUDY_CONTEXT_TAGS: dict[str, int] = {
    k: tag for k in STUDY_CONTEXT_KEYWORDS if (tag := pydicom.datadict.tag_for_keyword(k))
}
_HEADER_TAGS: list[int] = [tag for k in _HEADER_KEYWORDS if (tag := pydicom.datadict.tag_for_keyword(k)) is not None]


class ParsedFile:
    """A header parsed without its pixel data, and where the pixel data lies.

    Attributes:
        values: the header's attributes, by tag.
        transfer_syntax: the Transfer Syntax UID the pixels are encoded in.
        pixel_offset: byte offset of the Pixel Data value (native or encapsulated), or
            None when the element is absent.
        pixel_length: declared length of that value in bytes (None: undefined, encapsulated).
        pixel_vr: the VR the Pixel Data element names (None: implicit VR).
        encapsulated: True when Pixel Data is present in encapsulated (compressed) form.
        has_pixels: True when a Pixel Data element follows the header.
        truncated: True when the declared pixel data runs past the end of the file.
    """

    __slots__ = (
        "_dataset",
        "_reparse",
        "encapsulated",
        "has_pixels",
        "pixel_length",
        "pixel_offset",
        "pixel_vr",
        "transfer_syntax",
        "truncated",
        "values",
    )

    def __init__(
        self,
        values: HeaderValues,
        transfer_syntax: str,
        *,
        pixel_offset: int | None,
        pixel_length: int | None,
        file_size: int,
        pixel_vr: str | None = None,
        dataset: Dataset | None = None,
        reparse: Callable[[], Dataset] | None = None,
    ) -> None:
        self.values = values
        self.transfer_syntax = transfer_syntax
        self.has_pixels = pixel_offset is not None
        self.pixel_offset = pixel_offset
        self.pixel_length = pixel_length
        self.pixel_vr = pixel_vr
        self.encapsulated = self.has_pixels and pixel_length is None
        self.truncated = pixel_offset is not None and pixel_offset + (pixel_length or 0) > file_size
        self._dataset = dataset
        self._reparse = reparse

    @property
    def dataset(self) -> Dataset:
        """The header as a pydicom data set, parsed on first use when the walker read the file.

        Only the rarer paths need it (lookup-table sequences, segmented palettes).
        """
        if self._dataset is None:
            assert self._reparse is not None
            self._dataset = self._reparse()
        return self._dataset


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


def parse_member(member: Member, *, walk: bool = True) -> ParsedFile:
    """Parse a member's header (everything before Pixel Data) and locate its pixels.

    Args:
        member: the file.
        walk: walk well-formed files in the common encodings (:mod:`medsight.io.dicom.walk`)
            and parse only the others with pydicom; False parses every file with pydicom
            (tests compare the two).

    Raises:
        InvalidDicomError: the bytes are not a DICOM dataset.
        MissingPixelDataError: the file is a media directory.
    """
    with member.open() as stream, translating(member.label, "parsing"):
        if walk:
            try:
                return _from_walk(walk_stream(stream, member.size), member)
            except UnwalkableError:
                stream.seek(0)
        dataset = _read_header(stream, member.label)
        return _locate_pixels(stream, dataset, stream.tell(), member.size)


def _from_walk(walked: Walked, member: Member) -> ParsedFile:
    if RawValues(walked.meta).text(MEDIA_STORAGE_SOP_CLASS_UID) == _MEDIA_DIRECTORY:
        raise MissingPixelDataError(f"{member.label}: a media directory (DICOMDIR), not an image")

    def reparse() -> Dataset:
        with member.open() as stream, translating(member.label, "parsing"):
            return _read_header(stream, member.label)

    return ParsedFile(
        RawValues(walked.dataset),
        walked.transfer_syntax,
        pixel_offset=walked.pixel_offset,
        pixel_length=walked.pixel_length,
        pixel_vr=walked.pixel_vr,
        file_size=member.size,
        reparse=reparse,
    )


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
    # Random bytes can parse as a dataset; a real one has File Meta naming its SOP Class
    # (PS3.10 7.1), or, without meta (ACR-NEMA style), identifying attributes.
    has_meta = meta is not None and meta.get("MediaStorageSOPClassUID") is not None
    if not has_meta and not any(tag in dataset for tag in _IDENTIFYING_TAGS):
        raise InvalidDicomError(f"{label}: not a DICOM file")
    return dataset


def _syntax_of(dataset: FileDataset) -> str:
    meta = getattr(dataset, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if syntax:
        return syntax
    implicit, little = getattr(dataset, "original_encoding", (True, True))
    return _IMPLICIT_LE if implicit else (_EXPLICIT_LE if little else _EXPLICIT_BE)


def _locate_pixels(stream: BinaryIO, dataset: FileDataset, at: int, file_size: int) -> ParsedFile:
    """Read the Pixel Data element header found at ``at`` (where pydicom stopped)."""
    stream.seek(at)
    head = stream.read(12)
    _implicit, little = getattr(dataset, "original_encoding", (None, None))
    endian = "<" if little is not False else ">"
    values, syntax = DatasetValues(dataset), _syntax_of(dataset)
    absent = ParsedFile(values, syntax, pixel_offset=None, pixel_length=None, file_size=file_size, dataset=dataset)
    if len(head) < 8:
        return absent
    group, element = struct.unpack(endian + "HH", head[:4])
    if (group << 16) | element not in PIXEL_DATA_TAGS:
        return absent
    # Trust the bytes over the header: some writers switch VR encoding mid-file, and
    # an explicit-VR element always names one of these VRs right after its tag.
    vr: str | None = None
    if head[4:6] in _PIXEL_VRS and len(head) == 12:
        (length,) = struct.unpack(endian + "L", head[8:12])
        value_at, vr = at + 12, head[4:6].decode("latin-1")
    else:
        (length,) = struct.unpack(endian + "L", head[4:8])
        value_at = at + 8
    return ParsedFile(
        values,
        syntax,
        pixel_offset=value_at,
        pixel_length=None if length == 0xFFFFFFFF else length,
        file_size=file_size,
        pixel_vr=vr,
        dataset=dataset,
    )
