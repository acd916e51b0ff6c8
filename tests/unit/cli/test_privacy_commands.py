"""`medsight keys`, `dataset build` and `consent usage` as hospital IT and an auditor meet them."""

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


def test_dataset_build_and_consent_usage_answer_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDSIGHT_DEID_KEY", "k" * 32)
    (tmp_path / "labels.csv").write_text("study,label\n1.2.3,NORMAL\n")
    var = tmp_path / "var"
    done = medsight(
        "dataset",
        "build",
        "-t",
        "cxr-pneumonia",
        "--labels",
        tmp_path / "labels.csv",
        "-o",
        tmp_path / "o",
        "--data-dir",
        var,
    )
    assert done.returncode == 3
    [line] = done.stderr.strip().splitlines()
    assert (
        line
        == "error[input.invalid_dataset]: labels.csv needs the columns study_instance_uid,label (and optionally split)"
    )
    usage = medsight("consent", "usage", "--pseudonym", "ANON-AAAAAAAAAAAAAAAA", "--json", "--data-dir", var)
    assert usage.returncode == 0, usage.stderr
    assert json.loads(usage.stdout) == {"pseudonym": "ANON-AAAAAAAAAAAAAAAA", "runs": []}
