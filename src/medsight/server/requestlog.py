"""Request ids and the access log, without patient data.

Every request gets an id (the caller's ``X-Request-ID`` when it is a short plain token,
else a new one), returned in the ``X-Request-ID`` header and in every problem body,
and added to every log line written while the request runs (:class:`RequestIdFilter`).

The access log names the route *template* (``/dicomweb/studies/{study}``), never the
path or query string: those carry UIDs and search terms such as a patient's name.
Uvicorn's own access log is switched off for the same reason (``medsight serve``).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_ID_HEADER", "RequestIdFilter", "RequestLogMiddleware", "current_request_id"]

REQUEST_ID_HEADER = "X-Request-ID"
_request_id: ContextVar[str] = ContextVar("medsight_request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_log = logging.getLogger("medsight.access_log")


def current_request_id() -> str:
    """The id of the request being handled, ``-`` outside one."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record, so a format can show ``%(request_id)s``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


class RequestLogMiddleware:
    """Pure ASGI middleware: sets the request id, adds its header, logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = _header(scope, b"x-request-id")
        request_id = offered if offered and _SAFE_ID.match(offered) else uuid.uuid4().hex[:16]
        token = _request_id.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _log.info(
                "%s %s %d %.1f ms actor=%s",
                scope.get("method", "-"),
                _route_template(scope),
                status,
                (time.perf_counter() - started) * 1000,
                scope.get("state", {}).get("actor", "-"),
            )
            _request_id.reset(token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            try:
                return bytes(value).decode("ascii")
            except UnicodeDecodeError:
                return None
    return None


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(no route)"
