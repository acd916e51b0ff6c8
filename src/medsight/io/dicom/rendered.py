"""A stored object rendered for display: WADO-RS ``/rendered`` as PNG or JPEG (PS3.18 8.3.5.1).

The object is read by the same path as every other DICOM read (header, plan, decode
into float32 physical values), one frame is chosen, and greyscale is windowed:

1. by the request's ``window=center,width[,function]`` (PS3.18 8.3.5.1.4), with the
   VOI LUT functions of PS3.3 C.11.2.1.2: ``linear``, ``linear-exact``, ``sigmoid``;
2. else as :func:`medsight.imaging.window.display_array` does: the object's VOI LUT,
   its own window, else the 1st..99th percentile.

Colour is shown as it is. Pillow encodes the result.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PILImage

from medsight.errors import UsageError
from medsight.imaging.image import Image, Layout
from medsight.imaging.window import display_array, select_plane
from medsight.io.dicom.frames import read_instance_header
from medsight.io.dicom.series import plan_images
from medsight.io.png import encode_png
from medsight.settings import ReadLimits

__all__ = ["RenderFormat", "Window", "WindowFunction", "parse_window", "render_instance"]

_JPEG_QUALITY = 90


class RenderFormat(StrEnum):
    """The media types a rendering can be encoded in."""

    PNG = "image/png"
    JPEG = "image/jpeg"


class WindowFunction(StrEnum):
    """VOI LUT Function (PS3.3 C.11.2.1.3), spelled as PS3.18's ``window`` parameter spells it."""

    LINEAR = "linear"
    LINEAR_EXACT = "linear-exact"
    SIGMOID = "sigmoid"


@dataclass(frozen=True, slots=True)
class Window:
    """A window asked for in a request."""

    center: float
    width: float
    function: WindowFunction = WindowFunction.LINEAR


def parse_window(text: str) -> Window:
    """``center,width[,function]`` as a :class:`Window`.

    Raises:
        UsageError: not two finite numbers (and an optional function), or a width that
            the function does not allow (linear: at least 1; others: above 0).
    """
    items = [item.strip() for item in text.split(",")]
    if len(items) not in (2, 3):
        raise UsageError("window: center,width[,function] (PS3.18 8.3.5.1.4)")
    try:
        center, width = float(items[0]), float(items[1])
    except ValueError as exc:
        raise UsageError("window: center and width must be numbers") from exc
    try:
        function = WindowFunction(items[2].lower().replace("_", "-")) if len(items) == 3 else WindowFunction.LINEAR
    except ValueError as exc:
        raise UsageError("window: the function is one of linear, linear-exact, sigmoid") from exc
    minimum = 1.0 if function is WindowFunction.LINEAR else 0.0
    if not (math.isfinite(center) and math.isfinite(width)) or width < minimum or width <= 0:
        raise UsageError("window: center and width must be finite, the width positive (at least 1 for linear)")
    return Window(center, width, function)


def render_instance(
    data: bytes,
    media_type: RenderFormat,
    *,
    frame: int | None = None,
    window: Window | None = None,
    quality: int | None = None,
    limits: ReadLimits | None = None,
) -> bytes:
    """One frame of a stored object as a PNG or JPEG.

    Args:
        data: the object's bytes.
        media_type: PNG or JPEG.
        frame: 1-based frame number; the first frame when omitted.
        window: the window to apply to greyscale; the object's own when omitted.
        quality: JPEG quality 1..100 (PS3.18 8.3.5.1.2); 90 when omitted; PNG is lossless.
        limits: decode bounds.

    Raises:
        UsageError: ``frame`` beyond the object's frames.
        MissingPixelDataError: the object is not an image.
        PixelDecodeError, ResourceLimitError: the pixels cannot be decoded within limits.
    """
    limits = limits or ReadLimits()
    plane = _plane(data, frame or 1, limits)
    if window is not None and plane.channels == 1:
        pixels = np.rint(_windowed(plane.pixels, window) * np.float32(255.0)).astype(np.uint8)
    else:
        pixels = display_array(plane)
    return _encode(pixels, media_type, quality or _JPEG_QUALITY)


def _plane(data: bytes, frame: int, limits: ReadLimits) -> Image:
    header = read_instance_header(data, limits)
    if frame > header.frames:
        raise UsageError(f"frame: the instance has {header.frames} frame(s)")
    planned, failed = plan_images([header])
    if failed:
        raise failed[0][1]
    plan = planned[0]
    image = plan.load(limits)
    if image.layout is Layout.IMAGE:
        return image
    # A multi-frame volume is stacked along its normal; find where the frame went.
    index = plan.frame_order.index(frame - 1) if plan.frame_order is not None else frame - 1
    return select_plane(image, index)


def _windowed(pixels: NDArray[np.float32], window: Window) -> NDArray[np.float32]:
    """Display values in [0, 1] by the VOI LUT functions of PS3.3 C.11.2.1.2 and C.11.2.1.3.1."""
    x = np.nan_to_num(pixels.astype(np.float32, copy=False), nan=0.0)
    c, w = np.float32(window.center), np.float32(window.width)
    if window.function is WindowFunction.LINEAR:
        out = (x - (c - np.float32(0.5))) / max(w - np.float32(1.0), np.float32(1e-6)) + np.float32(0.5)
    elif window.function is WindowFunction.LINEAR_EXACT:
        out = (x - c) / w + np.float32(0.5)
    else:
        out = np.float32(1.0) / (np.float32(1.0) + np.exp(np.float32(-4.0) * (x - c) / w))
    clipped: NDArray[np.float32] = np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)
    return clipped


def _encode(pixels: NDArray[np.uint8], media_type: RenderFormat, quality: int) -> bytes:
    if media_type is not RenderFormat.JPEG:
        return encode_png(pixels)
    buffer = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="JPEG", quality=min(max(quality, 1), 100))
    return buffer.getvalue()
