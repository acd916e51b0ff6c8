"""What kind of file this is, by its first bytes (and its name only where bytes cannot tell)."""

from __future__ import annotations

from enum import StrEnum
from typing import BinaryIO

__all__ = ["FileKind", "sniff"]


class FileKind(StrEnum):
    DICOM = "dicom"
    DICOMDIR = "dicomdir"
    NIFTI = "nifti"
    RASTER = "raster"  # PNG, JPEG, TIFF
    ZIP = "zip"
    UNKNOWN = "unknown"


_RASTER_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
# First element of a DICOM dataset written without preamble: group 0x0008 (or 0x0002),
# little or big endian.
_BARE_DICOM_GROUPS = (b"\x08\x00", b"\x00\x08", b"\x02\x00")


def sniff(stream: BinaryIO, name: str) -> FileKind:
    """Guess the kind of a file from its first 352 bytes and, for ambiguous ones, its name."""
    head = stream.read(352)
    stream.seek(0)
    lower = name.lower()
    if head[128:132] == b"DICM":
        return FileKind.DICOMDIR if lower.rsplit("/", 1)[-1] == "dicomdir" else FileKind.DICOM
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return FileKind.ZIP
    if any(head.startswith(magic) for magic in _RASTER_MAGIC):
        return FileKind.RASTER
    if _is_nifti(head) or (head.startswith(b"\x1f\x8b") and lower.endswith(".nii.gz")):
        return FileKind.NIFTI
    if head[:2] in _BARE_DICOM_GROUPS or lower.endswith((".dcm", ".dicom", ".ima")):
        return FileKind.DICOM
    return FileKind.UNKNOWN


def _is_nifti(head: bytes) -> bool:
    if len(head) < 348:
        return False
    size_le, size_be = int.from_bytes(head[:4], "little"), int.from_bytes(head[:4], "big")
    if 348 in (size_le, size_be):
        return head[344:348] in (b"n+1\x00", b"ni1\x00")
    return 540 in (size_le, size_be) and head[4:8] in (b"n+2\x00", b"ni2\x00")
