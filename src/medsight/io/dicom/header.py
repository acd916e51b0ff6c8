"""What one DICOM instance says about its pixels, read from the header alone.

:class:`InstanceHeader` gathers, once, everything series assembly and pixel decoding
need (size, encoding, geometry, rescale, frame timing), so that a folder can be
planned from headers before a single pixel is decoded or a byte of memory reserved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from medsight.errors import MissingPixelDataError, PixelDecodeError, ResourceLimitError
from medsight.io.dicom import tags as t
from medsight.io.dicom.parse import ParsedFile
from medsight.io.dicom.values import HeaderValues
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
    def values(self) -> HeaderValues:
        """The header's attributes, by tag."""
        return self.parsed.values

    @property
    def dataset(self) -> Dataset:
        """The header as a pydicom data set (parsed on first use on the walker's path)."""
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
    v = parsed.values
    label = member.label
    if not parsed.has_pixels:
        raise MissingPixelDataError(f"{label}: no pixel data (not an image object)")
    rows, columns, samples, frames, bits_allocated = _image_pixel(v, label)
    # Enhanced multi-frame objects keep plane attributes in the shared functional groups.
    orientation = _sized(v.numbers(t.IMAGE_ORIENTATION_PATIENT), 6)
    orientation = orientation or _sized(_shared(v, t.PLANE_ORIENTATION_SEQUENCE, t.IMAGE_ORIENTATION_PATIENT), 6)
    thickness = v.number(t.SLICE_THICKNESS) or _single(_shared(v, t.PIXEL_MEASURES_SEQUENCE, t.SLICE_THICKNESS))
    position = _sized(v.numbers(t.IMAGE_POSITION_PATIENT), 3)
    header = InstanceHeader(
        member=member,
        parsed=parsed,
        sop_instance_uid=v.text(t.SOP_INSTANCE_UID) or "",
        series_uid=v.text(t.SERIES_INSTANCE_UID) or "",
        study_uid=v.text(t.STUDY_INSTANCE_UID) or "",
        frame_of_reference_uid=v.text(t.FRAME_OF_REFERENCE_UID),
        sop_class_uid=v.text(t.SOP_CLASS_UID),
        transfer_syntax=parsed.transfer_syntax,
        modality=Modality.parse(v.text(t.MODALITY)),
        series_number=v.integer(t.SERIES_NUMBER),
        instance_number=v.integer(t.INSTANCE_NUMBER),
        rows=rows,
        columns=columns,
        frames=frames,
        samples=samples,
        bits_allocated=bits_allocated,
        bits_stored=v.integer(t.BITS_STORED) or bits_allocated,
        signed=v.integer(t.PIXEL_REPRESENTATION) == 1,
        photometric=(v.text(t.PHOTOMETRIC_INTERPRETATION) or ("RGB" if samples == 3 else "MONOCHROME2")).upper(),
        planar_configuration=v.integer(t.PLANAR_CONFIGURATION) or 0,
        pixel_spacing=_pixel_spacing(v),
        orientation=orientation,
        position=_vec3(position),
        frame_positions=_frame_positions(v, frames, position, _sized(v.numbers(t.IMAGE_ORIENTATION_PATIENT), 6)),
        slice_thickness=thickness,
        rescale=_rescale(v, frames),
        frame_times_ms=_frame_times(v, frames),
    )
    _check(header, parsed, limits)
    return header


def _image_pixel(v: HeaderValues, label: str) -> tuple[int, int, int, int, int]:
    """Rows, Columns, Samples per Pixel, Number of Frames and Bits Allocated, checked."""
    rows, columns = v.integer(t.ROWS), v.integer(t.COLUMNS)
    bits_allocated = v.integer(t.BITS_ALLOCATED)
    if rows is None or columns is None or rows <= 0 or columns <= 0:
        raise PixelDecodeError(f"{label}: Rows and Columns must be positive")
    if bits_allocated not in (1, 8, 16, 32, 64):
        raise PixelDecodeError(f"{label}: unsupported Bits Allocated {bits_allocated}")
    samples = v.integer(t.SAMPLES_PER_PIXEL) or 1
    if samples not in (1, 3):
        raise PixelDecodeError(f"{label}: unsupported Samples per Pixel {samples}")
    frames = v.integer(t.NUMBER_OF_FRAMES) or 1
    if frames <= 0:
        raise PixelDecodeError(f"{label}: Number of Frames must be positive")
    return rows, columns, samples, frames, bits_allocated


def _check(header: InstanceHeader, parsed: ParsedFile, limits: ReadLimits) -> None:
    label = header.member.label
    if header.decoded_nbytes > limits.max_pixel_bytes:
        raise ResourceLimitError(
            f"{label}: decoding needs {header.decoded_nbytes} bytes, more than the limit of {limits.max_pixel_bytes}"
        )
    if parsed.truncated or (header.is_native and (parsed.pixel_length or 0) < header.expected_native_bytes):
        raise PixelDecodeError(f"{label}: pixel data is shorter than Rows x Columns x Frames requires (truncated?)")


# --- attribute helpers: tolerant of missing, empty and malformed values -------------


def _sized(values: tuple[float, ...] | None, count: int) -> tuple[float, ...] | None:
    return values if values is not None and len(values) == count else None


def _single(values: tuple[float, ...] | None) -> float | None:
    return values[0] if values is not None and len(values) == 1 else None


def _vec3(values: tuple[float, ...] | None) -> tuple[float, float, float] | None:
    return None if values is None else (values[0], values[1], values[2])


def _shared(v: HeaderValues, group: int, tag: int) -> tuple[float, ...] | None:
    """Numbers from the Shared Functional Groups of an enhanced multi-frame object."""
    if t.SHARED_FUNCTIONAL_GROUPS_SEQUENCE not in v:
        return None  # the common case: a single-frame object has no functional groups
    shared = v.items(t.SHARED_FUNCTIONAL_GROUPS_SEQUENCE)
    item = shared[0].items(group) if shared else []
    return item[0].numbers(tag) if item else None


def _pixel_spacing(v: HeaderValues) -> tuple[float, float] | None:
    for numbers in (
        v.numbers(t.PIXEL_SPACING),
        _shared(v, t.PIXEL_MEASURES_SEQUENCE, t.PIXEL_SPACING),
        v.numbers(t.IMAGER_PIXEL_SPACING),  # projection radiographs: spacing at the detector
        _us_region_spacing(v),
    ):
        if numbers is not None and len(numbers) == 2 and all(n > 0 for n in numbers):
            return numbers[0], numbers[1]
    return None


def _us_region_spacing(v: HeaderValues) -> tuple[float, float] | None:
    """Pixel spacing from the first Ultrasound Region whose physical units are cm (PS3.3 C.8.5.5)."""
    for region in v.items(t.SEQUENCE_OF_ULTRASOUND_REGIONS):
        if region.integer(t.PHYSICAL_UNITS_X_DIRECTION) == 3 and region.integer(t.PHYSICAL_UNITS_Y_DIRECTION) == 3:
            dx, dy = region.number(t.PHYSICAL_DELTA_X), region.number(t.PHYSICAL_DELTA_Y)
            if dx and dy:
                return abs(dy) * 10.0, abs(dx) * 10.0
    return None


def _frame_positions(
    v: HeaderValues, frames: int, position: tuple[float, ...] | None, orientation: tuple[float, ...] | None
) -> tuple[tuple[float, float, float], ...] | None:
    if frames <= 1:
        return None
    steps = _sized(v.numbers(t.GRID_FRAME_OFFSET_VECTOR), frames)  # RT Dose: frames as planes along the normal
    if steps is not None and position is not None and orientation is not None:
        normal = np.cross(orientation[:3], orientation[3:])
        return tuple(_vec3(tuple(np.asarray(position) + s * normal)) or (0.0, 0.0, 0.0) for s in steps)
    per_frame = v.items(t.PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE) if t.PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE in v else []
    if len(per_frame) != frames:
        return None
    positions = []
    for item in per_frame:
        plane = item.items(t.PLANE_POSITION_SEQUENCE)
        numbers = _vec3(_sized(plane[0].numbers(t.IMAGE_POSITION_PATIENT), 3)) if plane else None
        if numbers is None:
            return None
        positions.append(numbers)
    return tuple(positions)


def _rescale(v: HeaderValues, frames: int) -> tuple[tuple[float, float], ...]:
    if t.RESCALE_SLOPE in v or t.PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE not in v:
        return (_slope_intercept(None, v),)
    per_frame = v.items(t.PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
    if len(per_frame) != frames:
        return (_slope_intercept(None, v),)
    pairs = []
    for item in per_frame:
        transform = item.items(t.PIXEL_VALUE_TRANSFORMATION_SEQUENCE)
        pairs.append(_slope_intercept(transform[0] if transform else None, v))
    return tuple(pairs) if len(set(pairs)) > 1 else (pairs[0],)


def _slope_intercept(item: HeaderValues | None, v: HeaderValues) -> tuple[float, float]:
    source = item if item is not None else v
    slope, intercept = source.number(t.RESCALE_SLOPE), source.number(t.RESCALE_INTERCEPT)
    if slope is None and item is not None:
        slope = _single(_shared(v, t.PIXEL_VALUE_TRANSFORMATION_SEQUENCE, t.RESCALE_SLOPE))
        intercept = _single(_shared(v, t.PIXEL_VALUE_TRANSFORMATION_SEQUENCE, t.RESCALE_INTERCEPT))
    return (slope if slope else 1.0, intercept or 0.0)


def _frame_times(v: HeaderValues, frames: int) -> tuple[float, ...]:
    """Time of each frame from the first, in ms (Frame Time or Frame Time Vector)."""
    if frames <= 1:
        return ()
    steps = _sized(v.numbers(t.FRAME_TIME_VECTOR), frames)
    if steps is not None:
        return tuple(float(x) for x in np.cumsum(steps) - steps[0])
    frame_time = v.number(t.FRAME_TIME)
    if frame_time is None:
        rate = v.number(t.CINE_RATE) or v.number(t.RECOMMENDED_DISPLAY_FRAME_RATE)
        frame_time = 1000.0 / rate if rate else None
    if frame_time is None:
        return ()
    return tuple(i * frame_time for i in range(frames))
