"""Who may stream, and as which device.

A stream is authenticated once, when it opens, with a token from ``medsight tokens
create`` whose role holds ``streams:write`` (device, radiologist, admin). The token
travels in the ``Authorization: Bearer`` header of the upgrade request (devices, the
CLI) or, where a client cannot set headers (a browser's ``WebSocket``), in the first
message, ``{"type": "auth", "token": "msk_..."}``; never in the URL, where proxies
and logs would keep it.

A **device** token is issued to one device: its name (``tokens create --role device
--name probe-7``) is that device's id, and every message of the stream must carry it;
any other id is an unknown device (``stream.unknown_device``). Tokens of people
(radiologist, admin: the viewer's live mode) may stream as any device id; the stream is
bound to the id of its first message.
"""

from __future__ import annotations

import json

from medsight.access import Principal, Role
from medsight.errors import AuthenticationError
from medsight.services.accounts import AccessService

__all__ = ["authorization_from_message", "device_of"]


def authorization_from_message(text: str | bytes | None) -> str:
    """The ``Authorization`` value carried by a first message ``{"type": "auth", "token": ...}``.

    Raises:
        AuthenticationError: anything else (including no message at all).
    """
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        data = None
    token = data.get("token") if isinstance(data, dict) and data.get("type") == "auth" else None
    if not isinstance(token, str) or not token.strip():
        raise AuthenticationError(
            "authenticate with Authorization: Bearer <token> on the upgrade request, "
            'or a first message {"type": "auth", "token": "<token>"}'
        )
    return f"Bearer {token.strip()}"


def device_of(access: AccessService, principal: Principal) -> str | None:
    """The device id a device token was issued to (its name); None for people's tokens."""
    if principal.role is not Role.DEVICE:
        return None
    record = access.accounts.token(principal.token_id)
    return record.name if record is not None else None
