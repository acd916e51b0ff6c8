"""Dependencies every route declares: the service context, the caller, the scope it needs.

``Allow(scope)`` is the one way a route states what it needs; the route-by-role test
(``tests/integration/server/test_route_matrix.py``) reads those declarations from the app, so a
new route is covered the moment it is added.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request, WebSocket, WebSocketException
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from medsight.access import Principal, Scope
from medsight.errors import AuthenticationError, MedsightError
from medsight.server.sockets import close_code_for, close_reason
from medsight.services.accounts import AccessService
from medsight.services.context import ServiceContext
from medsight.services.shares import SESSION_PREFIX
from medsight.services.streams.access import authorization_from_message

__all__ = ["Allow", "AllowOwnStudy", "AllowSocket", "ContextDep", "PrincipalDep", "get_context", "get_principal"]

# auto_error=False: a missing header is answered by our own 401 problem, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="A token from `medsight tokens create`.")


async def get_context(request: Request) -> ServiceContext:
    """The service context the app was started with.

    Dependencies that do no I/O are ``async``: FastAPI runs a plain ``def`` dependency in
    the thread pool, a hop that costs more than the work here.
    """
    context: ServiceContext = request.app.state.context
    return context


ContextDep = Annotated[ServiceContext, Depends(get_context)]


def get_principal(
    request: Request,
    context: ContextDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller (401 problem otherwise; a token offered and refused is a ledger entry)."""
    authorization = request.headers.get("authorization")
    try:
        principal = _authenticate(context, authorization)
    except AuthenticationError:
        if authorization and context.ledger is not None:
            client = request.client.host if request.client is not None else "unknown"
            context.ledger.login_failure(authorization, client)
        raise
    request.state.actor = principal.actor  # for the access log
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _authenticate(context: ServiceContext, authorization: str | None) -> Principal:
    """An account's bearer token, or the session token of an opened share link (one study, read-only)."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip().startswith(SESSION_PREFIX) and context.shares is not None:
        return context.shares.authenticate(value.strip())
    return context.access.authenticate(authorization)


class Allow:
    """A dependency that admits callers whose role holds ``scope`` (403 problem otherwise)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, principal: PrincipalDep) -> Principal:
        AccessService.require(principal, self.scope)
        return principal

    def __repr__(self) -> str:
        return f"Allow({self.scope.value})"


class AllowOwnStudy(Allow):
    """``Allow(scope)``, and also a caller limited to its own studies for the ``{study}`` in the path.

    A referrer holds no ``studies:read``, yet may see the images of a study it sent (it
    sent them) beside their results; every other study stays closed to it (403), and so
    do searches across studies, which keep plain ``Allow``.
    """

    async def __call__(self, principal: PrincipalDep, request: Request, context: ContextDep) -> Principal:  # type: ignore[override]
        study = request.path_params.get("study")
        if principal.allows(self.scope) or not principal.own_studies_only or study is None:
            return await super().__call__(principal)
        await run_in_threadpool(context.access.require_study, principal, study)
        return principal

    def __repr__(self) -> str:
        return f"AllowOwnStudy({self.scope.value})"


class AllowSocket(Allow):
    """``Allow(scope)`` for a WebSocket route: authenticate, then admit or close.

    The connection is accepted first, so that a refusal is a close code the client can
    read (4401, 4403: ``server/sockets.py``) rather than a failed handshake. The token
    comes from the upgrade request's ``Authorization`` header or, when there is none,
    from a first message ``{"type": "auth", "token": ...}`` within ``timeout_s``
    (browsers cannot set headers on a WebSocket). Never from the URL.
    """

    def __init__(self, scope: Scope, timeout_s: float = 5.0) -> None:
        super().__init__(scope)
        self.timeout_s = timeout_s

    async def __call__(self, websocket: WebSocket) -> Principal:  # type: ignore[override]
        context: ServiceContext = websocket.app.state.context
        await websocket.accept()
        try:
            header = websocket.headers.get("authorization") or await self._first_message(websocket)
            principal = await run_in_threadpool(context.access.authenticate, header)
            AccessService.require(principal, self.scope)
        except MedsightError as exc:
            raise WebSocketException(close_code_for(exc), close_reason(exc)) from None
        return principal

    async def _first_message(self, websocket: WebSocket) -> str:
        try:
            message = await asyncio.wait_for(websocket.receive(), self.timeout_s)
        except TimeoutError:
            message = {}
        return authorization_from_message(message.get("text"))

    def __repr__(self) -> str:
        return f"AllowSocket({self.scope.value})"
