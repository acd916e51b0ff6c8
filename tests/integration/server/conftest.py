"""Fixtures for tests against a real server process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.server.live import LiveServer


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A running ``medsight serve`` on a fresh data folder (one per test module)."""
    data_dir: Path = tmp_path_factory.mktemp("live") / "var"
    server = LiveServer(data_dir=data_dir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin_token(live_server: LiveServer) -> str:
    return live_server.token("--role", "admin")
