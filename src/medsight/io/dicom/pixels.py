"""Pixel Data to float32 in physical units.

Two paths lead to the stored values:

* the *native* path reads uncompressed pixels straight from the file into numpy (no
  second parse); it is where most CT and MR lives, and it also unpacks 1-bit
  segmentations;
* the *codec* path (:mod:`medsight.io.dicom.codecs`) hands everything else (JPEG,
  JPEG-LS, JPEG 2000, RLE, YBR, big-endian 8-bit) to the pydicom decoder for the
  transfer syntax, from the Pixel Data offset, so the file is not parsed again.

Then one pass turns stored values into physical ones: the Modality LUT (Rescale Slope
and Intercept, or a Modality LUT Sequence) fused with the conversion to float32, and
MONOCHROME1 turned around so that higher values are always brighter. Palette and YBR
colour become RGB in :mod:`medsight.io.dicom.colour`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.pixels.processing import apply_modality_lut

from medsight.errors import PixelDecodeError
from medsight.io.dicom import tags as t
from medsight.io.dicom.codecs import decode_encoded
from medsight.io.dicom.colour import apply_palette, ybr_full_to_rgb
from medsight.io.dicom.header import InstanceHeader
from medsight.io.dicom.parse import translating
from medsight.parallel import map_row_bands

__all__ = ["decode_into", "decode_pixels", "physical_range"]


def decode_pixels(header: InstanceHeader) -> NDArray[np.float32]:
    """Decode all frames of an instance: shape (frames, rows, columns[, 3]), float32."""
    shape = (header.frames, header.rows, header.columns) + ((3,) if header.output_samples == 3 else ())
    out = np.empty(shape, dtype=np.float32)
    decode_into(header, out)
    return out


def decode_into(header: InstanceHeader, out: NDArray[np.float32]) -> None:
    """Decode an instance's frames into ``out`` (shape (frames, rows, columns[, 3])).

    Writing into a caller's array lets series assembly fill a preallocated volume
    slice by slice, so peak memory stays near the size of the volume itself.
    """
    label = header.member.label
    with translating(label, "decoding pixel data", PixelDecodeError):
        ybr = False
        if _native_readable(header):
            stored = _read_native(header)
        else:
            stored, ybr = decode_encoded(header)
        if header.photometric == "PALETTE COLOR":
            apply_palette(header, stored, out)
        elif ybr:
            ybr_full_to_rgb(stored, out)
        elif header.output_samples == 3:
            # Colour pixels carry no modality LUT (PS3.3 C.7.6.3.1.2).
            out[...] = stored.reshape(out.shape)
        else:
            _to_physical(header, stored, out)


def physical_range(header: InstanceHeader) -> tuple[float, float]:
    """Lowest and highest value that the stored bits can represent, after rescale."""
    bits = header.bits_stored
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if header.signed else (0, 2**bits - 1)
    slope, intercept = header.rescale[0]
    ends = (low * slope + intercept, high * slope + intercept)
    return float(min(ends)), float(max(ends))


def _native_readable(header: InstanceHeader) -> bool:
    """Whether the raw bytes are the stored values as numpy would lay them out."""
    if not header.is_native:
        return False
    if header.bits_allocated == 1:
        return not header.is_big_endian and header.samples == 1  # big-endian OW swaps byte pairs
    if header.bits_allocated not in (8, 16, 32):
        return False
    if header.is_big_endian and header.bits_allocated == 8:
        return False  # 8-bit samples in big-endian OW come byte-swapped in pairs
    if header.samples == 1:
        return header.photometric in ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR")
    return header.photometric == "RGB"


def _stored_dtype(header: InstanceHeader) -> np.dtype[np.integer]:
    kind = "i" if header.signed else "u"
    order = ">" if header.is_big_endian else "<"
    return np.dtype(f"{order}{kind}{header.bits_allocated // 8}")


def _read_native(header: InstanceHeader) -> NDArray[Any]:
    """The stored values, flat (colour-by-plane as (frames, rows, columns, 3))."""
    offset = header.parsed.pixel_offset
    if offset is None:
        raise PixelDecodeError(f"{header.member.label}: pixel data could not be located")
    count = header.rows * header.columns * header.frames * header.samples
    packed = header.bits_allocated == 1
    dtype = np.dtype(np.uint8) if packed else _stored_dtype(header)
    nbytes = (count + 7) // 8 if packed else count * dtype.itemsize
    raw = header.member.read_at(offset, nbytes)
    if len(raw) < nbytes:
        raise PixelDecodeError(f"{header.member.label}: pixel data is truncated")
    if packed:
        # Frames follow each other bit by bit, first pixel in the lowest bit (PS3.5 8.1.1).
        return np.unpackbits(np.frombuffer(raw, np.uint8), count=count, bitorder="little")
    stored = np.frombuffer(raw, dtype=dtype, count=count)
    if header.signed and header.bits_stored < header.bits_allocated:
        # Sign-extend from Bits Stored: the bits above it are undefined (PS3.5 8.1.1).
        shift = header.bits_allocated - header.bits_stored
        stored = (stored << shift) >> shift
    if header.samples == 3 and header.planar_configuration == 1:
        # Colour-by-plane: R plane, G plane, B plane per frame (PS3.3 C.7.6.3.1.3).
        return stored.reshape(header.frames, 3, header.rows, header.columns).transpose(0, 2, 3, 1)
    return stored


def _to_physical(header: InstanceHeader, stored: NDArray[Any], out: NDArray[np.float32]) -> None:
    """Modality LUT and MONOCHROME1 inversion, fused with the conversion to float32."""
    stored = stored.reshape(out.shape)
    if t.MODALITY_LUT_SEQUENCE in header.values:
        out[...] = apply_modality_lut(stored.astype(np.int64), header.dataset)
        if header.photometric == "MONOCHROME1":
            low, high = physical_range(header)
            np.subtract(low + high, out, out=out)
        return
    flip = header.photometric == "MONOCHROME1"
    if flip:
        # high + low - (slope * v + intercept) = -slope * v + (high + low - intercept)
        low, high = physical_range(header)
    if len(header.rescale) == 1:
        slope, intercept = header.rescale[0]
        if flip:
            slope, intercept = -slope, low + high - intercept
        _rescale(stored, slope, intercept, out)
        return
    for frame, (slope, intercept) in enumerate(header.rescale):
        if flip:
            slope, intercept = -slope, low + high - intercept
        _rescale(stored[frame], slope, intercept, out[frame])


def _rescale(stored: NDArray[Any], slope: float, intercept: float, out: NDArray[np.float32]) -> None:
    """``out = slope * stored + intercept`` in as few passes over memory as the values allow,
    on a band of rows per core (a 2048 px plane's conversion alone is 2 ms on one)."""
    if out.size == 0:
        return
    if not out.flags.c_contiguous:  # reshaping would copy, and the writes would be lost
        source, target = stored[np.newaxis], out[np.newaxis]
    else:
        source, target = stored.reshape(-1, out.shape[-1]), out.reshape(-1, out.shape[-1])

    def rescale_band(band: slice) -> None:
        values, part = source[band], target[band]
        if slope == 1.0:
            if intercept == 0.0:
                part[...] = values
            else:
                np.add(values, np.float32(intercept), out=part)
            return
        np.multiply(values, np.float32(slope), out=part)
        if intercept != 0.0:
            np.add(part, np.float32(intercept), out=part)

    map_row_bands(rescale_band, target.shape[0], target.shape[1])
