"""Replacement values by VR: dummies (D), shifted dates and cleaned text (C).

PS3.15 E.1.1: D replaces a value with a non-zero length dummy consistent with the VR;
C replaces it with one of similar meaning known not to identify. Dates are moved by a
per-patient number of whole days (Retain Longitudinal Temporal Information with Modified
Dates); free text is cleaned by redacting the patient's own identifiers found in the
same data set and anything shaped like a date, a long number, an e-mail or a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

__all__ = ["TEXT_VRS", "clean_text", "dummy_value", "identifier_terms", "shift_date", "shift_datetime"]

TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC", "PN", "CS", "AE", "UR"})
_DUMMY: dict[str, str | int | float | bytes] = {
    "AE": "ANONYMOUS",
    "AS": "000Y",
    "CS": "ANONYMOUS",
    "DA": "19000101",
    "DT": "19000101000000.000000",
    "TM": "000000.00",
    "DS": "0",
    "IS": "0",
    "LO": "ANONYMOUS",
    "LT": "ANONYMOUS",
    "PN": "ANONYMOUS",
    "SH": "ANONYMOUS",
    "ST": "ANONYMOUS",
    "UC": "ANONYMOUS",
    "UT": "ANONYMOUS",
    "UR": "urn:anonymous",
    "UI": "2.25.0",
    "FL": 0.0,
    "FD": 0.0,
    "SL": 0,
    "SS": 0,
    "SV": 0,
    "UL": 0,
    "US": 0,
    "UV": 0,
}
_REDACTED = "***"
_PATTERNS = re.compile(
    r"\b\d{4}[-/.]?\d{2}[-/.]?\d{2}\b"  # 2024-01-31, 20240131
    r"|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b"  # 31/01/2024, 1.2.24
    r"|\b[\w.+-]+@[\w-]+\.[\w.-]+\b"  # e-mail
    r"|\+?\d[\d ()-]{6,}\d"  # phone numbers, long numbers
    r"|\b\d{5,}\b"  # identifiers
)


def dummy_value(vr: str) -> str | int | float | bytes:
    """A non-zero length value that says nothing, for VR ``vr`` (two zero bytes for binary VRs)."""
    return _DUMMY.get(vr, b"\x00\x00")


def shift_date(value: str, days: int) -> str:
    """A DA value (``YYYYMMDD``, or a range ``A-B``) moved back by ``days``; unparseable -> dummy."""
    parts = [part.strip() for part in value.split("-")]
    try:
        return "-".join(_shift_da(part, days) if part else "" for part in parts)
    except ValueError:
        return str(_DUMMY["DA"])


def _shift_da(text: str, days: int) -> str:
    if len(text) < 8 or not text[:8].isdigit():
        raise ValueError(text)
    moved = date(int(text[:4]), int(text[4:6]), int(text[6:8])) - timedelta(days=days)
    return moved.strftime("%Y%m%d")


def shift_datetime(value: str, days: int) -> str:
    """A DT value moved back by ``days`` (time of day and offset kept); unparseable -> dummy."""
    text = value.strip()
    try:
        if len(text) < 8:
            raise ValueError(text)
        return _shift_da(text[:8], days) + text[8:]
    except ValueError:
        return str(_DUMMY["DT"])


def identifier_terms(values: Iterable[str]) -> tuple[str, ...]:
    """Words worth redacting from free text: the parts of names and identifiers (3+ characters)."""
    terms: set[str] = set()
    for value in values:
        for part in re.split(r"[\^=\s,]+", value):
            if len(part.strip()) >= 3:
                terms.add(part.strip())
    return tuple(sorted(terms, key=len, reverse=True))


def clean_text(value: str, terms: tuple[str, ...] = ()) -> str:
    """Free text with the patient's identifiers and date-, number- and address-shaped parts redacted."""
    for term in terms:
        value = re.sub(re.escape(term), _REDACTED, value, flags=re.IGNORECASE)
    return _PATTERNS.sub(_REDACTED, value)
