"""The release gate: a model is promoted only on a passing audit of its own weights, or a recorded override."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from medsight.errors import ReleaseRefusedError, UsageError
from medsight.models.bundle import load_bundle, record_audit
from medsight.services.release import PromoteRequest, promote, releases


@pytest.fixture
def bundle(tiny_bundle: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    return copy


def audited(path: Path, eod: float | None, *, sha256: str | None = None) -> None:
    loaded = load_bundle(path)
    summary: dict[str, Any] = {
        "passed": eod is None or eod <= 0.10,
        "model_sha256": sha256 or loaded.sha256,
        "split": "val",
        "data": {"file": "labels.csv"},
        "audited_at": "2026-01-01T00:00:00+00:00",
        "gaps": {"sex": {"min_group_n": 30, "equalized_odds_difference": eod, "equalized_odds_difference_ci": [0, 1]}},
    }
    record_audit(loaded, summary)


def request(path: Path, data_dir: Path, **kw: Any) -> PromoteRequest:
    return PromoteRequest(name=str(path), version="1.0.0", data_dir=data_dir, by="tester", **kw)


def test_a_model_without_an_audit_is_refused(bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(ReleaseRefusedError, match="no fairness audit"):
        promote(request(bundle, tmp_path))
    assert releases(tmp_path) == []


def test_a_passing_audit_is_promoted_once(bundle: Path, tmp_path: Path) -> None:
    audited(bundle, 0.04)
    record = promote(request(bundle, tmp_path))
    assert record["already_released"] is False
    assert record["override"] is None
    assert record["gate"]["checks"][0]["verdict"] == "pass"
    again = promote(request(bundle, tmp_path))
    assert again["already_released"] is True
    assert len(releases(tmp_path)) == 1


def test_a_failing_audit_is_refused_and_an_override_is_recorded_with_its_reason(bundle: Path, tmp_path: Path) -> None:
    audited(bundle, 0.25)
    with pytest.raises(ReleaseRefusedError, match="fairness gate failed"):
        promote(request(bundle, tmp_path))
    with pytest.raises(UsageError, match="reason"):
        promote(request(bundle, tmp_path, override_reason="ok"))
    reason = "site-specific deployment, male-only clinic, reviewed by the ethics board"
    record = promote(request(bundle, tmp_path, override_reason=reason))
    (line,) = releases(tmp_path)
    assert line["override"]["reason"] == reason
    assert "fairness gate failed" in line["override"]["refusals"][0]
    assert line["by"] == "tester"
    assert record["sha256"] == load_bundle(bundle).sha256


def test_an_audit_of_other_weights_is_refused(bundle: Path, tmp_path: Path) -> None:
    audited(bundle, 0.01, sha256="0" * 64)
    with pytest.raises(ReleaseRefusedError, match="other weights"):
        promote(request(bundle, tmp_path))


def test_a_stricter_configured_gate_is_applied_to_the_recorded_gaps(bundle: Path, tmp_path: Path) -> None:
    from medsight.audit import FairnessGate

    audited(bundle, 0.08)
    with pytest.raises(ReleaseRefusedError):
        promote(request(bundle, tmp_path, gate=FairnessGate(max_equalized_odds_difference=0.05)))


def test_the_version_must_be_the_bundles(bundle: Path, tmp_path: Path) -> None:
    audited(bundle, 0.01)
    with pytest.raises(UsageError, match="version"):
        promote(PromoteRequest(name=str(bundle), version="2.0.0", data_dir=tmp_path))
