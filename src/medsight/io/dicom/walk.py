"""A minimal DICOM element walker for the common encodings; it stops at Pixel Data.

pydicom builds an object for every element and converts values on access: reading the
few dozen attributes medsight needs that way cost more than decoding a small image
(BENCHMARKS.md). This walker only records where each element's value lies
(tag -> VR, offset, length) in one bytes buffer; :mod:`medsight.io.dicom.values`
converts just the values that are asked for.

It reads PS3.10 files (preamble, ``DICM``, File Meta Information) whose data set is in
Implicit VR Little Endian, Explicit VR Little Endian (which every encapsulated syntax
uses) or Explicit VR Big Endian (PS3.5 7.1, 7.5). Anything else, and anything it does
not understand (an unknown VR, an item where an element belongs, a value that runs
past the end of the file), raises :class:`UnwalkableError`: the caller then parses the file
with pydicom. The walker is a shortcut for well-formed files, never the judge of what
is valid DICOM.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["Elements", "Entry", "UnwalkableError", "Walked", "walk_stream"]

#: (VR as written, b"" in implicit VR; value offset in the buffer; value length).
Entry = tuple[bytes, int, int]

PIXEL_DATA_TAGS = frozenset((0x7FE00010, 0x7FE00008, 0x7FE00009))
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
# VRs whose explicit encoding has 2 reserved bytes and a 4-byte length (PS3.5 7.1.2).
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())
_SHORT_VRS = frozenset(b"AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL US".split())
_ALL_VRS = _LONG_VRS | _SHORT_VRS
_IMPLICIT_LE = "1.2.840.10008.1.2"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_DEFLATED = "1.2.840.10008.1.2.1.99"
_FIRST_READ = 64 * 1024  # most headers fit (vendor CSA headers included); a longer one is read again with more
_STRUCTS = {
    little: (struct.Struct(f"{o}HH2sH"), struct.Struct(f"{o}HHL"), struct.Struct(f"{o}L"), struct.Struct(f"{o}H"))
    for little, o in ((True, "<"), (False, ">"))
}


class UnwalkableError(Exception):
    """The file is not one the walker reads: parse it with pydicom instead."""


class _ShortBufferError(Exception):
    """The buffer ends before the walk does: read more of the file."""


@dataclass(frozen=True, slots=True)
class Elements:
    """The elements of one data set (or sequence item), located in ``buffer``."""

    buffer: bytes
    entries: dict[int, Entry]
    implicit: bool
    little: bool

    def raw(self, tag: int) -> tuple[bytes, bytes] | None:
        """(VR as written, value bytes) of an element, or None when absent."""
        entry = self.entries.get(tag)
        if entry is None:
            return None
        vr, at, length = entry
        return vr, self.buffer[at : at + length]

    def items(self, tag: int) -> list[Elements]:
        """The items of a sequence element (an empty list when absent).

        Raises:
            ValueError: the value is not a well-formed sequence.
        """
        entry = self.entries.get(tag)
        if entry is None:
            return []
        vr, at, length = entry
        # A sequence written as UN of undefined length is Implicit VR Little Endian (PS3.5 6.2.2).
        implicit, little = (True, True) if vr == b"UN" else (self.implicit, self.little)
        walker = _Walker(self.buffer, implicit, little, complete=True)
        try:
            return [Elements(self.buffer, e, implicit, little) for e in walker.items(at, at + length)]
        except (UnwalkableError, _ShortBufferError, struct.error) as exc:
            raise ValueError("malformed sequence") from exc


@dataclass(frozen=True, slots=True)
class Walked:
    """A walked file: its file meta, its data set, and where its Pixel Data lies.

    Attributes:
        pixel_offset: offset in the file of the Pixel Data value (None: no pixel data).
        pixel_length: its declared length (None: undefined, i.e. encapsulated).
        pixel_vr: its VR as written (None in implicit VR): big-endian OW swaps 8-bit samples.
    """

    meta: Elements
    dataset: Elements
    transfer_syntax: str
    pixel_offset: int | None
    pixel_length: int | None
    pixel_vr: str | None


def walk_stream(stream: BinaryIO, size: int) -> Walked:
    """Walk a file from its start up to its Pixel Data element.

    Raises:
        UnwalkableError: the file needs pydicom (other encoding, no preamble, malformed, truncated).
    """
    buffer = stream.read(min(_FIRST_READ, size))
    while True:
        try:
            return _walk_buffer(buffer, complete=len(buffer) >= size)
        except _ShortBufferError:
            more = stream.read(min(max(len(buffer), _FIRST_READ) * 3, size - len(buffer)))
            if not more:
                raise UnwalkableError("the file ends before its header does") from None
            buffer += more
        except struct.error as exc:
            raise UnwalkableError("element header past the end") from exc


def _walk_buffer(buffer: bytes, *, complete: bool) -> Walked:
    if len(buffer) < 132 or buffer[128:132] != b"DICM":
        raise UnwalkableError("no PS3.10 preamble")
    meta_walker = _Walker(buffer, implicit=False, little=True, complete=complete)
    meta, start = meta_walker.elements(132, stop_outside_group=0x0002)
    syntax = _transfer_syntax(buffer, meta)
    implicit, little = _encoding(syntax)
    walker = _Walker(buffer, implicit, little, complete)
    walker.check_first(start)
    entries, stop = walker.elements(start, stop_at_pixels=True)
    pixels = walker.pixel_value(stop) if stop < len(buffer) else (None, None, None)
    # Keep only the header: a series holds every slice's header until it is decoded.
    header = buffer[:stop] if stop < len(buffer) else buffer
    return Walked(Elements(header, meta, False, True), Elements(header, entries, implicit, little), syntax, *pixels)


def _transfer_syntax(buffer: bytes, meta: dict[int, Entry]) -> str:
    entry = meta.get(0x00020010)
    if entry is None:
        raise UnwalkableError("no Transfer Syntax UID")
    _, at, length = entry
    return buffer[at : at + length].rstrip(b"\x00 ").decode("ascii", "replace")


def _encoding(syntax: str) -> tuple[bool, bool]:
    """(implicit VR, little endian) of a transfer syntax the walker reads."""
    if syntax == _IMPLICIT_LE:
        return True, True
    if syntax == _BIG_ENDIAN:
        return False, False
    if syntax.startswith("1.2.840.10008.1.2.") and syntax != _DEFLATED:
        return False, True  # Explicit VR Little Endian and every encapsulated syntax
    raise UnwalkableError("transfer syntax needs pydicom")


class _Walker:
    """Walks elements of one encoding over a buffer; raises _ShortBufferError when it runs out."""

    __slots__ = ("buffer", "complete", "explicit_head", "implicit", "implicit_head", "little", "ulong", "ushort")

    def __init__(self, buffer: bytes, implicit: bool, little: bool, complete: bool) -> None:
        self.buffer, self.implicit, self.little, self.complete = buffer, implicit, little, complete
        self.explicit_head, self.implicit_head, self.ulong, self.ushort = _STRUCTS[little]

    def short(self) -> Exception:
        # A walk past the end of the whole file is a truncated or corrupt file.
        return UnwalkableError("runs past the end of the file") if self.complete else _ShortBufferError()

    def check_first(self, pos: int) -> None:
        """pydicom corrects files whose data set is not in the declared VR encoding; so do we, by leaving them to it."""
        if pos + 6 > len(self.buffer):
            return
        looks_explicit = self.buffer[pos + 4 : pos + 6] in _ALL_VRS
        if looks_explicit == self.implicit:
            raise UnwalkableError("data set encoding differs from the transfer syntax")

    def elements(
        self,
        pos: int,
        end: int | None = None,
        *,
        item: bool = False,
        stop_at_pixels: bool = False,
        stop_outside_group: int = -1,
    ) -> tuple[dict[int, Entry], int]:
        """Elements from ``pos`` to ``end`` (a defined-length item) or to the end of the data set.

        Args:
            pos: where the first element starts.
            end: where a defined-length item ends; None: walk to the end of the buffer.
            item: an item of undefined length: stop after its delimiter, which must come.
            stop_at_pixels: stop before Pixel Data (the top-level data set).
            stop_outside_group: stop before the first element of another group (file meta).

        Returns:
            the entries, and the offset where the walk stopped.
        """
        buffer, entries = self.buffer, dict[int, Entry]()
        size = len(buffer)
        limit = size if end is None else end
        if limit > size:
            raise self.short()
        # The loop runs once per element of every header read: names it uses are local.
        implicit, ulong = self.implicit, self.ulong
        head = self.implicit_head if implicit else self.explicit_head
        long_vrs, short_vrs, pixel_tags = _LONG_VRS, _SHORT_VRS, PIXEL_DATA_TAGS
        check_group = stop_outside_group >= 0
        while pos < limit:
            if pos + 8 > size:
                raise self.short()
            if implicit:
                group, element, length = head.unpack_from(buffer, pos)
                vr = b""
            else:
                group, element, vr, length = head.unpack_from(buffer, pos)
            at = pos + 8
            tag = group << 16 | element
            if group == 0xFFFE:
                if tag == _ITEM_END and item:
                    return entries, pos + 8
                raise UnwalkableError("item tag among elements")
            if check_group and group != stop_outside_group:
                return entries, pos
            if stop_at_pixels and tag in pixel_tags:
                return entries, pos
            if not implicit:
                if vr in long_vrs:
                    if pos + 12 > size:
                        raise self.short()
                    (length,) = ulong.unpack_from(buffer, at)
                    at = pos + 12
                elif vr not in short_vrs:
                    raise UnwalkableError("unknown VR")
            if length == _UNDEFINED:
                if not (implicit or vr in (b"SQ", b"UN")):
                    raise UnwalkableError("undefined length outside a sequence")
                value_end, pos = self.sequence_end(at, implicit=implicit or vr == b"UN")
                entries[tag] = (vr, at, value_end - at)
            else:
                entries[tag] = (vr, at, length)
                pos = at + length
        if pos > limit or (end is None and (item or not self.complete)):
            raise self.short()  # a value past its item or the file, or a delimiter missing
        return entries, pos

    def sequence_end(self, pos: int, *, implicit: bool) -> tuple[int, int]:
        """Skip a sequence of undefined length: (offset of its delimiter, offset after it)."""
        inner = self if implicit == self.implicit else _Walker(self.buffer, implicit, self.little, self.complete)
        while True:
            if pos + 8 > len(self.buffer):
                raise self.short()
            group, element, length = self.implicit_head.unpack_from(self.buffer, pos)
            tag = group << 16 | element
            if tag == _SEQUENCE_END:
                return pos, pos + 8
            if tag != _ITEM:
                raise UnwalkableError("expected an item")
            if length == _UNDEFINED:
                _, pos = inner.elements(pos + 8, item=True)
            else:
                pos += 8 + length

    def items(self, pos: int, end: int) -> list[dict[int, Entry]]:
        """Entries of each item of a sequence value spanning ``pos`` to ``end``."""
        found = []
        while pos < end:
            group, element, length = self.implicit_head.unpack_from(self.buffer, pos)
            if group << 16 | element != _ITEM:
                raise UnwalkableError("expected an item")
            if length == _UNDEFINED:
                entries, pos = self.elements(pos + 8, item=True)
            else:
                entries, _ = self.elements(pos + 8, pos + 8 + length)
                pos += 8 + length
            found.append(entries)
        return found

    def pixel_value(self, pos: int) -> tuple[int, int | None, str | None]:
        """(value offset, declared length or None when undefined, VR) of the Pixel Data element at ``pos``."""
        buffer = self.buffer
        if pos + 8 > len(buffer):
            raise self.short()
        # Trust the bytes over the declared encoding: some writers switch mid-file, and an
        # explicit-VR element always names one of these VRs right after its tag.
        vr: str | None = buffer[pos + 4 : pos + 6].decode("latin-1")
        if vr in ("OB", "OW", "OF", "OD", "OV", "UN"):
            if pos + 12 > len(buffer):
                raise self.short()
            (length,) = self.ulong.unpack_from(buffer, pos + 8)
            at = pos + 12
        else:
            (length,) = self.ulong.unpack_from(buffer, pos + 4)
            at, vr = pos + 8, None
        return at, None if length == _UNDEFINED else length, vr
