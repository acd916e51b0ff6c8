"""DICOM attribute matching (PS3.4 C.2.2.2) turned into SQLAlchemy conditions.

The kinds of matching QIDO-RS offers (PS3.18 8.3.4.1, 10.6.1.2):

- **Single value** (C.2.2.2.1): exact; case-sensitive except for PN, which this store
  matches case-insensitively, as C.2.2.2.1.1 permits.
- **Wildcard** (C.2.2.2.4): ``*`` any run of characters, ``?`` exactly one; a value
  of ``*`` alone is universal matching (C.2.2.2.3): no condition at all.
- **List of UIDs** (C.2.2.2.2): any of the listed UIDs.
- **Range** (C.2.2.2.5) on dates: ``20200101-20201231``, ``-20201231``, ``20200101-``,
  inclusive; a single date is single value matching.
- **Range** on times (TM, ``HH[MM[SS[.F{1,6}]]]``): ``0800-1230``, ``-1230``, ``0800-``,
  inclusive, a partial time standing for all it covers (``1230`` as an upper end is up to
  12:30:59.999999); a single time matches every stored time it covers. Date and time are
  matched independently (combined datetime matching needs a negotiation QIDO-RS lacks).

Query values are patient data: errors name the attribute, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, literal
from sqlalchemy.orm import InstrumentedAttribute

from medsight.errors import UsageError

__all__ = ["date_condition", "fold", "string_condition", "time_condition", "uid_condition"]

_ESCAPE = "\\"


def fold(value: str | None) -> str | None:
    """The case-folded form stored beside a person name for case-insensitive matching."""
    return value.casefold() if value is not None else None


def string_condition(
    column: InstrumentedAttribute[str | None] | InstrumentedAttribute[str],
    value: str,
    *,
    person_name: bool = False,
) -> ColumnElement[bool] | None:
    """Single value or wildcard matching of ``value`` on ``column``.

    Args:
        column: the column to match; for a person name, its case-folded ``*_search`` twin.
        value: the query value, possibly with ``*`` and ``?``.
        person_name: fold the value's case (PN matching, C.2.2.2.1.1).

    Returns:
        The condition, or None for universal matching (``*`` alone or empty).
    """
    if person_name:
        value = value.casefold()
    if value.strip("*") == "":
        return None
    if "*" not in value and "?" not in value:
        return column == value
    return column.like(_like_pattern(value), escape=_ESCAPE)


def _like_pattern(value: str) -> str:
    """``*``/``?`` to SQL ``%``/``_``, with SQL's own wildcards in the value escaped."""
    out = []
    for char in value:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in ("%", "_", _ESCAPE):
            out.append(_ESCAPE + char)
        else:
            out.append(char)
    return "".join(out)


def uid_condition(
    column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None], uids: Sequence[str]
) -> ColumnElement[bool] | None:
    """List of UID matching (C.2.2.2.2); None when the list is empty."""
    values = [uid.strip() for uid in uids if uid.strip()]
    if not values:
        return None
    return column.in_(values)


def date_condition(
    column: InstrumentedAttribute[str | None], value: str, *, attribute: str
) -> ColumnElement[bool] | None:
    """Single date or date range matching on a DA column stored as ``YYYYMMDD``.

    DA values compare as strings in date order, so a range is two string comparisons.

    Raises:
        UsageError: ``value`` is not ``YYYYMMDD``, ``YYYYMMDD-YYYYMMDD``, ``-YYYYMMDD``
            or ``YYYYMMDD-``.
    """
    value = value.strip()
    if value in ("", "*"):
        return None
    if "-" not in value:
        return column == _date(value, attribute)
    low, _, high = value.partition("-")
    if not low and not high:
        raise UsageError(f"{attribute}: a range needs at least one date")
    conditions = []
    if low:
        conditions.append(column >= _date(low, attribute))
    if high:
        conditions.append(column <= _date(high, attribute))
    return conditions[0] if len(conditions) == 1 else conditions[0] & conditions[1]


def _date(text: str, attribute: str) -> str:
    # Old ACR-NEMA dates (YYYY.MM.DD) appear in stored objects but not in QIDO queries.
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise UsageError(f"{attribute}: dates are YYYYMMDD (a range: YYYYMMDD-YYYYMMDD, either end open)")
    return text


# A stored TM value is padded to its full form in SQL (``substr`` and ``||`` mean the same
# in SQLite and PostgreSQL), so stored partial times ("0930") compare as what they mean.
_TIME_FLOOR = "000000.000000"
_TIME_CEILING = "235959.999999"
_TIME = re.compile(r"^(?:[01]\d|2[0-3])(?:[0-5]\d(?:[0-5]\d(?:\.\d{1,6})?)?)?$")


def time_condition(
    column: InstrumentedAttribute[str | None], value: str, *, attribute: str
) -> ColumnElement[bool] | None:
    """Single time or time range matching on a TM column (stored as written: full or partial).

    Raises:
        UsageError: an end is not ``HH[MM[SS[.FFFFFF]]]``, or the range has neither end.
    """
    value = value.strip()
    if value in ("", "*"):
        return None
    low, dash, high = value.partition("-")
    if not dash:
        high = low
    if not low and not high:
        raise UsageError(f"{attribute}: a range needs at least one time")
    stored = column + func.substr(literal(_TIME_FLOOR), func.length(column) + 1)
    conditions = []
    if low:
        conditions.append(stored >= _time(low, _TIME_FLOOR, attribute))
    if high:
        conditions.append(stored <= _time(high, _TIME_CEILING, attribute))
    return conditions[0] if len(conditions) == 1 else conditions[0] & conditions[1]


def _time(text: str, pad: str, attribute: str) -> str:
    if not text.isascii() or not _TIME.match(text):
        raise UsageError(f"{attribute}: times are HH[MM[SS[.FFFFFF]]] (a range: A-B, either end open)")
    return text + pad[len(text) :]
