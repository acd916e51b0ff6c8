"""Keyed pseudonyms: the same input gives the same output in every file and every run.

UIDs, patient identifiers and the per-patient date shift are derived with HMAC-SHA256
under a secret key (RFC 2104), so one patient's studies stay linked after
de-identification while nothing links back to the originals without the key. A UID
becomes ``2.25.<decimal of 128 bits>`` (PS3.5 B.2: a UUID-derived UID, 44 characters at
most); a patient identifier becomes ``ANON-`` and 16 base-32 characters (80 bits).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import NewType

from medsight.errors import DeidentificationKeyError

__all__ = ["MAX_SHIFT_DAYS", "MIN_KEY_BYTES", "Pseudonym", "Pseudonymizer"]

MIN_KEY_BYTES = 16
#: Dates move back by 1..3650 days (whole days, so weekdays of times stay plausible).
MAX_SHIFT_DAYS = 3650

Pseudonym = NewType("Pseudonym", str)


class Pseudonymizer:
    """Keyed, consistent replacements for identifiers (one key, many files, many runs)."""

    __slots__ = ("_key", "_uids")

    def __init__(self, key: bytes) -> None:
        """Keep the key; refuse one shorter than :data:`MIN_KEY_BYTES`.

        Raises:
            DeidentificationKeyError: the key is empty or too short.
        """
        if len(key) < MIN_KEY_BYTES:
            raise DeidentificationKeyError(f"the de-identification key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self._uids: dict[str, str] = {}

    def _digest(self, purpose: bytes, value: str) -> bytes:
        message = purpose + b"\x00" + value.encode("utf-8", "surrogateescape")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def uid(self, value: str) -> str:
        """The pseudonym UID for ``value`` (trailing NUL padding and spaces ignored)."""
        value = value.strip("\x00 ")
        found = self._uids.get(value)
        if found is None:
            found = "2.25." + str(int.from_bytes(self._digest(b"uid", value)[:16], "big"))
            if len(self._uids) < 100_000:
                self._uids[value] = found
        return found

    def patient(self, value: str) -> Pseudonym:
        """The pseudonym for a patient identifier (Patient ID, Patient's Name)."""
        digest = self._digest(b"patient", value.strip())
        return Pseudonym("ANON-" + base64.b32encode(digest[:10]).decode("ascii"))

    def date_shift_days(self, patient_id: str) -> int:
        """Days to move this patient's dates back (1..3650), the same in every file."""
        digest = self._digest(b"date-shift", patient_id.strip())
        return 1 + int.from_bytes(digest[:4], "big") % MAX_SHIFT_DAYS
