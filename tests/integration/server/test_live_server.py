"""The real server process starts, authenticates, logs request ids and stops on SIGTERM."""

from __future__ import annotations

import httpx
import pytest
from tests.integration.server.live import LiveServer

pytestmark = pytest.mark.integration


def test_health_needs_no_token_and_everything_else_does(live_server: LiveServer, admin_token: str) -> None:
    assert httpx.get(f"{live_server.url}/health").json()["status"] == "ok"
    denied = httpx.get(f"{live_server.url}/api/v1/me")
    assert denied.status_code == 401
    assert denied.headers["content-type"].startswith("application/problem+json")
    assert denied.json()["request_id"] == denied.headers["x-request-id"]
    me = httpx.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {admin_token}"})
    assert me.status_code == 200
    assert me.json()["role"] == "admin"


def test_log_lines_carry_the_request_id_and_no_query_string(live_server: LiveServer, admin_token: str) -> None:
    response = httpx.get(
        f"{live_server.url}/api/v1/tokens",
        params={"PatientName": "DOE^JANE"},
        headers={"Authorization": f"Bearer {admin_token}", "X-Request-ID": "trace-me-42"},
    )
    assert response.headers["x-request-id"] == "trace-me-42"
    log = live_server.log()
    assert "[trace-me-42] medsight.access_log: GET /api/v1/tokens 200" in log
    assert "DOE" not in log
    assert admin_token not in log


def test_sigterm_stops_the_server_cleanly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(data_dir=tmp_path / "var").start()
    # uvicorn finishes its shutdown, then re-raises the signal it caught: -15 is a clean stop.
    assert server.stop() in (0, -15)
    assert "Application shutdown complete" in server.log()
