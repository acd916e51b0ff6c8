"""Read PNG, JPEG and TIFF images (Pillow) and write windowed 8-bit PNGs.

Pixel values are kept as stored: 8-, 16- and 32-bit greyscale and float TIFF become
float32 of the same values, never rescaled. Colour images (RGB, RGBA, palette, CMYK)
become RGB, alpha dropped, unless all three channels are equal everywhere, when they
become greyscale; grey+alpha (LA) becomes greyscale. 1-bit images give 0 and 1.

Spacing is unknown (``spacing_known=False``, 1 mm assumed) unless the file states a
resolution in a physical unit: a PNG ``pHYs`` chunk in pixels per metre, or TIFF
XResolution/YResolution with an explicit ResolutionUnit of inch or centimetre. JPEG
density is ignored: it is nearly always a placeholder (72 or 96 dpi).

A multi-page TIFF whose pages share size and pixel kind is read as a
``Layout.VOLUME`` of those pages (slice spacing unknown, so ``spacing_known=False``);
pages of another size (thumbnails, pyramids) mean only the first is read, with a
warning. Animated PNGs give their first frame.

Pillow's errors become :class:`~medsight.errors.InvalidImageError`, its decompression
bomb check :class:`~medsight.errors.ResourceLimitError`; messages name the file only.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from medsight.errors import FileNotFoundInputError, InvalidImageError, ResourceLimitError
from medsight.imaging.geometry import Geometry
from medsight.imaging.image import Image, ImageMeta, Layout
from medsight.imaging.window import display_array, select_plane
from medsight.io._atomic import PathLike, atomic_write
from medsight.io.png import encode_png
from medsight.settings import ReadLimits

__all__ = ["PIL_ERRORS", "encode_rgb_png", "read_raster", "write_png", "write_rgb_png"]

#: Every foreign error a raster read may raise (besides the bomb check); each becomes
#: InvalidImageError.
PIL_ERRORS: tuple[type[Exception], ...] = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    IndexError,
    KeyError,
)

_FORMATS = ("PNG", "JPEG", "TIFF")
_UNOPENABLE = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
# Greyscale Pillow modes read as they are, with the bits each sample holds.
_GREY_BITS = {"1": 1, "L": 8, "I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16, "I": 32, "F": 32}
_GREY_ALPHA = ("LA", "La")
_TIFF_RESOLUTION_UNIT, _TIFF_X_RESOLUTION, _TIFF_Y_RESOLUTION = 296, 282, 283
_MM_PER_UNIT = {2: 25.4, 3: 10.0}  # TIFF ResolutionUnit: 2 inch, 3 centimetre


def read_raster(path: PathLike, limits: ReadLimits | None = None) -> Image:
    """Read a PNG, JPEG or TIFF file as a 2D image (or a volume for a TIFF stack).

    Args:
        path: the file.
        limits: read bounds; ``ReadLimits()`` when omitted.

    Raises:
        FileNotFoundInputError: the file does not exist or cannot be opened.
        ResourceLimitError: ``width * height * channels * 4`` (times pages) exceeds
            ``limits.max_pixel_bytes``, checked before decoding, or Pillow's own
            decompression bomb check fails.
        InvalidImageError: not a PNG/JPEG/TIFF, or damaged (truncated, corrupt).
    """
    source = Path(path)
    limits = limits or ReadLimits()
    try:
        with PILImage.open(source, formats=_FORMATS) as pil:
            return _decode(pil, source.name, limits)
    except _UNOPENABLE as exc:
        raise FileNotFoundInputError(f"cannot open {source.name}") from exc
    except PILImage.DecompressionBombError as exc:
        raise ResourceLimitError(
            f"{source.name} has more pixels than the image decoder allows (a decompression bomb?)"
        ) from exc
    except PIL_ERRORS as exc:
        raise InvalidImageError(
            f"{source.name} is not a readable PNG, JPEG or TIFF file ({type(exc).__name__})"
        ) from exc


def write_png(image: Image, path: PathLike, preset: str | None = None, *, index: int | None = None) -> Path:
    """Write one plane of ``image`` as an 8-bit PNG, windowed for display.

    The plane is the 2D image itself, else slice or frame ``index``, by default the
    middle slice of a volume or the first frame of a cine. Greyscale is windowed by
    :func:`medsight.imaging.window.display_array` (``preset``, else the image's VOI LUT
    or window, else auto). A known pixel spacing is kept as the PNG's ``pHYs``. The
    file appears whole or not at all; it is a PNG whatever ``path``'s suffix.

    Returns:
        The path written.

    Raises:
        UsageError: unknown ``preset`` or ``index`` out of range.
        OutputError: the file cannot be written.
    """
    plane = select_plane(image, index)
    pixels = display_array(plane, preset)
    pil = PILImage.fromarray(pixels)
    options: dict[str, object] = {}
    if plane.geometry.spacing_known:
        _, row_mm, col_mm = plane.geometry.spacing
        options["dpi"] = (25.4 / col_mm, 25.4 / row_mm)

    def write(stream: BinaryIO) -> None:
        pil.save(stream, format="PNG", **options)

    return atomic_write(path, write)


def write_rgb_png(pixels: NDArray[np.uint8], path: PathLike, *, compress_level: int = 1) -> Path:
    """Write an ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` (RGBA) uint8 array as a PNG, at once or not at all.

    For previews (heatmap overlays): :func:`~medsight.io.png.encode_png` at zlib level 1,
    several times faster than Pillow at its default level 6 for files about a quarter larger.

    Raises:
        UsageError: not a 2D or RGB uint8 array.
        OutputError: the file cannot be written.
    """
    data = encode_rgb_png(pixels, compress_level=compress_level)

    def write(stream: BinaryIO) -> None:
        stream.write(data)

    return atomic_write(path, write)


def encode_rgb_png(pixels: NDArray[np.uint8], *, compress_level: int = 1) -> bytes:
    """:func:`write_rgb_png`'s PNG as bytes, for a caller that stores it itself (sealed, say).

    Raises:
        UsageError: not a 2D or RGB(A) uint8 array.
    """
    return encode_png(pixels, level=compress_level)


def _decode(pil: PILImage.Image, name: str, limits: ReadLimits) -> Image:
    warnings: list[str] = []
    pages = _stack_pages(pil, warnings)
    width, height = pil.size
    channels = 1 if pil.mode in _GREY_BITS or pil.mode in _GREY_ALPHA else 3
    needed = width * height * channels * 4 * pages
    if needed > limits.max_pixel_bytes:
        raise ResourceLimitError(
            f"{name} would take {needed} bytes as float32, more than the limit of {limits.max_pixel_bytes}"
        )
    spacing = _spacing(pil)
    planes: list[NDArray[np.float32]] = []
    bits = 8
    for page in range(pages):
        pil.seek(page)
        plane, bits = _pixels(pil)
        planes.append(plane)
    if any(p.ndim == 3 for p in planes):  # a colour page makes the whole stack colour
        planes = [p if p.ndim == 3 else np.repeat(p[..., np.newaxis], 3, axis=-1) for p in planes]
    colour = planes[0].ndim == 3
    row_mm, col_mm = spacing or (1.0, 1.0)
    if pages > 1:
        warnings.append(f"{pages}-page TIFF read as a stack: slice spacing unknown, 1 mm assumed")
    geometry = Geometry(spacing=(1.0, row_mm, col_mm), spacing_known=spacing is not None and pages == 1)
    meta = ImageMeta(
        photometric="RGB" if colour else "MONOCHROME2",
        bits_stored=bits,
        warnings=tuple(warnings),
    )
    if pages == 1:
        return Image(pixels=planes[0], layout=Layout.IMAGE, geometry=geometry, meta=meta)
    return Image(pixels=np.stack(planes), layout=Layout.VOLUME, geometry=geometry, meta=meta)


def _stack_pages(pil: PILImage.Image, warnings: list[str]) -> int:
    """How many pages to read: all of a uniform TIFF stack, else 1."""
    frames = int(getattr(pil, "n_frames", 1))
    if frames <= 1:
        return 1
    if pil.format != "TIFF":
        warnings.append(f"{pil.format} holds {frames} frames: only the first was read")
        return 1
    first = (pil.size, pil.mode)
    for page in range(1, frames):
        pil.seek(page)
        if (pil.size, pil.mode) != first:
            pil.seek(0)
            warnings.append(f"TIFF pages differ in size or kind: only the first of {frames} was read")
            return 1
    pil.seek(0)
    return frames


def _pixels(pil: PILImage.Image) -> tuple[NDArray[np.float32], int]:
    """The current page as float32 (rows, columns) or (rows, columns, 3), and its bits."""
    mode = pil.mode
    if mode in _GREY_BITS:
        return np.asarray(pil).astype(np.float32), _GREY_BITS[mode]
    if mode in _GREY_ALPHA:
        return np.asarray(pil.getchannel(0)).astype(np.float32), 8
    rgb = np.asarray(pil.convert("RGB"))
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return rgb[..., 0].astype(np.float32), 8
    return rgb.astype(np.float32), 8


def _spacing(pil: PILImage.Image) -> tuple[float, float] | None:
    """(row, column) spacing in mm when the file states a physical resolution."""
    if pil.format == "PNG":
        dpi = pil.info.get("dpi")  # Pillow sets it only for a pHYs unit of metres
        return _from_density(dpi, 25.4) if dpi else None
    if pil.format == "TIFF":
        tags = getattr(pil, "tag_v2", {})
        unit = tags.get(_TIFF_RESOLUTION_UNIT)
        if unit in _MM_PER_UNIT:
            density = (tags.get(_TIFF_X_RESOLUTION), tags.get(_TIFF_Y_RESOLUTION))
            return _from_density(density, _MM_PER_UNIT[unit])
    return None


def _from_density(density: object, mm_per_unit: float) -> tuple[float, float] | None:
    """(row, column) mm from (x, y) samples per unit; None unless both are positive."""
    if not isinstance(density, tuple | list) or len(density) != 2:
        return None
    try:
        x, y = float(density[0]), float(density[1])
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not (math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0):
        return None
    return (mm_per_unit / y, mm_per_unit / x)
