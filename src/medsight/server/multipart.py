"""multipart/related framing (RFC 2387, RFC 2046 5.1) as DICOMweb uses it: bytes only.

STOW-RS bodies are parsed with :func:`parse_multipart`; WADO-RS responses are written
with :func:`encode_part` and :func:`closing_delimiter` one part at a time, so a study
streams without ever being held whole. Nothing here knows DICOM.

A malformed body is a :class:`~medsight.errors.UsageError` (HTTP 400) whose message
names what is wrong with the framing, never bytes from the body.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from medsight.errors import UsageError

__all__ = [
    "Part",
    "check_boundary",
    "closing_delimiter",
    "encode_part",
    "multipart_content_type",
    "new_boundary",
    "parse_media_type",
    "parse_multipart",
]

_CRLF = b"\r\n"
_HEADER_END = b"\r\n\r\n"
# RFC 2046 5.1.1: 1 to 70 characters from a restricted set, not ending in a space.
_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_MAX_HEADER_BYTES = 8192


@dataclass(frozen=True, slots=True)
class Part:
    """One body part: its headers (names in lower case) and its content."""

    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def media_type(self) -> str | None:
        """The part's media type without parameters, lower case; None when it has no Content-Type."""
        value = self.headers.get("content-type")
        return parse_media_type(value)[0] if value else None

    def __repr__(self) -> str:
        return f"Part(media_type={self.media_type!r}, size={len(self.body)})"


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """A Content-Type or Accept entry split into its media type and parameters.

    ``multipart/related; type="application/dicom"; boundary=x`` gives
    ``("multipart/related", {"type": "application/dicom", "boundary": "x"})``; names are
    lower case, quoted values unquoted.
    """
    media, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for name, quoted, plain in re.findall(r'\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))', rest):
        params[name.lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted else plain.strip()
    return media.strip().lower(), params


def new_boundary() -> str:
    """A random boundary that no DICOM object will contain by chance."""
    return "medsight-" + secrets.token_hex(16)


def multipart_content_type(part_type: str, boundary: str, **params: str) -> str:
    """``multipart/related; type="<part_type>"; boundary=<boundary>`` plus any ``params``."""
    extra = "".join(f"; {name.replace('_', '-')}={value}" for name, value in params.items())
    return f'multipart/related; type="{part_type}"{extra}; boundary={boundary}'


def encode_part(body: bytes, boundary: str, headers: dict[str, str]) -> bytes:
    """One part as it goes on the wire: delimiter, headers, blank line, body, CRLF."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return b"".join((b"--", boundary.encode("ascii"), _CRLF, head.encode("latin-1"), _CRLF, body, _CRLF))


def closing_delimiter(boundary: str) -> bytes:
    """The close delimiter that ends a multipart body."""
    return b"--" + boundary.encode("ascii") + b"--\r\n"


def check_boundary(boundary: str | None) -> str:
    """The boundary parameter, checked against RFC 2046's grammar.

    Raises:
        UsageError: no boundary, or one that RFC 2046 does not allow.
    """
    if not boundary:
        raise UsageError("malformed multipart body: the Content-Type has no boundary parameter")
    if not _BOUNDARY.match(boundary):
        raise UsageError("malformed multipart body: the boundary is not valid (RFC 2046 5.1.1)")
    return boundary


def parse_multipart(body: bytes, boundary: str) -> list[Part]:
    """Split a multipart body into its parts.

    A preamble before the first delimiter and an epilogue after the close delimiter
    are ignored (RFC 2046 5.1.1). Part bodies are copied out of ``body``.

    Raises:
        UsageError: no first delimiter, a part without its blank line after the
            headers, a malformed header line, or no close delimiter.
    """
    delimiter = b"--" + check_boundary(boundary).encode("ascii")
    position = _first_delimiter(body, delimiter)
    parts: list[Part] = []
    separator = _CRLF + delimiter
    while True:
        position += len(delimiter)
        if body.startswith(b"--", position):
            return parts
        position = _after_transport_padding(body, position)
        end = body.find(separator, position)
        if end < 0:
            raise UsageError("malformed multipart body: no close delimiter (the body may be truncated)")
        parts.append(_part(body, position, end))
        position = end + len(_CRLF)


def _first_delimiter(body: bytes, delimiter: bytes) -> int:
    if body.startswith(delimiter):
        return 0
    found = body.find(_CRLF + delimiter)
    if found < 0:
        raise UsageError("malformed multipart body: the boundary does not occur in the body")
    return found + len(_CRLF)


def _after_transport_padding(body: bytes, position: int) -> int:
    """Skip the linear white space allowed after a delimiter, then its CRLF."""
    while position < len(body) and body[position] in b" \t":
        position += 1
    if not body.startswith(_CRLF, position):
        raise UsageError("malformed multipart body: a delimiter is not followed by a line break")
    return position + len(_CRLF)


def _part(body: bytes, start: int, end: int) -> Part:
    if body.startswith(_CRLF, start):  # no headers at all
        return Part(headers={}, body=body[start + len(_CRLF) : end])
    head_end = body.find(_HEADER_END, start, min(end, start + _MAX_HEADER_BYTES))
    if head_end < 0:
        raise UsageError("malformed multipart body: a part has no blank line after its headers")
    headers: dict[str, str] = {}
    for line in body[start:head_end].split(_CRLF):
        name, colon, value = line.partition(b":")
        text = name.decode("latin-1").strip()
        if not colon or not _TOKEN.fullmatch(text):
            raise UsageError("malformed multipart body: a part has a malformed header line")
        headers[text.lower()] = value.decode("latin-1").strip()
    return Part(headers=headers, body=body[head_end + len(_HEADER_END) : end])
