"""Encoded pixel data (JPEG, JPEG-LS, JPEG 2000, RLE, and native layouts numpy cannot
read directly) through pydicom's decoder for the transfer syntax.

The decoder is fed the Pixel Data value from its offset in the file and the image
description from the header, so the file is not parsed a second time. Colour comes
back as decoded: 8-bit YBR_FULL is converted by :mod:`medsight.io.dicom.colour`
straight into the float32 output instead of by pydicom into a uint8 copy.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.pixels.decoders.base import Decoder, get_decoder
from pydicom.pixels.processing import convert_color_space
from pydicom.pixels.utils import pixel_array

from medsight.errors import PixelDecodeError, UnsupportedTransferSyntaxError
from medsight.io.dicom.header import InstanceHeader

__all__ = ["decode_encoded"]

_YBR_FULL = ("YBR_FULL", "YBR_FULL_422")


def decode_encoded(header: InstanceHeader) -> tuple[NDArray[Any], bool]:
    """Decode all frames: the array (frames first) and whether it is 8-bit YBR_FULL still.

    Raises:
        UnsupportedTransferSyntaxError: no decoder is installed for the syntax.
        PixelDecodeError: the decoded shape does not match the header.
    """
    label = header.member.label
    decoder = _decoder(header.transfer_syntax)
    if decoder is None:
        raise UnsupportedTransferSyntaxError(
            f"{label}: no decoder installed for transfer syntax {header.transfer_syntax}"
        )
    try:
        array, photometric = _decode_from_offset(header, decoder)
    except Exception:
        # The header facts did not suit the decoder (an odd file): let pydicom read the
        # whole file its own way; its errors are translated by the caller.
        array, photometric = _decode_whole_file(header), "RGB"
    ybr = photometric in _YBR_FULL and array.ndim == (4 if header.frames > 1 else 3)
    if ybr and array.dtype != np.uint8:
        array, ybr = convert_color_space(array, photometric, "RGB"), False  # pydicom's error for odd depths
    if header.frames == 1:
        array = array[np.newaxis]
    expected = (header.frames, header.rows, header.columns)
    if array.shape[:3] != expected:
        raise PixelDecodeError(f"{label}: decoded shape {array.shape} does not match the header {expected}")
    if header.output_samples == 3 and header.photometric != "PALETTE COLOR" and array.ndim == 3:
        raise PixelDecodeError(f"{label}: colour image decoded without colour samples")
    return array, ybr


@lru_cache(maxsize=64)
def _decoder(syntax: str) -> Decoder | None:
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        return None
    return decoder if decoder.is_available else None


def _decode_from_offset(header: InstanceHeader, decoder: Decoder) -> tuple[NDArray[Any], str]:
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
        "pixel_keyword": "PixelData",
        "pixel_vr": header.parsed.pixel_vr or "OW",  # big-endian OW: 8-bit samples come swapped in pairs
    }
    with header.member.open() as stream:
        stream.seek(offset)
        # raw=True: no colour conversion (ours is done into the output); pydicom still
        # removes YBR 4:2:2 subsampling and corrects JPEG-LS/2000 signedness.
        array, properties = decoder.as_array(stream, raw=True, **options)
    return array, str(properties.get("photometric_interpretation", header.photometric))


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
