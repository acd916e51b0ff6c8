"""Single frames as bytes in memory: what a live stream carries (PNG, JPEG or raw uint8).

A probe or a replaying client sends each frame as one encoded image; the service
decodes it here, because this package is the only one that touches Pillow. Frames are
8-bit greyscale: a colour PNG or JPEG is converted to luminance (ITU-R 601, Pillow's
``L``), raw frames must be ``rows x columns`` bytes exactly.

Pillow's errors become :class:`~medsight.errors.InvalidImageError`; a frame larger than
the caller's pixel limit (checked from the image header, before decoding) is a
:class:`~medsight.errors.ResourceLimitError`. Messages say what was wrong, never a
pixel value.
"""

from __future__ import annotations

import io
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PILImage

from medsight.errors import InvalidImageError, ResourceLimitError, UsageError
from medsight.io.png import encode_png
from medsight.io.raster import PIL_ERRORS

__all__ = ["FrameEncoding", "decode_frame", "encode_frame"]

#: Default largest frame, in pixels (4096 x 4096).
DEFAULT_MAX_PIXELS = 4096 * 4096


class FrameEncoding(StrEnum):
    """How a frame's pixels are packed."""

    PNG = "png"
    JPEG = "jpeg"
    RAW = "raw"  # rows x columns uint8, row-major


def decode_frame(
    data: bytes,
    encoding: FrameEncoding,
    shape: tuple[int, int] | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> NDArray[np.uint8]:
    """Decode one frame to a ``(rows, columns)`` uint8 array.

    Args:
        data: the encoded frame.
        encoding: how it is encoded.
        shape: ``(rows, columns)``; required for raw frames, checked against PNG/JPEG ones.
        max_pixels: the most pixels a frame may have.

    Raises:
        UsageError: a raw frame without a shape.
        ResourceLimitError: more than ``max_pixels`` pixels.
        InvalidImageError: not a decodable image of that encoding, or not of ``shape``.
    """
    if encoding is FrameEncoding.RAW:
        return _decode_raw(data, shape, max_pixels)
    try:
        with PILImage.open(io.BytesIO(data), formats=(encoding.value.upper(),)) as pil:
            width, height = pil.size
            if width * height > max_pixels:
                raise ResourceLimitError(f"a {width}x{height} frame is larger than the limit of {max_pixels} pixels")
            grey = pil if pil.mode == "L" else pil.convert("L")
            pixels = np.asarray(grey, dtype=np.uint8)
    except PILImage.DecompressionBombError as exc:
        raise ResourceLimitError("the frame has more pixels than the image decoder allows") from exc
    except PIL_ERRORS as exc:
        raise InvalidImageError(f"the frame is not a readable {encoding.value} image ({type(exc).__name__})") from exc
    if shape is not None and pixels.shape != tuple(shape):
        raise InvalidImageError(
            f"the frame is {pixels.shape[0]}x{pixels.shape[1]}, its header says {shape[0]}x{shape[1]}"
        )
    return pixels


def _decode_raw(data: bytes, shape: tuple[int, int] | None, max_pixels: int) -> NDArray[np.uint8]:
    if shape is None:
        raise UsageError("a raw frame needs its rows and columns")
    rows, columns = shape
    if rows <= 0 or columns <= 0 or rows * columns > max_pixels:
        raise ResourceLimitError(f"a {rows}x{columns} frame is outside 1..{max_pixels} pixels")
    if len(data) != rows * columns:
        raise InvalidImageError(f"a raw {rows}x{columns} frame needs {rows * columns} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=np.uint8).reshape(rows, columns)


def encode_frame(pixels: NDArray[np.uint8], encoding: FrameEncoding, *, quality: int = 90) -> bytes:
    """Encode a ``(rows, columns)`` uint8 frame (PNG at zlib level 1, JPEG at ``quality``, or raw).

    Raises:
        UsageError: not a 2D uint8 array.
    """
    if pixels.dtype != np.uint8 or pixels.ndim != 2:
        raise UsageError(f"a frame is a 2D uint8 array, got {pixels.shape} {pixels.dtype}")
    if encoding is FrameEncoding.RAW:
        return np.ascontiguousarray(pixels).tobytes()
    if encoding is FrameEncoding.PNG:
        return encode_png(pixels)
    buffer = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
