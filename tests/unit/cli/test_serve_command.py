"""``medsight serve``: where it listens, from its options, then MEDSIGHT_HOST/PORT, then defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import medsight.server
from medsight.cli import serve as serve_module
from medsight.cli.app import app


@pytest.fixture
def listened(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What uvicorn.run was asked; no server starts, no logging is reconfigured."""
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    monkeypatch.setattr(medsight.server, "create_app", lambda settings, on_startup: object())
    monkeypatch.setattr(serve_module, "_configure_logging", lambda request_ids: None)
    return seen


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({}, [], ("127.0.0.1", 8000)),
        ({"MEDSIGHT_HOST": "0.0.0.0", "MEDSIGHT_PORT": "9123"}, [], ("0.0.0.0", 9123)),
        (
            {"MEDSIGHT_HOST": "0.0.0.0", "MEDSIGHT_PORT": "9123"},
            ["--host", "10.1.2.3", "--port", "8443"],
            ("10.1.2.3", 8443),
        ),
    ],
)
def test_the_address_comes_from_the_options_then_the_environment(
    listened: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: dict[str, str],
    args: list[str],
    expected: tuple[str, int],
) -> None:
    for name in ("MEDSIGHT_HOST", "MEDSIGHT_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    done = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path / "var"), *args])
    assert done.exit_code == 0, done.output
    assert (listened["host"], listened["port"]) == expected
    assert f"http://{expected[0]}:{expected[1]}" in done.output
