"""Pixel Data to float32 in physical units.

Two paths lead to the same result:

* the *native* path reads uncompressed greyscale pixels straight from the file into
  numpy (no second parse, no intermediate copy); it is where most CT and MR lives;
* the *codec* path hands everything else (JPEG, JPEG-LS, JPEG 2000, RLE, colour,
  palette, 1-bit) to pydicom's decoder plug-ins (pylibjpeg, Pillow).

Both then apply the Modality LUT (Rescale Slope/Intercept, or a Modality LUT Sequence)
and turn MONOCHROME1 around so that higher values are always brighter.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut
from pydicom.pixels.utils import pixel_array

from medsight.errors import PixelDecodeError, UnsupportedTransferSyntaxError
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
        if _native_readable(header):
            _read_native(header, out)
        else:
            out[...] = _decode_with_codecs(header).reshape(out.shape)
        _apply_modality_lut(header, out)
        if header.photometric == "MONOCHROME1":
            low, high = physical_range(header)
            np.subtract(low + high, out, out=out)


def physical_range(header: InstanceHeader) -> tuple[float, float]:
    """Lowest and highest value that the stored bits can represent, after rescale."""
    bits = header.bits_stored
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if header.signed else (0, 2**bits - 1)
    slope, intercept = header.rescale[0]
    ends = (low * slope + intercept, high * slope + intercept)
    return float(min(ends)), float(max(ends))


def _native_readable(header: InstanceHeader) -> bool:
    """Whether the raw bytes are the pixels as numpy would lay them out (after a transpose)."""
    if not header.is_native or header.bits_allocated not in (8, 16, 32):
        return False
    if header.is_big_endian and header.bits_allocated == 8:
        return False  # 8-bit samples in big-endian OW come byte-swapped in pairs
    if header.samples == 1:
        if header.photometric == "PALETTE COLOR":
            return not header.is_big_endian and _palette(header)[0].size > 0
        return header.photometric in ("MONOCHROME1", "MONOCHROME2")
    return header.photometric == "RGB"


def _palette(header: InstanceHeader) -> tuple[NDArray[np.float32], int]:
    """A plain (not segmented) palette as an (entries, 3) table and its first mapped value.

    Returns an empty table when the palette is segmented or its layout is unusual; the
    codec path (pydicom's ``apply_color_lut``) handles those.
    """
    ds = header.dataset
    empty = (np.empty((0, 3), np.float32), 0)
    channels = []
    first = 0
    for colour in ("Red", "Green", "Blue"):
        descriptor = ds.get(f"{colour}PaletteColorLookupTableDescriptor")
        data = ds.get(f"{colour}PaletteColorLookupTableData")
        if descriptor is None or data is None or len(descriptor) != 3:
            return empty
        entries, first, bits = int(descriptor[0]) or 65536, int(descriptor[1]), int(descriptor[2])
        if bits == 8 and len(data) == entries:
            table = np.frombuffer(data, np.uint8)
        elif bits == 16 and len(data) == 2 * entries:
            table = np.frombuffer(data, "<u2")
        else:
            return empty
        channels.append(table.astype(np.float32))
    return np.stack(channels, axis=1), first


def _stored_dtype(header: InstanceHeader) -> np.dtype[np.integer]:
    kind = "i" if header.signed else "u"
    order = ">" if header.is_big_endian else "<"
    return np.dtype(f"{order}{kind}{header.bits_allocated // 8}")


def _read_native(header: InstanceHeader, out: NDArray[np.float32]) -> None:
    offset = header.parsed.pixel_offset
    if offset is None:
        raise PixelDecodeError(f"{header.member.label}: pixel data could not be located")
    dtype = _stored_dtype(header)
    count = header.rows * header.columns * header.frames * header.samples
    with header.member.open() as stream:
        stream.seek(offset)
        raw = stream.read(count * dtype.itemsize)
    if len(raw) < count * dtype.itemsize:
        raise PixelDecodeError(f"{header.member.label}: pixel data is truncated")
    stored = np.frombuffer(raw, dtype=dtype, count=count)
    if header.signed and header.bits_stored < header.bits_allocated:
        # Sign-extend from Bits Stored: the bits above it are undefined (PS3.5 8.1.1).
        shift = header.bits_allocated - header.bits_stored
        stored = (stored << shift) >> shift
    if header.photometric == "PALETTE COLOR":
        lut, first = _palette(header)  # _native_readable checked that it is a plain palette
        out.reshape(-1, 3)[:] = lut[np.clip(stored.astype(np.int64) - first, 0, len(lut) - 1)]
        return
    if header.samples == 3 and header.planar_configuration == 1:
        # Colour-by-plane: R plane, G plane, B plane per frame (PS3.3 C.7.6.3.1.3).
        planes = stored.reshape(header.frames, 3, header.rows, header.columns)
        out[...] = planes.transpose(0, 2, 3, 1)
        return
    out.reshape(-1)[:] = stored


def _decode_with_codecs(header: InstanceHeader) -> NDArray[np.generic]:
    label = header.member.label
    syntax = pydicom.uid.UID(header.transfer_syntax)
    if syntax.is_compressed and not _has_decoder(syntax):
        raise UnsupportedTransferSyntaxError(f"{label}: no decoder installed for transfer syntax {syntax}")
    # pydicom converts YBR to RGB (raw=False); palette colour is applied below from the
    # header, which holds the palette because it precedes Pixel Data.
    with header.member.open() as stream:
        array = _pixel_array(stream, has_meta="TransferSyntaxUID" in getattr(header.dataset, "file_meta", {}))
    if header.photometric == "PALETTE COLOR":
        array = apply_color_lut(array, header.dataset)
    if header.frames == 1:
        array = array[np.newaxis]
    expected = (header.frames, header.rows, header.columns)
    if array.shape[:3] != expected:
        raise PixelDecodeError(f"{label}: decoded shape {array.shape} does not match the header {expected}")
    if header.photometric not in ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR") and array.ndim == 3:
        raise PixelDecodeError(f"{label}: colour image decoded without colour samples")
    return array


def _pixel_array(stream: BinaryIO, *, has_meta: bool) -> NDArray[np.generic]:
    """Decode from the stream (memory-lean); odd files that only parse whole get a second try."""
    if has_meta:
        try:
            return pixel_array(stream)
        except (ValueError, KeyError, AttributeError, EOFError, TypeError):
            stream.seek(0)
    dataset = pydicom.dcmread(stream, force=True)
    return pixel_array(dataset)


def _has_decoder(syntax: pydicom.uid.UID) -> bool:
    from pydicom.pixels.decoders.base import get_decoder

    try:
        return bool(get_decoder(syntax).is_available)
    except NotImplementedError:
        return False


def _apply_modality_lut(header: InstanceHeader, out: NDArray[np.float32]) -> None:
    if header.output_samples == 3:
        return  # colour pixels carry no modality LUT (PS3.3 C.7.6.3.1.2)
    lut_sequence = header.dataset.get("ModalityLUTSequence")
    if lut_sequence:
        out[...] = apply_modality_lut(out.astype(np.int64), header.dataset).astype(np.float32)
        return
    if len(header.rescale) == 1:
        slope, intercept = header.rescale[0]
        if slope != 1.0:
            out *= np.float32(slope)
        if intercept != 0.0:
            out += np.float32(intercept)
        return
    for frame, (slope, intercept) in enumerate(header.rescale):
        out[frame] *= np.float32(slope)
        out[frame] += np.float32(intercept)
