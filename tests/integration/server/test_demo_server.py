"""``medsight serve --demo`` (what ``make run`` starts): demo studies in, a working admin token out."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.conftest import SHARED
from tests.integration.server.live import LiveServer

pytestmark = pytest.mark.integration

_MARKER = "admin token (shown once; the previous demo token is revoked):"


def _demo_token(server: LiveServer) -> str:
    lines = server.log().splitlines()
    return lines[lines.index(_MARKER) + 1].strip()


def _me(server: LiveServer, token: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_the_demo_prints_a_working_admin_token_and_replaces_it_on_restart(tmp_path: Path) -> None:
    args = ["--demo", *(["--shared", str(SHARED)] if SHARED.is_dir() else [])]
    first_server = LiveServer(data_dir=tmp_path / "var", extra_args=args).start()
    try:
        first = _demo_token(first_server)
        assert _me(first_server, first).json()["role"] == "admin"
        assert f"medsight is at {first_server.url}" in first_server.log()
    finally:
        first_server.stop()

    second_server = LiveServer(data_dir=tmp_path / "var", extra_args=args).start()
    try:
        second = _demo_token(second_server)
        assert "demo: 0 objects stored" in second_server.log()
        assert second != first
        assert _me(second_server, first).status_code == 401
        assert _me(second_server, second).status_code == 200
    finally:
        second_server.stop()
