"""Pixel Data to float32 in physical units.

Two paths lead to the stored values:

* the *native* path reads uncompressed pixels straight from the file into numpy (no
  second parse); it is where most CT and MR lives, and it also unpacks 1-bit
  segmentations and looks up plain palettes itself;
* the *codec* path hands everything else (JPEG, JPEG-LS, JPEG 2000, RLE, YBR, big-endian
  8-bit) to the pydicom decoder for the transfer syntax, fed the encapsulated value from
  its offset and the image description from the header, so the file is not parsed again.

Then one pass turns stored values into physical ones: the Modality LUT (Rescale Slope
and Intercept, or a Modality LUT Sequence) fused with the conversion to float32, and
MONOCHROME1 turned around so that higher values are always brighter.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.pixels.decoders.base import Decoder, get_decoder
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut
from pydicom.pixels.utils import pixel_array

from medsight.errors import PixelDecodeError, UnsupportedTransferSyntaxError
from medsight.io.dicom import tags as t
from medsight.io.dicom.header import InstanceHeader
from medsight.io.dicom.parse import translating

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
        stored = _read_native(header) if _native_readable(header) else _decode_with_codecs(header)
        if header.photometric == "PALETTE COLOR":
            _apply_palette(header, stored, out)
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
    with header.member.open() as stream:
        stream.seek(offset)
        raw = stream.read(nbytes)
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
    """``out = slope * stored + intercept`` in as few passes over memory as the values allow."""
    if slope == 1.0:
        if intercept == 0.0:
            out[...] = stored
        else:
            np.add(stored, np.float32(intercept), out=out)
        return
    np.multiply(stored, np.float32(slope), out=out)
    if intercept != 0.0:
        np.add(out, np.float32(intercept), out=out)


def _apply_palette(header: InstanceHeader, stored: NDArray[Any], out: NDArray[np.float32]) -> None:
    palette = _palette(header)
    if palette is None:  # segmented or unusual: pydicom's implementation reads those
        out[...] = apply_color_lut(stored.reshape(out.shape[:-1]), header.dataset).reshape(out.shape)
        return
    lut, first = palette
    indices = stored.reshape(-1)
    if first:
        indices = indices.astype(np.int64) - first
    # Values outside the table take its first or last entry (PS3.3 C.7.6.3.1.5).
    np.take(lut, indices, axis=0, mode="clip", out=out.reshape(-1, 3))


def _palette(header: InstanceHeader) -> tuple[NDArray[np.float32], int] | None:
    """A plain (not segmented) palette as an (entries, 3) table and its first mapped value.

    Returns None when the palette is segmented or its layout is unusual; pydicom's
    ``apply_color_lut`` handles those.
    """
    values = header.values
    channels = []
    first = 0
    for descriptor_tag, data_tag in zip(t.PALETTE_DESCRIPTORS, t.PALETTE_DATA, strict=True):
        descriptor, data = values.numbers(descriptor_tag), values.data(data_tag)
        if descriptor is None or data is None or len(descriptor) != 3:
            return None
        entries, first, bits = int(descriptor[0]) or 65536, int(descriptor[1]), int(descriptor[2])
        if bits == 8 and len(data) == entries:
            table = np.frombuffer(data, np.uint8)
        elif bits == 16 and len(data) == 2 * entries:
            table = np.frombuffer(data, "<u2")
        else:
            return None
        channels.append(table.astype(np.float32))
    return np.stack(channels, axis=1), first


def _decode_with_codecs(header: InstanceHeader) -> NDArray[Any]:
    label = header.member.label
    decoder = _decoder(header.transfer_syntax)
    if decoder is None:
        raise UnsupportedTransferSyntaxError(
            f"{label}: no decoder installed for transfer syntax {header.transfer_syntax}"
        )
    try:
        array = _decode_from_offset(header, decoder)
    except Exception:
        # The header facts did not suit the decoder (an odd file): let pydicom read the
        # whole file its own way; its errors are translated by the caller.
        array = _decode_whole_file(header)
    if header.frames == 1:
        array = array[np.newaxis]
    expected = (header.frames, header.rows, header.columns)
    if array.shape[:3] != expected:
        raise PixelDecodeError(f"{label}: decoded shape {array.shape} does not match the header {expected}")
    if header.output_samples == 3 and header.photometric != "PALETTE COLOR" and array.ndim == 3:
        raise PixelDecodeError(f"{label}: colour image decoded without colour samples")
    return array


@lru_cache(maxsize=64)
def _decoder(syntax: str) -> Decoder | None:
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        return None
    return decoder if decoder.is_available else None


def _decode_from_offset(header: InstanceHeader, decoder: Decoder) -> NDArray[Any]:
    """Decode from the Pixel Data value's offset with the header's description: no second parse."""
    offset = header.parsed.pixel_offset
    if offset is None:
        raise PixelDecodeError(f"{header.member.label}: pixel data could not be located")
    options: dict[str, Any] = {
        "rows": header.rows,
        "columns": header.columns,
        "samples_per_pixel": header.samples,
        "bits_allocated": header.bits_allocated,
        "bits_stored": header.bits_stored,
        "pixel_representation": int(header.signed),
        "photometric_interpretation": header.photometric,
        "number_of_frames": header.frames,
        "planar_configuration": header.planar_configuration,
    }
    with header.member.open() as stream:
        stream.seek(offset)
        # pydicom converts YBR to RGB (raw=False) and corrects JPEG-LS/2000 signedness.
        array, _ = decoder.as_array(stream, **options)
    return array


def _decode_whole_file(header: InstanceHeader) -> NDArray[Any]:
    """Decode with pydicom from the file itself (memory-lean); odd files get a full parse."""
    with header.member.open() as stream:
        if "TransferSyntaxUID" in getattr(header.dataset, "file_meta", {}):
            try:
                return pixel_array(stream)
            except (ValueError, KeyError, AttributeError, EOFError, TypeError):
                stream.seek(0)
        dataset = pydicom.dcmread(stream, force=True)
        return pixel_array(dataset)
