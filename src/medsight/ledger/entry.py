"""The ledger's entries: one canonical, compact byte string per event.

An entry says who did what to which object and when, and never carries patient data:
the object is a content hash (``sha256:<hex>``) or a pseudonymous identifier
(``study:<hex>``, ``user:<name>``...), checked against a narrow alphabet so that a
name or a date of birth cannot slip in by mistake. The encoding is the leaf's bytes,
so it must be canonical (one event, one byte string) and strict (every byte string
either decodes to exactly one entry or is refused)::

    u8    version (1)
    u8    event type (see EventType; the code, not the name, is stored)
    u64   time, milliseconds since the Unix epoch, UTC, big-endian
    u8    length, then that many ASCII bytes: actor
    u8    length, then ASCII: object
    u8    length, then ASCII: model name (empty unless an analysis)
    u8    length, then ASCII: model version (empty unless an analysis)
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = ["Entry", "EntryFormatError", "EventType"]

_VERSION = 1
_HEADER = struct.Struct(">BBQ")
#: Identifiers, content hashes, pseudonyms and model names: nothing a person's name fits in by accident.
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._@/+-]{0,127}")
_MODEL = re.compile(r"[A-Za-z0-9._+-]{0,64}")


class EntryFormatError(ValueError):
    """Bytes that are not a canonical entry, or fields that cannot make one."""


class EventType(StrEnum):
    """What happened; the numeric code in the entry is the position in this list, plus one."""

    INGEST = "ingest"
    VIEW = "view"
    DOWNLOAD = "download"
    ANALYZE = "analyze"
    SHARE = "share"
    SHARE_ACCESS = "share-access"
    EXPORT = "export"
    DEIDENTIFY = "de-identify"
    CONSENT_CHANGE = "consent-change"
    MODEL_DEPLOY = "model-deploy"
    LOGIN_FAILURE = "login-failure"
    SHARE_REVOKE = "share-revoke"

    @property
    def wire(self) -> int:
        """The byte stored for this type (stable: new types are only ever appended)."""
        return _TYPES.index(self) + 1


_TYPES = list(EventType)


@dataclass(frozen=True)
class Entry:
    """One event, as the ledger records it.

    Args:
        event: what happened.
        actor: who did it (``user:<name>``, ``device:<id>``, ``share:<id>``...).
        object: what it was done to: a content hash or pseudonymous identifier.
        time_ms: when, in milliseconds since the epoch (UTC).
        model: name of the model, for analyses; empty otherwise.
        model_version: version of that model; empty otherwise.

    Raises:
        EntryFormatError: a field outside its alphabet or length.
    """

    event: EventType
    actor: str
    object: str
    time_ms: int
    model: str = ""
    model_version: str = ""

    def __post_init__(self) -> None:
        for name, pattern in (("actor", _TOKEN), ("object", _TOKEN), ("model", _MODEL), ("model_version", _MODEL)):
            value = getattr(self, name)
            if not isinstance(value, str) or not pattern.fullmatch(value):
                raise EntryFormatError(f"entry {name} is not an identifier of at most 128 plain characters")
        if not 0 <= self.time_ms < 1 << 63:
            raise EntryFormatError("entry time out of range")
        if not isinstance(self.event, EventType):
            raise EntryFormatError("entry event is not an EventType")

    @classmethod
    def now(cls, event: EventType, actor: str, object: str, *, model: str = "", model_version: str = "") -> Entry:
        """An entry stamped with the current time."""
        return cls(event, actor, object, int(datetime.now(UTC).timestamp() * 1000), model, model_version)

    def encode(self) -> bytes:
        """The canonical bytes (the Merkle leaf)."""
        parts = [_HEADER.pack(_VERSION, self.event.wire, self.time_ms)]
        for text in (self.actor, self.object, self.model, self.model_version):
            raw = text.encode("ascii")
            parts.append(bytes([len(raw)]) + raw)
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes) -> Entry:
        """Parse canonical bytes; anything else (trailing bytes included) is refused.

        Raises:
            EntryFormatError: not a canonical entry.
        """
        if len(data) < _HEADER.size:
            raise EntryFormatError("entry too short")
        version, code, time_ms = _HEADER.unpack_from(data)
        if version != _VERSION:
            raise EntryFormatError(f"unknown entry version {version}")
        if not 1 <= code <= len(_TYPES):
            raise EntryFormatError(f"unknown event type {code}")
        fields: list[str] = []
        at = _HEADER.size
        for _ in range(4):
            if at >= len(data):
                raise EntryFormatError("entry truncated")
            size = data[at]
            raw = data[at + 1 : at + 1 + size]
            if len(raw) != size:
                raise EntryFormatError("entry truncated")
            try:
                fields.append(raw.decode("ascii"))
            except UnicodeDecodeError:
                raise EntryFormatError("entry field is not ASCII") from None
            at += 1 + size
        if at != len(data):
            raise EntryFormatError("trailing bytes after the entry")
        return cls(_TYPES[code - 1], fields[0], fields[1], time_ms, fields[2], fields[3])

    def to_json(self) -> dict[str, Any]:
        """The entry for people and JSON clients (time in ISO 8601, UTC)."""
        at = datetime.fromtimestamp(self.time_ms / 1000, UTC).isoformat(timespec="milliseconds")
        out: dict[str, Any] = {"event": self.event.value, "actor": self.actor, "object": self.object, "time": at}
        if self.model:
            out["model"] = {"name": self.model, "version": self.model_version}
        return out
