"""``medsight deid`` as a user meets it: key required, exit 4 on refusal and on residue, JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.data.deid_corpus import write_corpus, write_planted


def medsight(*args: str | Path, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MEDSIGHT_DEID_KEY"}
    if key is not None:
        env["MEDSIGHT_DEID_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "medsight", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_refuses_to_run_without_a_key(tmp_path: Path) -> None:
    source = write_planted(tmp_path / "in.dcm")
    done = medsight("deid", source, tmp_path / "out.dcm")
    assert done.returncode == 4
    assert done.stderr.startswith("error[privacy.no_key]:")
    assert "--key-file" in done.stderr
    assert not (tmp_path / "out.dcm").exists()


def test_deid_then_check(tmp_path: Path) -> None:
    list(write_corpus(tmp_path / "in", 10, patients=2, size=16))
    (tmp_path / "key").write_text("a-secret-key-for-tests\n")
    refused = medsight("deid", tmp_path / "in", tmp_path / "r", "--key-file", tmp_path / "key")
    assert refused.returncode == 4  # one ultrasound with burned-in text, not cleaned
    assert "privacy.burned_in_text" in refused.stderr
    done = medsight(
        "deid", tmp_path / "in", tmp_path / "out", "--key-file", tmp_path / "key", "-o", "clean-pixel-data", "--json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["written"], result["cleaned"], result["refused"]) == (10, 1, [])
    checked = medsight("deid", "--check", tmp_path / "out", "--json")
    assert checked.returncode == 0, checked.stdout
    assert json.loads(checked.stdout)["clean"] is True
    before = medsight("deid", "--check", tmp_path / "in")
    assert before.returncode == 4
    assert "error[privacy.residual_phi]" in before.stderr
    assert "(0010,1010) Patient's Age [X]: present" in before.stdout
    assert "image flagged: Burned In Annotation is YES" in before.stdout
    assert "PHI" not in before.stdout + before.stderr + done.stdout + refused.stderr


def test_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    done = medsight("deid", tmp_path, tmp_path / "o", "-o", "retain-all", key="k" * 20)
    assert done.returncode == 2
    assert "usage.invalid" in done.stderr


def test_consent_grant_show_withdraw(tmp_path: Path) -> None:
    key = "a-secret-key-for-tests"
    data = ["--data-dir", str(tmp_path / "var")]
    granted = medsight("consent", "grant", "--patient-id", "MRN-9", "--purpose", "model-training", *data, key=key)
    assert granted.returncode == 0, granted.stderr
    assert "MRN-9" not in granted.stdout
    pseudonym = granted.stdout.split(":")[0]
    assert pseudonym.startswith("ANON-")
    medsight("consent", "withdraw", "--pseudonym", pseudonym, "--purpose", "model-training", *data)
    shown = medsight("consent", "show", "--patient-id", "MRN-9", "--json", *data, key=key)
    assert json.loads(shown.stdout) == {"pseudonym": pseudonym, "in_force": {"model-training": False}, "decisions": 2}
    missing = medsight("consent", "show", "--patient-id", "MRN-9", *data)
    assert missing.returncode == 4
    assert "privacy.no_key" in missing.stderr
