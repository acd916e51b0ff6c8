"""The Basic Application Level Confidentiality Profile and its options (PS3.15 Annex E).

Table E.1-1 ships as packaged data (``_table_e1_1.json``), generated from the standard's
table by ``tools/gen_deid_profile.py``; nothing here is typed by hand. :func:`compile_profile`
turns the table and a set of options into a :class:`Profile`: one :class:`Rule` per tag,
looked up in O(1) while a data set is walked.

Combined actions are resolved without IOD tables, always to an alternative that keeps the
attribute present when the input had it (so Type 1 and 2 attributes stay conformant) and
carries no information (PS3.15 E.1.1):

* ``X/Z`` and ``Z/D`` -> Z (empty), ``X/D`` and ``X/Z/D`` -> D (dummy);
* ``X/Z/U*`` -> the sequence is kept and its items de-identified (their UIDs replaced);
* a sequence under D or Z is emptied (a dummy item would be meaningless, and its
  content, such as an SR's text values, is not all in Table E.1-1);
* under option K the attribute is kept (a sequence's items still de-identified);
  under C it is cleaned (:class:`Op`): dates shifted, text redacted, sequences recursed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum
from functools import cache
from importlib import resources
from typing import Any

from medsight.errors import UsageError

__all__ = [
    "OPTION_CODES",
    "Op",
    "Option",
    "Profile",
    "Rule",
    "TableRow",
    "attribute_name",
    "compile_profile",
    "parse_options",
    "table",
    "table_meta",
]


class Option(StrEnum):
    """The profile options medsight implements (PS3.15 E.3), by their CLI names."""

    RETAIN_SAFE_PRIVATE = "retain-safe-private"
    RETAIN_UIDS = "retain-uids"
    RETAIN_DEVICE_IDENTITY = "retain-device-identity"
    RETAIN_INSTITUTION_IDENTITY = "retain-institution-identity"
    RETAIN_PATIENT_CHARACTERISTICS = "retain-patient-characteristics"
    RETAIN_FULL_DATES = "retain-full-dates"
    RETAIN_MODIFIED_DATES = "retain-modified-dates"
    CLEAN_DESCRIPTORS = "clean-descriptors"
    CLEAN_STRUCTURED_CONTENT = "clean-structured-content"
    CLEAN_GRAPHICS = "clean-graphics"
    CLEAN_PIXEL_DATA = "clean-pixel-data"


#: The Table E.1-1 column of each option (Clean Pixel Data has none: it is about pixels).
_COLUMNS: dict[Option, str] = {
    Option.RETAIN_SAFE_PRIVATE: "rtnSafePrivOpt",
    Option.RETAIN_UIDS: "rtnUIDsOpt",
    Option.RETAIN_DEVICE_IDENTITY: "rtnDevIdOpt",
    Option.RETAIN_INSTITUTION_IDENTITY: "rtnInstIdOpt",
    Option.RETAIN_PATIENT_CHARACTERISTICS: "rtnPatCharsOpt",
    Option.RETAIN_FULL_DATES: "rtnLongFullDatesOpt",
    Option.RETAIN_MODIFIED_DATES: "rtnLongModifDatesOpt",
    Option.CLEAN_DESCRIPTORS: "cleanDescOpt",
    Option.CLEAN_STRUCTURED_CONTENT: "cleanStructContOpt",
    Option.CLEAN_GRAPHICS: "cleanGraphOpt",
}

#: De-identification Method Code Sequence values, DCM CID 7050 (PS3.16).
OPTION_CODES: dict[Option | None, tuple[str, str]] = {
    None: ("113100", "Basic Application Confidentiality Profile"),
    Option.CLEAN_PIXEL_DATA: ("113101", "Clean Pixel Data Option"),
    Option.CLEAN_GRAPHICS: ("113103", "Clean Graphics Option"),
    Option.CLEAN_STRUCTURED_CONTENT: ("113104", "Clean Structured Content Option"),
    Option.CLEAN_DESCRIPTORS: ("113105", "Clean Descriptors Option"),
    Option.RETAIN_FULL_DATES: ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    Option.RETAIN_MODIFIED_DATES: ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    Option.RETAIN_PATIENT_CHARACTERISTICS: ("113108", "Retain Patient Characteristics Option"),
    Option.RETAIN_DEVICE_IDENTITY: ("113109", "Retain Device Identity Option"),
    Option.RETAIN_UIDS: ("113110", "Retain UIDs Option"),
    Option.RETAIN_SAFE_PRIVATE: ("113111", "Retain Safe Private Option"),
    Option.RETAIN_INSTITUTION_IDENTITY: ("113112", "Retain Institution Identity Option"),
}


class Op(Enum):
    """What happens to one element; the io layer carries it out."""

    KEEP = "keep"  # K, or an attribute outside the table
    REMOVE = "remove"  # X
    EMPTY = "empty"  # Z
    DUMMY = "dummy"  # D
    UID = "uid"  # U: a keyed pseudonym UID
    PSEUDONYM = "pseudonym"  # Patient ID: a keyed pseudonym, the same for one patient everywhere
    CLEAN = "clean"  # C: shift dates, redact text (by VR)
    RECURSE = "recurse"  # a sequence whose items are de-identified in turn


@dataclass(frozen=True, slots=True)
class TableRow:
    """One row of Table E.1-1 as packaged."""

    tag: str  # eight hex digits, a pattern with x (50xxxxxx), or "private"
    name: str
    basic: str
    options: dict[str, str]


@dataclass(frozen=True, slots=True)
class Rule:
    """The decision for one attribute under a profile.

    Attributes:
        op: the operation for non-sequence values.
        sequence_op: the operation when the element is a sequence (RECURSE, EMPTY, REMOVE).
        action: the table's action that led here (``X/Z``, ``K (option)``) for reports.
        listed: the attribute is in Table E.1-1.
    """

    op: Op
    sequence_op: Op
    action: str
    listed: bool = True


KEEP_UNLISTED = Rule(Op.KEEP, Op.RECURSE, "not in Table E.1-1", listed=False)
_PATIENT_ID = 0x00100020
_PATIENT_NAME = 0x00100010


@cache
def _packaged() -> dict[str, Any]:
    text = resources.files("medsight.privacy").joinpath("_table_e1_1.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def table() -> tuple[TableRow, ...]:
    """Every row of Table E.1-1 (621), as packaged."""
    return tuple(TableRow(r["tag"], r["name"], r["basic"], dict(r["options"])) for r in _packaged()["rows"])


def table_meta() -> dict[str, str]:
    """Where the packaged table came from: standard, source file, its sha256, generator."""
    return {key: value for key, value in _packaged().items() if key != "rows"}


@cache
def _names() -> dict[int, str]:
    return {int(row.tag, 16): row.name for row in table() if row.tag != "private" and "x" not in row.tag}


def attribute_name(tag: int) -> str:
    """The Table E.1-1 name of ``tag`` (its pattern's name for curves and overlays, else its tag)."""
    name = _names().get(tag)
    if name is not None:
        return name
    if 0x5000 <= tag >> 16 <= 0x50FF:
        return "Curve Data"
    if 0x6000 <= tag >> 16 <= 0x60FF:
        return "Overlay Data" if tag & 0xFFFF == 0x3000 else "Overlay Comments"
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def parse_options(names: Iterable[str]) -> frozenset[Option]:
    """Options from their CLI names.

    Raises:
        UsageError: an unknown name, or both date options (they exclude each other).
    """
    chosen: set[Option] = set()
    for name in names:
        try:
            chosen.add(Option(name.strip().lower().replace("_", "-")))
        except ValueError:
            known = ", ".join(option.value for option in Option)
            raise UsageError(f"unknown de-identification option {name!r}; known: {known}") from None
    if {Option.RETAIN_FULL_DATES, Option.RETAIN_MODIFIED_DATES} <= chosen:
        raise UsageError("retain-full-dates and retain-modified-dates exclude each other")
    return frozenset(chosen)


@dataclass(frozen=True, slots=True)
class Profile:
    """Table E.1-1 compiled for one set of options.

    Attributes:
        options: the options in force.
        exact: rule per tag (as an int) for the rows with a plain tag.
        overlay_curve: rule for repeating groups 50xx (curves) and 60xx (overlays).
        private: rule for private attributes (odd groups).
    """

    options: frozenset[Option]
    exact: dict[int, Rule]
    curve: Rule
    overlay: Rule
    private: Rule

    def rule(self, tag: int) -> Rule:
        """The rule for ``tag`` (group << 16 | element)."""
        found = self.exact.get(tag)
        if found is not None:
            return found
        group = tag >> 16
        if group & 1:
            return self.private
        if 0x5000 <= group <= 0x50FF and not group & 1:
            return self.curve
        if 0x6000 <= group <= 0x60FF and (tag & 0xFFFF) in (0x3000, 0x4000):
            return self.overlay
        return KEEP_UNLISTED


def compile_profile(options: Iterable[Option] = ()) -> Profile:
    """The Basic Profile with ``options`` applied, one rule per Table E.1-1 row."""
    chosen = frozenset(options)
    exact: dict[int, Rule] = {}
    patterns: dict[str, Rule] = {}
    for row in table():
        rule = _resolve(row, chosen)
        if row.tag == "private" or "x" in row.tag:
            patterns[row.tag] = rule
        else:
            exact[int(row.tag, 16)] = rule
    exact[_PATIENT_ID] = Rule(Op.PSEUDONYM, Op.EMPTY, "Z/D (keyed pseudonym)")
    exact[_PATIENT_NAME] = Rule(Op.PSEUDONYM, Op.EMPTY, "Z (keyed pseudonym)")
    return Profile(chosen, exact, patterns["50xxxxxx"], patterns["60xx3000"], patterns["private"])


def _resolve(row: TableRow, chosen: frozenset[Option]) -> Rule:
    by_option = [row.options[_COLUMNS[o]] for o in chosen if o in _COLUMNS and _COLUMNS[o] in row.options]
    if "K" in by_option:
        return Rule(Op.KEEP, Op.RECURSE, "K (option)")
    if "C" in by_option:
        return Rule(Op.CLEAN, Op.RECURSE, "C (option)")
    return _BASIC[row.basic]


_BASIC: dict[str, Rule] = {
    "X": Rule(Op.REMOVE, Op.REMOVE, "X"),
    "Z": Rule(Op.EMPTY, Op.EMPTY, "Z"),
    "D": Rule(Op.DUMMY, Op.EMPTY, "D"),
    "U": Rule(Op.UID, Op.RECURSE, "U"),
    "K": Rule(Op.KEEP, Op.RECURSE, "K"),
    "C": Rule(Op.CLEAN, Op.RECURSE, "C"),
    "X/Z": Rule(Op.EMPTY, Op.EMPTY, "X/Z"),
    "Z/D": Rule(Op.EMPTY, Op.EMPTY, "Z/D"),
    "X/D": Rule(Op.DUMMY, Op.EMPTY, "X/D"),
    "X/Z/D": Rule(Op.DUMMY, Op.EMPTY, "X/Z/D"),
    "X/Z/U*": Rule(Op.REMOVE, Op.RECURSE, "X/Z/U*"),
}
