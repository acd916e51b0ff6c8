"""Typed attribute values by tag, from walked raw bytes or from a pydicom data set.

Header reading asks for a handful of values by tag: an integer, some numbers, a text,
the items of a sequence. :class:`RawValues` answers from the bytes the walker located
(:mod:`medsight.io.dicom.walk`), converting only what is asked; :class:`DatasetValues`
answers the same questions from a pydicom :class:`~pydicom.dataset.Dataset`, for the
files the walker leaves to pydicom. Both are tolerant: a missing, empty or malformed
value is None, never an exception, so one bad attribute does not lose the image.
"""

from __future__ import annotations

import math
import struct
from functools import lru_cache
from typing import Any, Protocol

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.valuerep import PersonName

from medsight.io.dicom.tags import SPECIFIC_CHARACTER_SET
from medsight.io.dicom.walk import Elements

__all__ = ["DatasetValues", "HeaderValues", "RawValues"]

# struct codes of the binary VRs (PS3.5 6.2); OB and UN stay bytes.
_BINARY = {b"US": "H", b"SS": "h", b"UL": "L", b"SL": "l", b"FL": "f", b"FD": "d", b"SV": "q", b"UV": "Q"}
_BINARY |= {b"OW": "H", b"OL": "L", b"OF": "f", b"OD": "d"}
_SIZES = {code: struct.calcsize(code) for code in _BINARY.values()}
_INTEGER_CODES = frozenset("HhLlqQ")
_DECIMAL_STRINGS = (b"DS", b"IS")
# VRs whose text follows Specific Character Set (PS3.5 6.1.2.3); the rest are ASCII.
_CHARSET_VRS = frozenset((b"SH", b"LO", b"ST", b"LT", b"UC", b"UT", b"PN"))
_PADDING = " \x00"


@lru_cache(maxsize=256)
def _unpacker(little: bool, count: int, code: str) -> struct.Struct:
    """A compiled struct for ``count`` values of ``code``: headers ask the same few shapes again and again."""
    return struct.Struct(f"{'<' if little else '>'}{count}{code}")


class HeaderValues(Protocol):
    """The questions header reading asks of a data set (or a sequence item)."""

    def __contains__(self, tag: int) -> bool: ...

    def numbers(self, tag: int) -> tuple[float, ...] | None:
        """All values of a numeric attribute; None when absent, empty, malformed or not finite."""

    def number(self, tag: int) -> float | None:
        """The value of a single-valued numeric attribute."""

    def integer(self, tag: int) -> int | None:
        """The value of a single-valued numeric attribute, as an integer."""

    def text(self, tag: int) -> str | None:
        """A text value without padding; None when absent or empty."""

    def items(self, tag: int) -> list[HeaderValues]:
        """The items of a sequence (empty when absent)."""

    def data(self, tag: int) -> bytes | None:
        """The raw little-endian bytes of an OB/OW value (None when absent or not little endian)."""

    def study_value(self, tag: int) -> Any:
        """A value as pydicom would give it, for the study context a writer copies."""


class _SingleValues:
    """``number`` and ``integer`` derived from ``numbers``, the same for every backend."""

    def numbers(self, tag: int) -> tuple[float, ...] | None:
        raise NotImplementedError

    def number(self, tag: int) -> float | None:
        numbers = self.numbers(tag)
        return numbers[0] if numbers is not None and len(numbers) == 1 else None

    def integer(self, tag: int) -> int | None:
        number = self.number(tag)
        return int(number) if number is not None else None


class RawValues(_SingleValues):
    """:class:`HeaderValues` over walked elements."""

    __slots__ = ("_elements", "_encodings")

    def __init__(self, elements: Elements, encodings: list[str] | None = None) -> None:
        self._elements = elements
        self._encodings = encodings

    def __contains__(self, tag: int) -> bool:
        return tag in self._elements.entries

    def numbers(self, tag: int) -> tuple[float, ...] | None:
        found = self._raw(tag)
        if found is None or not found[1]:
            return None
        vr, value = found
        code = _BINARY.get(vr)
        try:
            if code is not None:
                count = len(value) // _SIZES[code]
                numbers = _unpacker(self._elements.little, count, code).unpack_from(value)
            elif vr in _DECIMAL_STRINGS:
                numbers = tuple(map(float, value.decode("ascii").split("\\")))
            else:
                return None
        except (ValueError, UnicodeDecodeError, struct.error):
            return None
        # Integers are always finite; floats must be (NaN and infinity are not positions).
        if not numbers or (code not in _INTEGER_CODES and not all(map(math.isfinite, numbers))):
            return None
        return numbers if code is None else tuple(map(float, numbers))

    def text(self, tag: int) -> str | None:
        found = self._raw(tag)
        if found is None:
            return None
        vr, value = found
        text = self._decode(vr, value) if vr in _CHARSET_VRS else value.decode("latin-1")
        return text.strip(_PADDING) or None

    def items(self, tag: int) -> list[HeaderValues]:
        encodings = self._charsets()
        return [RawValues(item, encodings) for item in self._elements.items(tag)]

    def data(self, tag: int) -> bytes | None:
        found = self._elements.raw(tag)
        return found[1] if found is not None and self._elements.little else None

    def study_value(self, tag: int) -> Any:
        found = self._raw(tag)
        if found is None:
            return None
        vr, value = found
        if vr == b"PN":
            value = value.rstrip(_PADDING.encode())
            return PersonName(value, self._charsets()) if value else None
        return self.text(tag)

    def _raw(self, tag: int) -> tuple[bytes, bytes] | None:
        found = self._elements.raw(tag)
        if found is None:
            return None
        vr, value = found
        if vr in (b"", b"UN"):  # implicit VR, or unknown: the data dictionary says
            vr = _dictionary_vr(tag)
        return vr, value

    def _decode(self, vr: bytes, value: bytes) -> str:
        encodings = self._charsets()
        if encodings == ["iso8859"]:  # the default repertoire: no escape sequences to honour
            return value.decode("latin-1")
        return decode_bytes(value, encodings, {0x5C, 0x5E, 0x3D} if vr == b"PN" else {0x5C})

    def _charsets(self) -> list[str]:
        if self._encodings is None:
            found = self._elements.raw(SPECIFIC_CHARACTER_SET)
            terms = found[1].decode("latin-1").split("\\") if found is not None else []
            names = [t.strip(_PADDING) for t in terms]
            self._encodings = convert_encodings(names) if any(names) else ["iso8859"]
        return self._encodings


@lru_cache(maxsize=1024)
def _dictionary_vr(tag: int) -> bytes:
    try:
        return dictionary_VR(tag)[:2].encode("ascii")  # "US or SS" -> US
    except KeyError:
        return b"UN"


class DatasetValues(_SingleValues):
    """:class:`HeaderValues` over a pydicom data set (pydicom converts, we normalise)."""

    __slots__ = ("_ds",)

    def __init__(self, ds: Dataset) -> None:
        self._ds = ds

    def __contains__(self, tag: int) -> bool:
        return tag in self._ds

    def numbers(self, tag: int) -> tuple[float, ...] | None:
        value = self._value(tag)
        if value is None or isinstance(value, bytes) or value == "":
            return None
        values = [value] if isinstance(value, str | int | float) else value
        try:
            numbers = tuple(float(v) for v in values)
        except (TypeError, ValueError):
            return None
        return numbers if numbers and all(math.isfinite(n) for n in numbers) else None

    def text(self, tag: int) -> str | None:
        value = self._value(tag)
        if value is None or value == "":
            return None
        return str(value).strip() or None

    def items(self, tag: int) -> list[HeaderValues]:
        value = self._value(tag)
        return [DatasetValues(item) for item in value] if isinstance(value, DicomSequence) else []

    def data(self, tag: int) -> bytes | None:
        value = self._value(tag)
        _implicit, little = getattr(self._ds, "original_encoding", (None, None))
        little = little is not False
        return value if isinstance(value, bytes) and little else None

    def study_value(self, tag: int) -> Any:
        value = self._value(tag)
        return None if value in (None, "") else value

    def _value(self, tag: int) -> Any:
        try:
            element = self._ds.get(tag)
        # pydicom converts on access and its error surface is open-ended (an unknown VR
        # raises NotImplementedError); a value it cannot convert is malformed: None.
        except Exception:
            return None
        return None if element is None else element.value
