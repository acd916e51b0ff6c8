"""Stored objects re-encoded as Explicit VR Little Endian, for WADO-RS clients that ask for it.

PS3.18 8.7.3.5.2: a client may name the transfer syntax it accepts; Explicit VR Little
Endian is the one every origin server must offer. Compressed pixel data is decoded by
pydicom (colour as RGB), big-endian pixel data is swapped, implicit VR is made explicit.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
import pydicom
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import UID

from medsight.errors import PixelDecodeError, UnsupportedTransferSyntaxError
from medsight.io.dicom.parse import translating

__all__ = ["EXPLICIT_VR_LITTLE_ENDIAN", "check_transcodable", "to_explicit_little_endian"]

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
_LABEL = "stored object"


@lru_cache(maxsize=64)
def _decodable(syntax: str) -> bool:
    uid = UID(syntax)
    if not uid.is_transfer_syntax:
        return False
    if not uid.is_compressed:
        return True
    try:
        return bool(get_decoder(uid).is_available)
    except NotImplementedError:
        return False


def check_transcodable(syntax: str) -> None:
    """Raise unless objects in ``syntax`` can be re-encoded as Explicit VR Little Endian.

    Raises:
        UnsupportedTransferSyntaxError: no installed decoder reads ``syntax``.
    """
    if not _decodable(syntax):
        raise UnsupportedTransferSyntaxError(f"{_LABEL}: no decoder installed for transfer syntax {syntax}")


def to_explicit_little_endian(data: bytes) -> bytes:
    """The object re-encoded in Explicit VR Little Endian (as it is when it already is).

    Raises:
        UnsupportedTransferSyntaxError: no installed decoder reads its pixel data.
        PixelDecodeError: its pixel data does not decode.
    """
    with translating(_LABEL, "transcoding", PixelDecodeError):
        dataset = pydicom.dcmread(io.BytesIO(data))
        syntax = UID(dataset.file_meta.get("TransferSyntaxUID", EXPLICIT_VR_LITTLE_ENDIAN))
        if syntax == EXPLICIT_VR_LITTLE_ENDIAN:
            return data
        check_transcodable(syntax)
        if syntax.is_compressed:
            # The same instance, decoded: it keeps its SOP Instance UID (pydicom would make one).
            dataset.decompress(generate_instance_uid=False)
        elif not syntax.is_little_endian and "PixelData" in dataset:
            array = dataset.pixel_array
            dataset.PixelData = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"))).tobytes()
            dataset["PixelData"].VR = "OB" if dataset.BitsAllocated <= 8 else "OW"
        dataset.file_meta.TransferSyntaxUID = UID(EXPLICIT_VR_LITTLE_ENDIAN)
        buffer = io.BytesIO()
        pydicom.dcmwrite(buffer, dataset, little_endian=True, implicit_vr=False, force_encoding=True)
        return buffer.getvalue()
