"""``medsight keys`` as hospital IT meets it: generate, status, rotate, and a lost key at start-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.unit.cli.test_cli import medsight


def test_generate_status_rotate(tmp_path: Path) -> None:
    var = tmp_path / "var"
    # Any service command on a new data folder makes its key (the store is sealed by default).
    assert medsight("users", "add", "dr.ada", "--role", "radiologist", "--data-dir", var).returncode == 0
    status = json.loads(medsight("keys", "status", "--json", "--data-dir", var).stdout)
    assert status["encrypted"]
    assert status["store_key_ids"] == [status["configured_key_id"]]

    made = medsight("keys", "generate", tmp_path / "new.key", "--json")
    assert made.returncode == 0, made.stderr
    new_id = json.loads(made.stdout)["key_id"]
    again = medsight("keys", "generate", tmp_path / "new.key")
    assert again.returncode == 4
    assert again.stderr.startswith("error[privacy.master_key]")

    rotated = medsight("keys", "rotate", "--new-key-file", tmp_path / "new.key", "--data-dir", var)
    assert rotated.returncode == 0, rotated.stderr
    assert f"-> {new_id}" in rotated.stdout
    assert json.loads(medsight("keys", "status", "--json", "--data-dir", var).stdout)["configured_key_id"] == new_id


def test_a_lost_key_is_one_line_at_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    var = tmp_path / "var"
    assert medsight("users", "add", "dr.ada", "--role", "radiologist", "--data-dir", var).returncode == 0
    (var / "master.key").rename(tmp_path / "elsewhere.key")
    done = medsight("users", "list", "--data-dir", var)
    assert done.returncode == 4
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error[privacy.master_key]: this store is encrypted at rest under master key ")
    assert "Traceback" not in done.stderr
    monkeypatch.setenv("MEDSIGHT_MASTER_KEY_FILE", str(tmp_path / "elsewhere.key"))
    moved = medsight("users", "list", "--data-dir", var)
    assert moved.returncode == 0, moved.stderr
