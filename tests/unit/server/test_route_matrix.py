"""Every route, called by every role and by nobody: allowed where the policy says, denied elsewhere.

The routes and the scope each needs are read from the app itself (``deps.Allow``), so a
route added later is in the matrix without editing this file, and a route that forgot
to declare a scope fails here instead of being open. WebSocket routes are in it too:
each must declare ``deps.AllowSocket``; a refusal there is a close code (4401, 4403)
instead of a status.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from tests.unit.server.conftest import auth

from medsight.access import ROLE_SCOPES, Role, Scope
from medsight.server import create_app
from medsight.server.deps import Allow, AllowSocket, get_principal

# Routes anyone may call, and routes any authenticated caller may call: both short on purpose.
# Opening a share link needs no account: the link's signed token is the credential.
PUBLIC = {("GET", "/health"), ("POST", "/api/v1/shares/open")}
ANY_ROLE = {("GET", "/api/v1/me")}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    scope: Scope | None  # None: authentication alone
    authenticated: bool

    @property
    def concrete_path(self) -> str:
        # Parameters get harmless values: the point is who gets past the door, not the answer.
        return re.sub(r"\{[^}]+\}", "1", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _walk(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _walk(sub)


def _api_routes(routes: list[object]) -> Iterator[APIRoute]:
    # FastAPI >= 0.16x keeps included routers as one entry each; their routes sit inside
    # (our routers carry their prefix themselves, so the paths are complete).
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(list(route.original_router.routes))


def endpoints(app: FastAPI) -> list[Endpoint]:
    found = []
    for route in _api_routes(list(app.routes)):
        calls = list(_walk(route.dependant))
        scopes = [call.scope for call in calls if isinstance(call, Allow)]
        assert len(scopes) <= 1, f"{route.path} declares several scopes"
        for method in sorted(route.methods):
            found.append(Endpoint(method, route.path, scopes[0] if scopes else None, get_principal in calls))
    return found


def _socket_routes(routes: list[object]) -> Iterator[APIWebSocketRoute]:
    for route in routes:
        if isinstance(route, APIWebSocketRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _socket_routes(list(route.original_router.routes))


def socket_endpoints(app: FastAPI) -> list[Endpoint]:
    found = []
    for route in _socket_routes(list(app.routes)):
        calls = [call for call in _walk(route.dependant) if isinstance(call, Allow)]
        assert len(calls) <= 1, f"{route.path} declares several scopes"
        scope = calls[0].scope if calls else None
        found.append(Endpoint("WEBSOCKET", route.path, scope, bool(calls) and isinstance(calls[0], AllowSocket)))
    return found


# Built from a throwaway app: the routes do not depend on the context.
ENDPOINTS = endpoints(create_app())
SOCKETS = socket_endpoints(create_app())


def test_the_matrix_sees_routes() -> None:
    assert len(ENDPOINTS) >= 7


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_every_route_is_public_by_name_or_needs_a_token(endpoint: Endpoint) -> None:
    key = (endpoint.method, endpoint.path)
    if key in PUBLIC:
        assert not endpoint.authenticated
    else:
        assert endpoint.authenticated, f"{endpoint} has no authentication"
        assert endpoint.scope is not None or key in ANY_ROLE, f"{endpoint} declares no scope (deps.Allow)"


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.authenticated], ids=str)
def test_without_a_token_every_protected_route_answers_401(client: TestClient, endpoint: Endpoint) -> None:
    response = client.request(endpoint.method, endpoint.concrete_path)
    assert response.status_code == 401
    assert response.json()["code"] == "access.unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.authenticated], ids=str)
def test_each_role_is_admitted_exactly_where_its_scopes_allow(
    client: TestClient, tokens: dict[Role, str], endpoint: Endpoint, role: Role
) -> None:
    response = client.request(endpoint.method, endpoint.concrete_path, headers=auth(tokens[role]))
    allowed = endpoint.scope is None or endpoint.scope in ROLE_SCOPES[role]
    if allowed:
        # Past the door: whatever the route answers to a dummy request, it is not a denial.
        assert response.status_code not in (401, 403), f"{role} denied on {endpoint}: {response.text}"
    else:
        assert response.status_code == 403, f"{role} admitted on {endpoint}"
        assert response.json()["code"] == "access.forbidden"


def test_a_revoked_token_is_refused_everywhere(client: TestClient, context, tokens: dict[Role, str]) -> None:  # type: ignore[no-untyped-def]
    token_id = context.access.authenticate(f"Bearer {tokens[Role.ADMIN]}").token_id
    context.access.revoke_token(token_id)
    for endpoint in (e for e in ENDPOINTS if e.authenticated):
        response = client.request(endpoint.method, endpoint.concrete_path, headers=auth(tokens[Role.ADMIN]))
        assert response.status_code == 401, endpoint


def _close_code(client: TestClient, path: str, headers: dict[str, str] | None, first: str | None = None) -> int | None:
    """The close code a socket route answers with (None: it kept the stream open)."""
    with client.websocket_connect(path, headers=headers or {}) as ws:
        if first is not None:
            ws.send_text(first)
        message = ws.receive()
    return message.get("code") if message["type"] == "websocket.close" else None


def test_the_matrix_sees_socket_routes() -> None:
    assert [e.path for e in SOCKETS] == ["/api/v1/streams/{task}"]


@pytest.mark.parametrize("endpoint", SOCKETS, ids=str)
def test_every_socket_route_authenticates_and_declares_a_scope(endpoint: Endpoint) -> None:
    assert endpoint.authenticated, f"{endpoint} does not use deps.AllowSocket"
    assert endpoint.scope is not None


@pytest.mark.parametrize("endpoint", SOCKETS, ids=str)
def test_without_a_token_every_socket_route_closes_4401(client: TestClient, endpoint: Endpoint) -> None:
    assert _close_code(client, endpoint.concrete_path, None, first="{}") == 4401
    assert _close_code(client, endpoint.concrete_path, auth("msk_nope_nope")) == 4401


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("endpoint", SOCKETS, ids=str)
def test_each_role_is_admitted_to_socket_routes_exactly_where_its_scopes_allow(
    client: TestClient, tokens: dict[Role, str], endpoint: Endpoint, role: Role
) -> None:
    code = _close_code(client, endpoint.concrete_path, auth(tokens[role]))
    if endpoint.scope in ROLE_SCOPES[role]:
        assert code not in (4401, 4403), f"{role} denied on {endpoint}"
    else:
        assert code == 4403, f"{role} admitted on {endpoint}"


def test_a_revoked_token_is_refused_on_socket_routes(client: TestClient, context, tokens: dict[Role, str]) -> None:  # type: ignore[no-untyped-def]
    context.access.revoke_token(context.access.authenticate(f"Bearer {tokens[Role.DEVICE]}").token_id)
    for endpoint in SOCKETS:
        assert _close_code(client, endpoint.concrete_path, auth(tokens[Role.DEVICE])) == 4401
