"""Colour to RGB float32: palette lookup (PS3.3 C.7.6.3.1.5) and YBR_FULL conversion.

RGB samples are on the 0-255 scale of 8-bit colour, whatever the source: a palette with
16-bit entries (the common case, PS3.3 C.7.6.3.1.5 scales them to the full 16 bits) is
divided by 256, which gives back the 8-bit value for both usual encodings (``v * 256``
and ``v * 257``, the latter with a fraction below 1). Left at 16 bits, every display and
writer, which treat RGB as 8-bit, would saturate them to white.

Both write straight into the caller's float32 array, frame by frame, so the frames
stay in cache and no full-size intermediate array is made: the RGB output is four
times the size of 8-bit stored values, and most of the cost is writing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.pixels.processing import apply_color_lut

from medsight.io.dicom import tags as t
from medsight.io.dicom.header import InstanceHeader

__all__ = ["apply_palette", "ybr_full_to_rgb"]

# PS3.3 C.7.6.3.1.2 / ISO/IEC 10918-5 section 7, exactly as pydicom computes it (float32,
# the same operations in the same order), so that both give the same integers.
_YBR_TO_RGB = np.asarray(
    [[1.000, 1.000, 1.000], [0.000, -0.114 * 1.772 / 0.587, 1.772], [1.402, -0.299 * 1.402 / 0.587, 0.000]],
    dtype=np.float32,
)
_YBR_OFFSET = np.asarray([0, 128, 128], dtype=np.float32)


def ybr_full_to_rgb(ybr: NDArray[np.uint8], out: NDArray[np.float32]) -> None:
    """8-bit YBR_FULL samples, shape (frames, rows, columns, 3), to RGB in ``out``."""
    for frame in range(out.shape[0]):
        rgb = out[frame]
        rgb[...] = ybr[frame]
        rgb -= _YBR_OFFSET
        np.matmul(rgb, _YBR_TO_RGB, out=rgb)
        rgb += np.float32(0.5)  # round half up: floor(x + 0.5)
        np.floor(rgb, out=rgb)
        np.clip(rgb, 0, 255, out=rgb)


def apply_palette(header: InstanceHeader, stored: NDArray[Any], out: NDArray[np.float32]) -> None:
    """Palette colour indices to RGB in ``out`` (shape (frames, rows, columns, 3))."""
    palette = _palette(header)
    if palette is None:  # segmented or unusual: pydicom's implementation reads those
        out[...] = apply_color_lut(stored.reshape(out.shape[:-1]), header.dataset).reshape(out.shape)
        descriptor = header.values.numbers(t.PALETTE_DESCRIPTORS[0])
        if descriptor is not None and len(descriptor) == 3 and int(descriptor[2]) == 16:
            out *= np.float32(1.0 / 256.0)
        return
    indices = stored.reshape(out.shape[0], -1)
    if indices.dtype == np.uint8 and palette.pillow is not None:
        _expand_8bit(indices, palette.pillow, palette.scale, out)
        return
    for frame in range(out.shape[0]):
        frame_indices = indices[frame]
        if palette.first:
            frame_indices = frame_indices.astype(np.int64) - palette.first
        # Values outside the table take its first or last entry (PS3.3 C.7.6.3.1.5).
        np.take(palette.lut, frame_indices, axis=0, mode="clip", out=out[frame].reshape(-1, 3))


@dataclass(frozen=True)
class _Palette:
    """A plain palette, ready to apply.

    Attributes:
        first: the first stored value mapped (the descriptor's second number).
        lut: (entries, 3) RGB on the 0-255 scale, float32.
        pillow: for 8-bit indices, the 256 RGB triplets Pillow expands them with (every
            index mapped through ``first`` and clipped), when 8 significant bits hold the
            table; None when it needs the float path.
        scale: what Pillow's 8-bit output is multiplied by (257/256 for ``v * 257`` tables).
    """

    first: int
    lut: NDArray[np.float32]
    pillow: bytes | None
    scale: float


def _expand_8bit(indices: NDArray[np.uint8], pillow: bytes, scale: float, out: NDArray[np.float32]) -> None:
    """Expand 8-bit indices with Pillow's palette conversion.

    numpy gathers 12-byte RGB float32 rows one at a time, and 3-byte uint8 rows hardly
    faster; Pillow expands 8-bit palette images in tight C, and most palettes are 8-bit
    values (often shifted up to 16 bits).
    """
    from PIL import Image

    size = (out.shape[2], out.shape[1])  # (width, height)
    for frame in range(out.shape[0]):
        image = Image.frombuffer("P", size, np.ascontiguousarray(indices[frame]), "raw", "P", 0, 1)
        image.putpalette(pillow)
        rgb = np.frombuffer(_rgb_bytes(image.convert("RGB")), np.uint8).reshape(out[frame].shape)
        out[frame] = rgb  # a plain conversion, then an in-place scale: faster than a mixed-type multiply
        if scale != 1.0:
            out[frame] *= np.float32(scale)


def _rgb_bytes(image: Any) -> bytes:
    """An RGB Pillow image's packed bytes, in one piece.

    ``Image.tobytes`` packs 64 KiB at a time and joins the pieces: a second copy of the
    whole image, a tenth of the palette expansion's time. One call of the same raw
    encoder with room for everything skips the join; should Pillow's internals change,
    ``tobytes`` gives the same bytes.
    """
    from PIL import Image

    try:
        encoder = Image._getencoder("RGB", "raw", "RGB")
        encoder.setimage(image.im, (0, 0, *image.size))
        try:
            _, status, data = encoder.encode(image.width * image.height * 3 + 1)
        finally:
            encoder.cleanup()
    except (AttributeError, TypeError):
        return bytes(image.tobytes())
    return bytes(data) if status == 1 else bytes(image.tobytes())


#: One palette's three (descriptor, data) pairs: what :func:`_prepare` depends on.
_PaletteKey = tuple[tuple[tuple[float, ...], bytes], ...]


def _palette(header: InstanceHeader) -> _Palette | None:
    """The instance's plain (not segmented) palette, prepared; None when pydicom must apply it.

    Preparing a palette costs a tenth of expanding an ultrasound frame with it, and the
    frames of a cine, the images of a series and the studies of one scanner share
    theirs, so prepared palettes are kept by their bytes: a few kilobytes each for the
    usual 256 entries, about 1 MB for a full 16-bit table, so only a few are kept.
    """
    values = header.values
    key = []
    for descriptor_tag, data_tag in zip(t.PALETTE_DESCRIPTORS, t.PALETTE_DATA, strict=True):
        descriptor, data = values.numbers(descriptor_tag), values.data(data_tag)
        if descriptor is None or data is None or len(descriptor) != 3:
            return None
        key.append((descriptor, bytes(data)))
    return _prepare(tuple(key))


@lru_cache(maxsize=8)
def _prepare(key: _PaletteKey) -> _Palette | None:
    channels = []
    first = bits = 0
    for descriptor, data in key:
        entries, first, bits = int(descriptor[0]) or 65536, int(descriptor[1]), int(descriptor[2])
        if bits == 8 and len(data) == entries:
            channels.append(np.frombuffer(data, np.uint8))
        elif bits == 16 and len(data) == 2 * entries:
            channels.append(np.frombuffer(data, "<u2"))
        else:
            return None
    if len({len(channel) for channel in channels}) != 1 or len({c.dtype for c in channels}) != 1:
        return None
    table = np.stack(channels, axis=1)
    lut = table.astype(np.float32) / np.float32(256.0 if bits == 16 else 1.0)
    lut.setflags(write=False)  # shared by every image with this palette
    pillow, scale = _pillow_palette(table, bits, first)
    return _Palette(first, lut, pillow, scale)


def _pillow_palette(table: NDArray[Any], bits: int, first: int) -> tuple[bytes | None, float]:
    """The 256 RGB triplets that 8-bit indices take, and the scale of Pillow's output.

    None when the table has more precision than 8 bits (the float path applies it).
    """
    # Every index 0..255 mapped through the first-value offset and clipping: 256 entries.
    if first == 0 and len(table) >= 256:
        table = table[:256]
    else:
        table = table[np.clip(np.arange(256) - first, 0, len(table) - 1)]
    scale = 1.0
    if bits == 16:
        # 16-bit entries are v * 256 (exact 8-bit values) or v * 257 (v * 257/256 once
        # divided by 256, see the module docstring); anything else needs the float path.
        if not (table & 0xFF).any():
            table = table >> 8
        elif not (table % 257).any():
            table, scale = table // 257, 257.0 / 256.0
        else:
            return None, 1.0
    return table.astype(np.uint8).tobytes(), scale
