"""multipart/related bodies (RFC 2387) as DICOMweb sends and returns them (PS3.18 8.6).

:func:`encode` builds a STOW-RS request body of ``application/dicom`` parts; :func:`split`
cuts a WADO-RS response back into its parts, so the bench can check how many instances
came back and how many bytes they hold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["DICOM_MULTIPART", "boundary_of", "encode", "split"]

DICOM_MULTIPART = 'multipart/related; type="application/dicom"'
_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


def encode(parts: Sequence[bytes], boundary: str) -> tuple[bytes, str]:
    """The body and its Content-Type for ``parts``, each an ``application/dicom`` part."""
    if not boundary or any(boundary.encode() in part for part in parts):
        raise ValueError("the boundary must be non-empty and absent from every part")
    delimiter = b"--" + boundary.encode()
    chunks: list[bytes] = []
    for part in parts:
        chunks += [delimiter, b"\r\nContent-Type: application/dicom\r\n\r\n", part, b"\r\n"]
    chunks += [delimiter, b"--\r\n"]
    return b"".join(chunks), f"{DICOM_MULTIPART}; boundary={boundary}"


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart Content-Type.

    Raises:
        ValueError: there is none.
    """
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise ValueError(f"no boundary in Content-Type {content_type!r}")
    return match.group(1) or match.group(2)


def split(body: bytes, content_type: str) -> list[bytes]:
    """The payloads of a multipart body (headers of each part dropped)."""
    delimiter = b"--" + boundary_of(content_type).encode()
    payloads = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        _, separator, payload = chunk.partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("a part without a blank line after its headers")
        payloads.append(payload.removesuffix(b"\r\n"))
    return payloads
