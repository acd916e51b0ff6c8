"""De-identification on pydicom data sets: the profile's decisions applied, the file written.

:class:`DatasetNode` is the :class:`medsight.privacy.engine.Node` seam over a pydicom
``Dataset``: elements are converted only when the profile touches them, so attributes the
profile keeps are written back as they were read. :func:`deidentify_member` reads one
file, applies the profile, records the method (PS3.15 E.1.1: Patient Identity Removed,
De-identification Method and its Code Sequence, CID 7050), cleans or refuses burned-in
pixels, and writes the result atomically. Nothing read from the file reaches a message.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pydicom
from pydicom import config
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError as PydicomInvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels.processing import apply_color_lut
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from medsight.errors import BurnedInTextError, InvalidDicomError
from medsight.io._atomic import atomic_write
from medsight.io.detect import FileKind, sniff
from medsight.io.dicom.parse import translating
from medsight.io.sources import Member
from medsight.privacy.burned_in import PixelFacts, burned_in_reason, clean_mask
from medsight.privacy.engine import Finding, Value, context_for, deidentify, residual
from medsight.privacy.methods import method_codes, method_names, temporal_modified
from medsight.privacy.profile import Option, Profile
from medsight.privacy.pseudonym import Pseudonymizer

__all__ = ["CheckReport", "DatasetNode", "DeidResult", "check_member", "deidentify_bytes", "deidentify_member"]

_PIXEL_DATA = 0x7FE00010
_IDENTIFYING_TAGS = (0x00080016, 0x00080018, 0x0020000D, 0x00280010)
# Secondary Capture, for an object that names no SOP Class at all (File Meta must name one).
_UNKNOWN_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"
_BINARY_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})
_META_DROPPED = (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102)


class DatasetNode:
    """A pydicom ``Dataset`` as the de-identification engine's :class:`~medsight.privacy.engine.Node`."""

    __slots__ = ("ds",)

    def __init__(self, ds: Dataset) -> None:
        """Wrap ``ds`` (changed in place)."""
        self.ds = ds

    def tags(self) -> list[int]:
        """The tags present, ascending."""
        # keys(), not iteration: iterating a Dataset converts every element.
        return sorted(int(tag) for tag in self.ds.keys())  # noqa: SIM118

    def vr(self, tag: int) -> str:
        """The element's VR; the dictionary's for implicit VR and UN of known tags."""
        vr = self.ds.get_item(tag).VR
        if vr in (None, "UN"):
            try:
                known = str(dictionary_VR(tag))
            except KeyError:
                return "UN"
            return known.split(" or ")[0] if " or " in known else known
        return str(vr)

    def get(self, tag: int) -> Value | None:
        """The value as str (backslash-joined), bytes or a number; None when empty."""
        value: Any = self.ds[tag].value
        if value is None or value == "" or value == b"":
            return None
        if isinstance(value, MultiValue | list):
            return "\\".join(str(v) for v in value)
        if isinstance(value, bytes | int | float):
            return value
        return str(value)

    def set(self, tag: int, value: Value | None) -> None:
        """Replace the value; None empties it. The old value is never converted."""
        vr = self.vr(tag)
        if value is None:
            value = b"" if vr in _BINARY_VRS else None
        elif isinstance(value, str) and "\\" in value:
            value = value.split("\\")  # type: ignore[assignment]
        self.ds[tag] = DataElement(tag, vr, value, validation_mode=config.IGNORE)

    def delete(self, tag: int) -> None:
        """Remove the element."""
        del self.ds[tag]

    def items(self, tag: int) -> list[DatasetNode]:
        """The sequence's items, wrapped."""
        value = self.ds[tag].value
        return [DatasetNode(item) for item in value] if isinstance(value, Sequence) else []

    def empty_sequence(self, tag: int) -> None:
        """Leave the sequence with no items (its old items are never parsed)."""
        self.ds[tag] = DataElement(tag, "SQ", Sequence(), validation_mode=config.IGNORE)

    def private_creator(self, tag: int) -> str | None:
        """The Private Creator of a private data element's block."""
        creator = self.ds.get((tag & 0xFFFF0000) | ((tag & 0xFF00) >> 8))
        return None if creator is None else str(creator.value)


@dataclass(frozen=True, slots=True)
class DeidResult:
    """What happened to one file.

    Attributes:
        output: where it was written.
        burned_in: why its pixels were flagged, None when they were not.
        cleaned: its pixels were masked (Clean Pixel Data).
        size: bytes read.
    """

    output: Path
    burned_in: str | None
    cleaned: bool
    size: int


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What remains in one file that the profile says must not."""

    findings: tuple[Finding, ...]
    burned_in: str | None


def read_dataset(member: Member) -> pydicom.FileDataset:
    """Parse a whole file with pydicom (typed errors, no values in messages).

    A data set without preamble and File Meta (ACR-NEMA style) is read when its first
    bytes look like one and it holds identifying attributes, as the reader does.

    Raises:
        InvalidDicomError: not a DICOM file, or one that does not parse.
    """
    with translating(member.label, "parsing"), member.open() as stream:
        try:
            return pydicom.dcmread(stream, force=False)
        except PydicomInvalidDicomError:
            stream.seek(0)
            if sniff(stream, member.label) is not FileKind.DICOM:
                raise
            ds = pydicom.dcmread(stream, force=True)
    if not any(tag in ds for tag in _IDENTIFYING_TAGS):
        raise InvalidDicomError(f"{member.label}: not a DICOM file")
    return ds


def pixel_facts(ds: Dataset) -> PixelFacts:
    """The header facts that decide whether an image may carry burned-in text."""
    regions: list[tuple[int, int, int, int]] = []
    for item in ds.get("SequenceOfUltrasoundRegions", None) or []:
        try:
            x0, y0 = int(item.RegionLocationMinX0), int(item.RegionLocationMinY0)
            regions.append((x0, y0, int(item.RegionLocationMaxX1), int(item.RegionLocationMaxY1)))
        except (AttributeError, TypeError, ValueError):
            continue
    burned = ds.get("BurnedInAnnotation", None)
    return PixelFacts(
        modality=str(ds.get("Modality", "") or ""),
        sop_class=str(ds.get("SOPClassUID", "") or ""),
        burned_in=None if burned in (None, "") else str(burned),
        regions=tuple(regions),
        has_pixels=_PIXEL_DATA in ds,
    )


def deidentify_member(
    member: Member, output: Path, profile: Profile, pseudonyms: Pseudonymizer, *, fsync: bool = True
) -> DeidResult:
    """De-identify one file into ``output``, written atomically (flushed to disk unless ``fsync`` is off).

    Raises:
        BurnedInTextError: the image is flagged and Clean Pixel Data is off, or its pixels
            could not be decoded and masked. Nothing is written then.
        InvalidDicomError: the file does not parse.
    """
    ds, reason = _deidentified(read_dataset(member), member.label, profile, pseudonyms)
    atomic_write(output, lambda stream: _write(ds, stream, member.label), fsync=fsync)
    return DeidResult(output, reason, reason is not None, member.size)


def deidentify_bytes(data: bytes, label: str, profile: Profile, pseudonyms: Pseudonymizer) -> bytes:
    """One de-identified object from the bytes of another (for exports from the store).

    Raises:
        BurnedInTextError: as :func:`deidentify_member`.
        InvalidDicomError: the bytes do not parse.
    """
    with translating(label, "parsing"):
        parsed = pydicom.dcmread(io.BytesIO(data), force=False)
    ds, _ = _deidentified(parsed, label, profile, pseudonyms)
    out = io.BytesIO()
    _write(ds, out, label)
    return out.getvalue()


def _deidentified(
    ds: pydicom.FileDataset, label: str, profile: Profile, pseudonyms: Pseudonymizer
) -> tuple[pydicom.FileDataset, str | None]:
    facts = pixel_facts(ds)
    reason = burned_in_reason(facts)
    if reason is not None and Option.CLEAN_PIXEL_DATA not in profile.options:
        raise BurnedInTextError(f"{label}: may carry burned-in text ({reason}); use --option clean-pixel-data")
    node = DatasetNode(ds)
    with translating(label, "de-identifying"):
        deidentify(node, profile, context_for(node, pseudonyms))
        _fix_meta(ds, profile, pseudonyms)
        _record_method(ds, profile, cleaned=reason is not None)
    if reason is not None:
        _clean_pixels(ds, facts, label)
    return ds, reason


def _fix_meta(ds: pydicom.FileDataset, profile: Profile, pseudonyms: Pseudonymizer) -> None:
    ds.preamble = b"\x00" * 128
    meta = getattr(ds, "file_meta", None) or FileMetaDataset()
    for tag in _META_DROPPED:
        if tag in meta:
            del meta[tag]
    sop = ds.get("SOPInstanceUID", None)
    if sop:
        meta.MediaStorageSOPInstanceUID = str(sop)
    elif "MediaStorageSOPInstanceUID" in meta and Option.RETAIN_UIDS not in profile.options:
        meta.MediaStorageSOPInstanceUID = pseudonyms.uid(str(meta.MediaStorageSOPInstanceUID))
    ds.file_meta = meta


def _record_method(ds: Dataset, profile: Profile, *, cleaned: bool) -> None:
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = method_names(profile.options)
    items = []
    for value, meaning in method_codes(profile.options, cleaned_pixels=cleaned):
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    ds.LongitudinalTemporalInformationModified = temporal_modified(profile.options)


def _clean_pixels(ds: pydicom.FileDataset, facts: PixelFacts, label: str) -> None:
    try:
        _mask_pixels(ds, facts)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    # Decoders raise anything (Rust panics derive from BaseException): an image that
    # cannot be decoded and masked is refused, never written as it was.
    except BaseException as exc:
        raise BurnedInTextError(
            f"{label}: pixel data could not be cleaned ({type(exc).__name__}); not exported"
        ) from exc


def _mask_pixels(ds: pydicom.FileDataset, facts: PixelFacts) -> None:
    array = np.array(ds.pixel_array)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    stacked = array if frames > 1 else array[np.newaxis]
    shown, white = stacked, float(2 ** int(ds.get("BitsStored", 8)) - 1)
    if str(ds.PhotometricInterpretation) == "PALETTE COLOR":
        shown = apply_color_lut(stacked, ds)
        white = float(np.iinfo(shown.dtype).max) if shown.dtype.kind == "u" else float(shown.max())
    mask = clean_mask(shown, facts, white)
    stacked[:, mask] = 0
    ds.PixelData = stacked.tobytes()
    if str(ds.PhotometricInterpretation).startswith("YBR"):
        ds.PhotometricInterpretation = "RGB"
    if int(ds.get("SamplesPerPixel", 1)) > 1:
        ds.PlanarConfiguration = 0
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds["PixelData"].VR = "OB" if int(ds.BitsAllocated) <= 8 else "OW"
    ds["PixelData"].is_undefined_length = False
    ds.BurnedInAnnotation = "NO"


def _write(ds: pydicom.FileDataset, stream: BinaryIO, label: str) -> None:
    buffer = io.BytesIO()
    with translating(label, "writing"):
        _complete_meta(ds)
        # dcmwrite, not save_as: it writes big-endian data sets as read (save_as refuses).
        try:
            pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
        except (TypeError, ValueError):
            # Elements read in an encoding other than the transfer syntax's (an implicit
            # VR data set labelled explicit) are written once converted, VRs from the dictionary.
            for _ in ds.iterall():
                pass
            buffer = io.BytesIO()
            pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    stream.write(buffer.getbuffer())


def _complete_meta(ds: pydicom.FileDataset) -> None:
    """File Meta that PS3.10 requires, from the data set (files read without it, or with gaps)."""
    meta = ds.file_meta
    if "TransferSyntaxUID" not in meta:
        implicit, little = ds.original_encoding if ds.original_encoding[0] is not None else (False, True)
        meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    if not meta.get("MediaStorageSOPClassUID"):
        meta.MediaStorageSOPClassUID = UID(str(ds.get("SOPClassUID", "") or _UNKNOWN_SOP_CLASS))
    if not meta.get("MediaStorageSOPInstanceUID"):
        meta.MediaStorageSOPInstanceUID = UID(str(ds.get("SOPInstanceUID", "") or generate_uid()))


def check_member(member: Member, profile: Profile) -> CheckReport:
    """What in one file the profile says must not remain, and whether its pixels are flagged."""
    ds = read_dataset(member)
    with translating(member.label, "checking"):
        findings = tuple(residual(DatasetNode(ds), profile))
    return CheckReport(findings, burned_in_reason(pixel_facts(ds)))
