"""``medsight users`` and ``medsight tokens`` as an administrator meets them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.unit.cli.test_cli import medsight


def test_tokens_create_prints_the_token_alone_on_the_last_line(tmp_path: Path) -> None:
    done = medsight("tokens", "create", "--role", "admin", "--name", "ops", "--data-dir", tmp_path / "var")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    assert token.startswith("msk_")
    assert " " not in token
    listed = medsight("tokens", "list", "--json", "--data-dir", tmp_path / "var")
    [row] = json.loads(listed.stdout)
    assert row["name"] == "ops"
    assert row["state"] == "active"
    assert token not in listed.stdout


def test_users_and_their_tokens(tmp_path: Path) -> None:
    var = tmp_path / "var"
    assert medsight("users", "add", "dr.ada", "--role", "radiologist", "--data-dir", var).returncode == 0
    issued = medsight("tokens", "create", "--user", "dr.ada", "--expires", "90d", "--json", "--data-dir", var)
    body = json.loads(issued.stdout)
    assert (body["role"], body["user"]) == ("radiologist", "dr.ada")
    revoked = medsight("tokens", "revoke", body["id"], "--json", "--data-dir", var)
    assert json.loads(revoked.stdout)["state"] == "revoked"


def test_the_data_dir_comes_from_the_environment_too(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEDSIGHT_DATA_DIR", str(tmp_path / "env-var"))
    assert medsight("tokens", "create", "--role", "device").returncode == 0
    assert (tmp_path / "env-var" / "medsight.db").is_file()


def test_mistakes_are_one_line_errors_with_documented_exit_codes(tmp_path: Path) -> None:
    var = tmp_path / "var"
    bad_role = medsight("tokens", "create", "--role", "superuser", "--data-dir", var)
    assert bad_role.returncode == 2
    assert bad_role.stderr.strip().startswith("error[usage.invalid]: unknown role")
    no_role = medsight("tokens", "create", "--data-dir", var)
    assert no_role.returncode == 2
    bad_expiry = medsight("tokens", "create", "--role", "device", "--expires", "forever", "--data-dir", var)
    assert bad_expiry.returncode == 2
    unknown = medsight("tokens", "revoke", "0123456789abcdef", "--data-dir", var)
    assert unknown.returncode == 3
    assert unknown.stderr.count("\n") == 1


def test_an_invalid_service_setting_is_one_line_naming_it_never_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDSIGHT_RELEASE_POLICY", "sometimes-secret")
    done = medsight("users", "list", "--data-dir", tmp_path / "var")
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "error[usage.invalid]: invalid service setting(s): MEDSIGHT_RELEASE_POLICY (see medsight.settings)"
    )
    assert "sometimes-secret" not in done.stderr
