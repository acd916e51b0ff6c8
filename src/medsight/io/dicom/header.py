"""What one DICOM instance says about its pixels, read from the header alone.

:class:`InstanceHeader` gathers, once, everything series assembly and pixel decoding
need (size, encoding, geometry, rescale, frame timing), so that a folder can be
planned from headers before a single pixel is decoded or a byte of memory reserved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from medsight.errors import MissingPixelDataError, PixelDecodeError, ResourceLimitError
from medsight.io.dicom.parse import ParsedFile
from medsight.io.sources import Member
from medsight.settings import ReadLimits
from medsight.types import Modality

__all__ = ["InstanceHeader", "read_header"]

# Transfer syntaxes whose pixels are stored raw: the fast path reads them with numpy.
_NATIVE_SYNTAXES = {
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian (retired)
}


@dataclass(frozen=True, eq=False)
class InstanceHeader:
    """Header facts of one DICOM instance (no pixel values, no patient data in repr)."""

    member: Member = field(repr=False)
    parsed: ParsedFile = field(repr=False)
    sop_instance_uid: str = field(repr=False)
    series_uid: str = field(repr=False)
    study_uid: str = field(repr=False)
    frame_of_reference_uid: str | None = field(repr=False)
    sop_class_uid: str | None
    transfer_syntax: str
    modality: Modality
    series_number: int | None
    instance_number: int | None
    rows: int
    columns: int
    frames: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str
    planar_configuration: int
    pixel_spacing: tuple[float, float] | None
    orientation: tuple[float, ...] | None
    position: tuple[float, float, float] | None
    frame_positions: tuple[tuple[float, float, float], ...] | None
    slice_thickness: float | None
    rescale: tuple[tuple[float, float], ...]  # (slope, intercept) per frame, or one for all
    frame_times_ms: tuple[float, ...]

    @property
    def dataset(self) -> Dataset:
        """The parsed header (everything before Pixel Data)."""
        return self.parsed.dataset

    @property
    def is_native(self) -> bool:
        """True when pixels are stored uncompressed in a syntax numpy can read directly."""
        return self.transfer_syntax in _NATIVE_SYNTAXES and not self.parsed.encapsulated

    @property
    def is_big_endian(self) -> bool:
        return self.transfer_syntax == "1.2.840.10008.1.2.2"

    @property
    def output_samples(self) -> int:
        """Samples per pixel after decoding (palette colour becomes RGB)."""
        return 3 if self.photometric == "PALETTE COLOR" else self.samples

    @property
    def decoded_nbytes(self) -> int:
        """Bytes the decoded float32 pixels will take."""
        return self.rows * self.columns * self.frames * self.output_samples * 4

    @property
    def expected_native_bytes(self) -> int:
        """Bytes the raw pixel data must hold in a native transfer syntax."""
        per_frame = self.rows * self.columns * self.samples
        if self.photometric in ("YBR_FULL_422", "YBR_PARTIAL_422"):
            per_frame = per_frame * 2 // 3  # chroma halved horizontally (PS3.3 C.7.6.3.1.2)
        return (per_frame * self.frames * self.bits_allocated + 7) // 8


def read_header(member: Member, parsed: ParsedFile, limits: ReadLimits) -> InstanceHeader:
    """Collect the header facts of an instance and check that its pixels can be decoded.

    Raises:
        MissingPixelDataError: the object holds no image.
        PixelDecodeError: the header describes pixels that cannot exist.
        ResourceLimitError: decoding would need more memory than ``limits`` allow.
    """
    ds = parsed.dataset
    label = member.label
    if not parsed.has_pixels:
        raise MissingPixelDataError(f"{label}: no pixel data (not an image object)")
    rows, columns = _int(ds, "Rows"), _int(ds, "Columns")
    bits_allocated = _int(ds, "BitsAllocated")
    if rows is None or columns is None or rows <= 0 or columns <= 0:
        raise PixelDecodeError(f"{label}: Rows and Columns must be positive")
    if bits_allocated not in (1, 8, 16, 32, 64):
        raise PixelDecodeError(f"{label}: unsupported Bits Allocated {bits_allocated}")
    samples = _int(ds, "SamplesPerPixel") or 1
    if samples not in (1, 3):
        raise PixelDecodeError(f"{label}: unsupported Samples per Pixel {samples}")
    frames = _int(ds, "NumberOfFrames") or 1
    if frames <= 0:
        raise PixelDecodeError(f"{label}: Number of Frames must be positive")
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not syntax:
        implicit, little = getattr(ds, "original_encoding", (True, True))
        syntax = "1.2.840.10008.1.2" if implicit else ("1.2.840.10008.1.2.1" if little else "1.2.840.10008.1.2.2")
    header = InstanceHeader(
        member=member,
        parsed=parsed,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        study_uid=str(ds.get("StudyInstanceUID", "")),
        frame_of_reference_uid=_str(ds, "FrameOfReferenceUID"),
        sop_class_uid=_str(ds, "SOPClassUID"),
        transfer_syntax=str(UID(syntax)),
        modality=Modality.parse(_str(ds, "Modality")),
        series_number=_int(ds, "SeriesNumber"),
        instance_number=_int(ds, "InstanceNumber"),
        rows=rows,
        columns=columns,
        frames=frames,
        samples=samples,
        bits_allocated=bits_allocated,
        bits_stored=_int(ds, "BitsStored") or bits_allocated,
        signed=(_int(ds, "PixelRepresentation") or 0) == 1,
        photometric=(_str(ds, "PhotometricInterpretation") or ("RGB" if samples == 3 else "MONOCHROME2")).upper(),
        planar_configuration=_int(ds, "PlanarConfiguration") or 0,
        pixel_spacing=_pixel_spacing(ds),
        orientation=_floats(_first(ds, "ImageOrientationPatient", "PlaneOrientationSequence"), 6),
        position=_vec3(_floats(ds.get("ImagePositionPatient"), 3)),
        frame_positions=_frame_positions(ds, frames),
        slice_thickness=_float(_first(ds, "SliceThickness", "PixelMeasuresSequence")),
        rescale=_rescale(ds, frames),
        frame_times_ms=_frame_times(ds, frames),
    )
    if header.decoded_nbytes > limits.max_pixel_bytes:
        raise ResourceLimitError(
            f"{label}: decoding needs {header.decoded_nbytes} bytes, more than the limit of {limits.max_pixel_bytes}"
        )
    if parsed.truncated or (header.is_native and (parsed.pixel_length or 0) < header.expected_native_bytes):
        raise PixelDecodeError(f"{label}: pixel data is shorter than Rows x Columns x Frames requires (truncated?)")
    return header


# --- attribute helpers: tolerant of missing, empty and malformed values -------------


def _str(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    return str(value).strip() or None


def _int(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    if value is None or isinstance(value, str | bytes):
        return None
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if len(numbers) != count or not all(np.isfinite(numbers)):
        return None
    return numbers


def _vec3(values: tuple[float, ...] | None) -> tuple[float, float, float] | None:
    return None if values is None else (values[0], values[1], values[2])


def _shared_group(ds: Dataset, sequence: str, keyword: str) -> Any:
    """An attribute from the Shared Functional Groups of an enhanced multi-frame object."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    if not shared:
        return None
    item = shared[0].get(sequence)
    return item[0].get(keyword) if item else None


def _first(ds: Dataset, keyword: str, functional_group: str) -> Any:
    """``keyword`` from the top level, else from the shared functional group that holds it."""
    value = ds.get(keyword)
    return value if value not in (None, "") else _shared_group(ds, functional_group, keyword)


def _pixel_spacing(ds: Dataset) -> tuple[float, float] | None:
    for value in (
        ds.get("PixelSpacing"),
        _shared_group(ds, "PixelMeasuresSequence", "PixelSpacing"),
        ds.get("ImagerPixelSpacing"),  # projection radiographs: spacing at the detector
        _us_region_spacing(ds),
    ):
        numbers = _floats(value, 2)
        if numbers is not None and all(n > 0 for n in numbers):
            return numbers[0], numbers[1]
    return None


def _us_region_spacing(ds: Dataset) -> tuple[float, float] | None:
    """Pixel spacing from the first Ultrasound Region whose physical units are cm (PS3.3 C.8.5.5)."""
    for region in ds.get("SequenceOfUltrasoundRegions") or ():
        if region.get("PhysicalUnitsXDirection") == 3 and region.get("PhysicalUnitsYDirection") == 3:
            dx, dy = _float(region.get("PhysicalDeltaX")), _float(region.get("PhysicalDeltaY"))
            if dx and dy:
                return abs(dy) * 10.0, abs(dx) * 10.0
    return None


def _frame_positions(ds: Dataset, frames: int) -> tuple[tuple[float, float, float], ...] | None:
    offsets = ds.get("GridFrameOffsetVector")  # RT Dose: frames as planes along the normal
    position = _floats(ds.get("ImagePositionPatient"), 3)
    orientation = _floats(ds.get("ImageOrientationPatient"), 6)
    if offsets is not None and position is not None and orientation is not None and frames > 1:
        steps = _floats(offsets, frames)
        if steps is not None:
            normal = np.cross(orientation[:3], orientation[3:])
            return tuple(_vec3(tuple(np.asarray(position) + s * normal)) or (0.0, 0.0, 0.0) for s in steps)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if not per_frame or len(per_frame) != frames:
        return None
    positions = []
    for item in per_frame:
        plane = item.get("PlanePositionSequence")
        numbers = _vec3(_floats(plane[0].get("ImagePositionPatient"), 3)) if plane else None
        if numbers is None:
            return None
        positions.append(numbers)
    return tuple(positions)


def _rescale(ds: Dataset, frames: int) -> tuple[tuple[float, float], ...]:
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and len(per_frame) == frames and "RescaleSlope" not in ds:
        pairs = []
        for item in per_frame:
            transform = item.get("PixelValueTransformationSequence")
            pairs.append(_slope_intercept(transform[0] if transform else None, ds))
        if len(set(pairs)) > 1:
            return tuple(pairs)
        return (pairs[0],)
    return (_slope_intercept(None, ds),)


def _slope_intercept(item: Dataset | None, ds: Dataset) -> tuple[float, float]:
    source = item if item is not None else ds
    slope = _float(source.get("RescaleSlope"))
    intercept = _float(source.get("RescaleIntercept"))
    if slope is None and item is not None:
        slope, intercept = (
            _float(_shared_group(ds, "PixelValueTransformationSequence", "RescaleSlope")),
            _float(_shared_group(ds, "PixelValueTransformationSequence", "RescaleIntercept")),
        )
    return (slope if slope else 1.0, intercept or 0.0)


def _frame_times(ds: Dataset, frames: int) -> tuple[float, ...]:
    """Time of each frame from the first, in ms (Frame Time or Frame Time Vector)."""
    if frames <= 1:
        return ()
    vector = ds.get("FrameTimeVector")
    if vector is not None and not isinstance(vector, str | bytes):
        steps = [_float(v) for v in vector]
        if len(steps) == frames and all(s is not None for s in steps):
            return tuple(float(t) for t in np.cumsum([s for s in steps if s is not None]) - (steps[0] or 0.0))
    frame_time = _float(ds.get("FrameTime"))
    if frame_time is None:
        rate = _float(ds.get("CineRate")) or _float(ds.get("RecommendedDisplayFrameRate"))
        frame_time = 1000.0 / rate if rate else None
    if frame_time is None:
        return ()
    return tuple(i * frame_time for i in range(frames))
