"""WebSocket plumbing: close codes for errors, and the adapter a stream session talks to.

**Close codes.** A WebSocket has no status line after the upgrade, so each error
closes the connection with a code from the private range (RFC 6455 7.4.2), derived
from the same table as HTTP statuses: ``4000 + HTTP_STATUS`` of the error's class.
The reason (at most 123 bytes) is the error's code and message, never patient data.

=====  ==========================  =============================================
code   error                       when
=====  ==========================  =============================================
1000   (normal)                    the client sent ``{"type": "end"}``: summary sent
1001   (going away)                no message for the idle timeout (60 s)
4400   ``stream.malformed_message`` bad framing, header, JSON or pixels
4401   ``access.unauthenticated``  no token, a bad one, or none within the timeout
4403   ``access.forbidden``        the token's role holds no ``streams:write``
4403   ``stream.unknown_device``   a message names another device than the token's
4404   ``resource.not_found``      no live stream for that task
4409   ``model.unreleased``        the service runs released models only, and this one is not
4413   ``input.resource_limit``    a frame larger than the pixel limit
4503   ``stream.busy``             the process serves its most streams already
1009   (too big)                   a message over 16 MiB (uvicorn's limit)
1011   (internal)                  a bug; the log names its class, never its message
=====  ==========================  =============================================
"""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from medsight.errors import MedsightError
from medsight.server.problems import status_for
from medsight.services.streams.session import Incoming

__all__ = ["ABNORMAL", "GOING_AWAY", "INTERNAL_ERROR", "NORMAL", "SocketAdapter", "close_code_for", "close_reason"]

NORMAL = 1000
GOING_AWAY = 1001
ABNORMAL = 1006  # never sent: the log's code for a client that vanished without a close frame
INTERNAL_ERROR = 1011
_MAX_REASON_BYTES = 123


def close_code_for(error: MedsightError) -> int:
    """The close code of ``error``: 4000 plus its HTTP status."""
    return 4000 + status_for(error)


def close_reason(error: MedsightError) -> str:
    """``code: message``, cut to what a close frame holds."""
    text = f"{error.code}: {error.message}".encode()
    return text[:_MAX_REASON_BYTES].decode(errors="ignore")


class SocketAdapter:
    """A Starlette WebSocket as the :class:`~medsight.services.streams.session.Socket` a session reads."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def receive(self) -> Incoming:
        """The next data message; None when the client disconnected."""
        try:
            message = await self.websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        if message.get("bytes") is not None:
            data: bytes = message["bytes"]
            return data
        text: str = message.get("text") or ""
        return text

    async def send_json(self, data: dict[str, Any]) -> None:
        """Send ``data`` as one text message; nothing when the client has gone (the receiver sees it)."""
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.websocket.send_json(data)

    async def close(self, code: int, reason: str = "") -> None:
        """Close unless already closed."""
        if self.websocket.application_state is WebSocketState.CONNECTED and (
            self.websocket.client_state is WebSocketState.CONNECTED
        ):
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await self.websocket.close(code, reason)
