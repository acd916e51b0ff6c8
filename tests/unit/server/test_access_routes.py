"""Users and tokens over HTTP, and the problem bodies errors become."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.unit.server.conftest import auth

from medsight.access import Role


def test_an_admin_issues_a_token_that_works_once_shown(client: TestClient, tokens: dict[Role, str]) -> None:
    created = client.post(
        "/api/v1/tokens", json={"role": "device", "name": "probe-7", "expires": "1d"}, headers=auth(tokens[Role.ADMIN])
    )
    assert created.status_code == 201
    body = created.json()
    assert body["role"] == "device"
    assert body["state"] == "active"
    me = client.get("/api/v1/me", headers=auth(body["value"]))
    assert me.json()["role"] == "device"
    listed = client.get("/api/v1/tokens", headers=auth(tokens[Role.AUDITOR])).json()
    assert body["id"] in {token["id"] for token in listed}
    assert body["value"] not in str(listed)


def test_revoking_over_http_stops_the_token(client: TestClient, tokens: dict[Role, str]) -> None:
    admin = auth(tokens[Role.ADMIN])
    created = client.post("/api/v1/tokens", json={"role": "referrer"}, headers=admin).json()
    assert client.delete(f"/api/v1/tokens/{created['id']}", headers=admin).json()["state"] == "revoked"
    assert client.get("/api/v1/me", headers=auth(created["value"])).status_code == 401


def test_users_over_http(client: TestClient, tokens: dict[Role, str]) -> None:
    admin = auth(tokens[Role.ADMIN])
    assert (
        client.post("/api/v1/users", json={"name": "dr.ada", "role": "radiologist"}, headers=admin).status_code == 201
    )
    again = client.post("/api/v1/users", json={"name": "dr.ada", "role": "radiologist"}, headers=admin)
    assert again.status_code == 400
    assert [user["name"] for user in client.get("/api/v1/users", headers=admin).json()] == ["dr.ada"]


def test_problems_carry_code_message_and_request_id_without_echoing_input(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    response = client.post(
        "/api/v1/tokens", json={"role": "DOE^JANE"}, headers={**auth(tokens[Role.ADMIN]), "X-Request-ID": "abc-1"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "usage.invalid"
    assert body["request_id"] == "abc-1" == response.headers["x-request-id"]
    assert "DOE" not in response.text


def test_validation_errors_name_the_field_not_the_value(client: TestClient, tokens: dict[Role, str]) -> None:
    response = client.post("/api/v1/users", json={"name": "x" * 300, "role": "admin"}, headers=auth(tokens[Role.ADMIN]))
    assert response.status_code == 400
    assert "name" in response.json()["message"]
    assert "xxxx" not in response.text


def test_an_unsafe_request_id_is_replaced(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "DOE JANE <1970>"})
    assert response.headers["x-request-id"] != "DOE JANE <1970>"
    assert len(response.headers["x-request-id"]) == 16


def test_unknown_routes_are_problems(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["code"] == "http.not_found"


def test_openapi_documents_bearer_auth(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200
