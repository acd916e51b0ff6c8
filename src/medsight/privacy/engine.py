"""Walk a data set and apply a compiled profile: the decisions, without any file format.

The io layer wraps a parsed data set in a :class:`Node` (``medsight.io.dicom.deid`` does
it for pydicom's ``Dataset``; the tests use plain dicts); :func:`deidentify` visits every
element, items of sequences included, as ``Dataset.walk`` would, and tells the node what
to set or delete. :func:`residual` is the same walk in reverse: it lists what the profile
says must not remain (``medsight deid --check``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from medsight.privacy.profile import Op, Option, Profile, Rule, attribute_name
from medsight.privacy.pseudonym import Pseudonymizer
from medsight.privacy.safe_private import is_safe_private
from medsight.privacy.values import TEXT_VRS, clean_text, dummy_value, identifier_terms, shift_date, shift_datetime

__all__ = ["Context", "Finding", "Node", "Value", "context_for", "deidentify", "residual"]

Value = str | bytes | int | float
_PATIENT_ID = 0x00100020
_PATIENT_NAME = 0x00100010
#: Attributes whose values are redacted wherever they appear in free text (C).
_IDENTIFYING = (0x00100010, 0x00100020, 0x00101000, 0x00101001, 0x00080050, 0x00101040, 0x00080090, 0x00101060)
_PATIENT_IDENTITY_REMOVED = 0x00120062
_FREE_TEXT = frozenset({"ST", "LT", "UT", "UC"})


class Node(Protocol):
    """One data set (or sequence item) as the engine sees it.

    String values are ``str`` with multiple values joined by backslashes; binary values
    are ``bytes``. Setting ``None`` empties the value (zero length).
    """

    def tags(self) -> list[int]:
        """The tags present, in ascending order."""

    def vr(self, tag: int) -> str:
        """The VR of a present element (``UN`` when unknown)."""

    def get(self, tag: int) -> Value | None:
        """The value of a non-sequence element (None when empty)."""

    def set(self, tag: int, value: Value | None) -> None:
        """Replace the value of a present element."""

    def delete(self, tag: int) -> None:
        """Remove an element."""

    def items(self, tag: int) -> Sequence[Node]:
        """The items of a sequence element."""

    def empty_sequence(self, tag: int) -> None:
        """Remove every item of a sequence element."""

    def private_creator(self, tag: int) -> str | None:
        """The Private Creator of a private data element, if any."""


@dataclass(frozen=True, slots=True)
class Context:
    """What one patient's file needs besides the profile.

    Attributes:
        pseudonyms: the keyed pseudonym maker.
        patient: the patient's pseudonym (of Patient ID, else of Patient's Name), written
            to both, so the name carries nothing of its own and one patient stays one.
        shift_days: how far this patient's dates move back (Modified Dates).
        terms: the patient's identifying words, redacted from cleaned text.
    """

    pseudonyms: Pseudonymizer
    patient: str
    shift_days: int
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """An attribute the profile says must not remain, where it was found (never its value)."""

    path: tuple[int, ...]  # enclosing sequence tags, then the attribute's own tag
    name: str
    action: str
    reason: str

    @property
    def tag(self) -> str:
        """The path as ``(gggg,eeee)`` tags joined by ``>``."""
        return ">".join(f"({t >> 16:04X},{t & 0xFFFF:04X})" for t in self.path)


def context_for(root: Node, pseudonyms: Pseudonymizer) -> Context:
    """The context for a data set: its patient's date shift and identifying words."""
    present = set(root.tags())
    patient = str(root.get(_PATIENT_ID) or "") if _PATIENT_ID in present else ""
    name = str(root.get(_PATIENT_NAME) or "") if _PATIENT_NAME in present else ""
    values = [str(root.get(tag) or "") for tag in _IDENTIFYING if tag in present and root.vr(tag) != "SQ"]
    return Context(
        pseudonyms,
        pseudonyms.patient(patient or name),
        pseudonyms.date_shift_days(patient),
        identifier_terms(values),
    )


def deidentify(node: Node, profile: Profile, context: Context, *, cleaning: bool = False) -> None:
    """Apply ``profile`` to every element of ``node``, recursing into sequences.

    Args:
        node: the data set or item.
        profile: the compiled profile.
        context: the patient's pseudonyms, date shift and identifying words.
        cleaning: inside a sequence an option cleans (C: structured content, graphic
            annotations, descriptors): free text outside Table E.1-1 (ST, LT, UT, UC,
            such as an SR's Text Value) is cleaned too, not kept.
    """
    for tag in node.tags():
        if tag & 0xFFFF == 0:  # group lengths: stale once values change (retired, PS3.5 7.2)
            node.delete(tag)
            continue
        rule = profile.rule(tag)
        if (tag >> 16) & 1:
            _private(node, tag, profile)
        elif node.vr(tag) == "SQ":
            inner = cleaning or rule.op is Op.CLEAN
            _sequence(node, tag, rule.sequence_op, profile, context, inner)
        elif cleaning and not rule.listed and node.vr(tag) in _FREE_TEXT:
            _value(node, tag, Op.CLEAN, context)
        else:
            _value(node, tag, rule.op, context)


def _private(node: Node, tag: int, profile: Profile) -> None:
    if profile.private.op is Op.CLEAN and Option.RETAIN_SAFE_PRIVATE in profile.options:
        creator = node.private_creator(tag) if (tag & 0xFFFF) >= 0x1000 else None
        if is_safe_private(tag, creator, node.get(tag) if (tag & 0xFFFF) < 0x1000 else None):
            return
    node.delete(tag)


def _sequence(node: Node, tag: int, op: Op, profile: Profile, context: Context, cleaning: bool) -> None:
    if op is Op.REMOVE:
        node.delete(tag)
    elif op is Op.EMPTY:
        node.empty_sequence(tag)
    else:
        for item in node.items(tag):
            deidentify(item, profile, context, cleaning=cleaning)


def _value(node: Node, tag: int, op: Op, context: Context) -> None:
    if op is Op.KEEP:
        return
    if op is Op.REMOVE:
        node.delete(tag)
        return
    if op is Op.EMPTY:
        node.set(tag, None)
        return
    vr = node.vr(tag)
    if op is Op.DUMMY or (op is Op.UID and vr != "UI"):
        node.set(tag, dummy_value(vr))
        return
    value = node.get(tag)
    if value is None or isinstance(value, bytes | int | float):
        if op is not Op.CLEAN:
            node.set(tag, None if value is None else dummy_value(vr))
        return
    node.set(tag, _replace(op, vr, value, context))


def _replace(op: Op, vr: str, value: str, context: Context) -> str:
    if op is Op.UID:
        return "\\".join(context.pseudonyms.uid(uid) if uid.strip() else "" for uid in value.split("\\"))
    if op is Op.PSEUDONYM:
        return context.patient if value.strip() else ""
    if vr == "DA":
        return "\\".join(shift_date(v, context.shift_days) for v in value.split("\\"))
    if vr == "DT":
        return "\\".join(shift_datetime(v, context.shift_days) for v in value.split("\\"))
    if vr in TEXT_VRS and vr != "AE":
        return clean_text(value, context.terms)
    return value  # TM (time of day), AE under Retain Device Identity, numbers: kept


def residual(node: Node, profile: Profile, path: tuple[int, ...] = ()) -> Iterator[Finding]:
    """Every attribute in ``node`` that ``profile`` says must not remain, as findings."""
    if not path and _identity_not_removed(node):
        yield Finding((_PATIENT_IDENTITY_REMOVED,), "Patient Identity Removed", "YES", "not YES")
    for tag in node.tags():
        where = (*path, tag)
        if (tag >> 16) & 1:
            if not _private_kept(node, tag, profile):
                yield Finding(where, "Private attribute", "X", "private attribute present")
            continue
        rule = profile.rule(tag)
        if node.vr(tag) == "SQ":
            yield from _residual_sequence(node, tag, rule, profile, where)
        elif rule.listed:
            yield from _residual_value(node, tag, rule, where)


def _identity_not_removed(node: Node) -> bool:
    tags = node.tags()
    return _PATIENT_IDENTITY_REMOVED not in tags or str(node.get(_PATIENT_IDENTITY_REMOVED) or "").strip() != "YES"


def _private_kept(node: Node, tag: int, profile: Profile) -> bool:
    if Option.RETAIN_SAFE_PRIVATE not in profile.options:
        return False
    creator = node.private_creator(tag) if (tag & 0xFFFF) >= 0x1000 else None
    return is_safe_private(tag, creator, node.get(tag) if (tag & 0xFFFF) < 0x1000 else None)


def _residual_sequence(node: Node, tag: int, rule: Rule, profile: Profile, where: tuple[int, ...]) -> Iterator[Finding]:
    if rule.sequence_op is Op.REMOVE:
        yield Finding(where, attribute_name(tag), rule.action, "present")
    elif rule.sequence_op is Op.EMPTY and node.items(tag):
        yield Finding(where, attribute_name(tag), rule.action, "sequence not empty")
    elif rule.sequence_op is Op.RECURSE:
        for item in node.items(tag):
            yield from residual(item, profile, where)


def _residual_value(node: Node, tag: int, rule: Rule, where: tuple[int, ...]) -> Iterator[Finding]:
    if rule.op is Op.REMOVE:
        yield Finding(where, attribute_name(tag), rule.action, "present")
        return
    value = node.get(tag)
    if rule.op is Op.EMPTY and value not in (None, "", b""):
        yield Finding(where, attribute_name(tag), rule.action, "not empty")
    elif rule.op is Op.PSEUDONYM and isinstance(value, str) and value.strip() and not value.startswith("ANON-"):
        yield Finding(where, attribute_name(tag), rule.action, "not a pseudonym")
