"""Bearer tokens: made from the OS's random source, shown once, kept only as a hash.

A token reads ``msk_<id>_<secret>``: the id (8 bytes, hex) names the row without
revealing anything, the secret (32 bytes, URL-safe base64) is what proves possession.
The store keeps ``sha256(token)``; a random 256-bit secret needs no slow password hash,
since nobody can guess it, and the lookup by id plus :func:`hmac.compare_digest` keeps the
comparison constant-time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from medsight.errors import UsageError

__all__ = ["TOKEN_PREFIX", "IssuedSecret", "hash_secret", "new_secret", "parse_duration", "split_token"]

TOKEN_PREFIX = "msk"
_TOKEN = re.compile(rf"^{TOKEN_PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})$")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class IssuedSecret:
    """A new token: ``value`` goes to the holder once; only ``digest`` is stored."""

    token_id: str
    value: str
    digest: str


def new_secret() -> IssuedSecret:
    """Draw a new token from the OS's cryptographic random source."""
    token_id = secrets.token_hex(8)
    value = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    return IssuedSecret(token_id=token_id, value=value, digest=hash_secret(value))


def hash_secret(value: str) -> str:
    """The stored form of a token: its sha256, hex."""
    return hashlib.sha256(value.encode()).hexdigest()


def split_token(value: str) -> str | None:
    """The id of a well-formed token, or None for anything else (never raises)."""
    match = _TOKEN.match(value)
    return match.group(1) if match else None


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``2w`` or ``45s`` as a time span.

    Raises:
        UsageError: anything else, or zero.
    """
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise UsageError("a duration is a positive number with a unit s, m, h, d or w (for example 90d)")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
