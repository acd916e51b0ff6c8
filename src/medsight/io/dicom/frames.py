"""Frames of a stored object as native little-endian pixel bytes (WADO-RS ``/frames``).

PS3.18 8.7.3.5.2: a frame in ``application/octet-stream`` is the frame's pixel values
uncompressed, as Explicit VR Little Endian would hold them. Uncompressed little-endian
frames are sliced straight out of the object's bytes; everything else (compressed,
big-endian, 1-bit) is decoded by pydicom one frame at a time (colour as RGB, since
compressed YBR only exists inside its codec) and written back little-endian.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence

import numpy as np
from pydicom.pixels.utils import pixel_array

from medsight.errors import PixelDecodeError, UsageError
from medsight.io.dicom.header import InstanceHeader, read_header
from medsight.io.dicom.parse import parse_member, translating
from medsight.io.sources import Member
from medsight.settings import ReadLimits

__all__ = ["iter_frames", "parse_frame_list", "read_instance_header"]

_LABEL = "stored object"
_LE_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
_MAX_FRAMES_LISTED = 10_000


def read_instance_header(data: bytes, limits: ReadLimits | None = None) -> InstanceHeader:
    """The image header of an object held in memory (the study store's bytes).

    Raises:
        MissingPixelDataError: the object is not an image.
        InvalidDicomError: the bytes do not parse, or the header describes impossible pixels.
    """
    member = Member(label=_LABEL, size=len(data), path=None, opener=lambda: io.BytesIO(data))
    parsed = parse_member(member)
    with translating(_LABEL, "reading the header"):
        return read_header(member, parsed, limits or ReadLimits())


def parse_frame_list(text: str) -> list[int]:
    """``"1,3,5"`` as frame numbers (1-based, in the order asked).

    Raises:
        UsageError: not a comma-separated list of positive integers.
    """
    numbers: list[int] = []
    for item in text.split(","):
        item = item.strip()
        if not item.isascii() or not item.isdigit() or int(item) < 1:
            raise UsageError("frames: a comma-separated list of frame numbers from 1")
        numbers.append(int(item))
    if len(numbers) > _MAX_FRAMES_LISTED:
        raise UsageError(f"frames: at most {_MAX_FRAMES_LISTED} frames per request")
    return numbers


def iter_frames(data: bytes, numbers: Sequence[int], limits: ReadLimits | None = None) -> Iterator[bytes]:
    """Each frame asked for, as native little-endian bytes, decoded only when reached.

    Raises:
        UsageError: a frame number beyond the object's frames (checked before the first frame).
        MissingPixelDataError: the object is not an image.
        PixelDecodeError: a frame does not decode.
    """
    header = read_instance_header(data, limits)
    beyond = [n for n in numbers if n > header.frames]
    if beyond:
        raise UsageError(f"frames: the instance has {header.frames} frame(s)")
    return _frames(data, header, numbers)


def _frames(data: bytes, header: InstanceHeader, numbers: Sequence[int]) -> Iterator[bytes]:
    sliceable = (
        header.transfer_syntax in _LE_SYNTAXES and not header.parsed.encapsulated and header.bits_allocated % 8 == 0
    )
    for number in numbers:
        if sliceable:
            yield _native_frame(data, header, number)
        else:
            yield _decoded_frame(data, header, number)


def _native_frame(data: bytes, header: InstanceHeader, number: int) -> bytes:
    offset = header.parsed.pixel_offset
    if offset is None:
        raise PixelDecodeError(f"{_LABEL}: pixel data could not be located")
    # Uncompressed YBR_FULL_422 keeps two samples per pixel (PS3.3 C.7.6.3.1.2).
    samples = 2 if header.photometric == "YBR_FULL_422" else header.samples
    size = header.rows * header.columns * samples * header.bits_allocated // 8
    start = offset + (number - 1) * size
    if start + size > len(data):
        raise PixelDecodeError(f"{_LABEL}: pixel data is truncated")
    return data[start : start + size]


def _decoded_frame(data: bytes, header: InstanceHeader, number: int) -> bytes:
    with translating(_LABEL, "decoding a frame", PixelDecodeError):
        array = pixel_array(io.BytesIO(data), index=number - 1)
    if header.bits_allocated == 1:
        return np.packbits(array.astype(np.uint8).ravel(), bitorder="little").tobytes()
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return np.ascontiguousarray(little).tobytes()
