"""The release gate: a model is promoted only on a passing audit of its own weights, or a recorded override."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from medsight.errors import ReleaseRefusedError, UsageError
from medsight.ledger.entry import Entry, EventType
from medsight.models.bundle import load_bundle, record_audit, write_metadata
from medsight.services.accounts import AccessService
from medsight.services.jobs import JobService
from medsight.services.ledger import LedgerService
from medsight.services.release import RELEASES_FILE, PromoteRequest, promote, releases
from medsight.settings import ServiceSettings, StoreSettings
from medsight.store import Store
from medsight.store.accounts import Accounts
from medsight.store.jobs import ModelRef


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
        "config_sha256": loaded.config_sha256,
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
    # The ledger names the settings released, which commit to the weights' hashes too.
    store = Store.open(StoreSettings(data_dir=tmp_path))
    try:
        ledger = LedgerService.open(store.sessions, tmp_path)
        deployed = Entry.decode(ledger.receipt(ledger.size() - 1).entry)
    finally:
        store.close()
    assert (deployed.event, deployed.model) == (EventType.MODEL_DEPLOY, load_bundle(bundle).name)
    assert deployed.object == f"config-sha256:{record['config_sha256']}"
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


def moved_threshold(path: Path, threshold: float) -> None:
    """What a hand edit of configs/metadata.json does: the weights and their hashes stay."""
    loaded = load_bundle(path)
    section = loaded.metadata.medsight.model_copy(update={"threshold": threshold})
    write_metadata(path, loaded.metadata.model_copy(update={"medsight": section}))


def test_an_audit_made_at_another_threshold_is_refused(bundle: Path, tmp_path: Path) -> None:
    audited(bundle, 0.01)
    moved_threshold(bundle, 0.123)
    assert (
        load_bundle(bundle).sha256 == load_bundle(bundle).metadata.medsight.weights["model.pt"]
    )  # loads: weights intact
    with pytest.raises(ReleaseRefusedError, match="other settings"):
        promote(request(bundle, tmp_path))
    assert releases(tmp_path) == []


def test_an_audit_that_does_not_name_its_settings_is_refused(bundle: Path, tmp_path: Path) -> None:
    audited(bundle, 0.01)
    loaded = load_bundle(bundle)
    record_audit(loaded, {k: v for k, v in loaded.metadata.medsight.audit.items() if k != "config_sha256"})
    with pytest.raises(ReleaseRefusedError, match="does not name the settings"):
        promote(request(bundle, tmp_path))


def test_the_settings_digest_follows_what_decides_outputs_not_the_records(bundle: Path) -> None:
    before = load_bundle(bundle).config_sha256
    audited(bundle, 0.01)  # an audit is a record: the digest stays
    assert load_bundle(bundle).config_sha256 == before
    moved_threshold(bundle, 0.5000001)
    assert load_bundle(bundle).config_sha256 != before


def test_a_released_model_whose_threshold_moved_is_not_already_released(bundle: Path, tmp_path: Path) -> None:
    audited(bundle, 0.01)
    first = promote(request(bundle, tmp_path))
    assert first["config_sha256"] == load_bundle(bundle).config_sha256
    assert first["audit"]["config_sha256"] == first["config_sha256"]
    moved_threshold(bundle, 0.2)
    audited(bundle, 0.01)  # audited again at the new threshold
    second = promote(request(bundle, tmp_path))
    assert second["already_released"] is False
    assert second["config_sha256"] != first["config_sha256"]
    assert len(releases(tmp_path)) == 2


def test_a_service_runs_only_the_released_settings(bundle: Path, tmp_path: Path, store: Store) -> None:
    # MEDSIGHT_RELEASE_POLICY=require asks JobService.released about the model about to run.
    audited(bundle, 0.01)
    promote(request(bundle, tmp_path))
    service = JobService(store, AccessService(Accounts(store.sessions)), ServiceSettings(data_dir=tmp_path))
    released = ModelRef.from_identity(load_bundle(bundle).identity())
    assert released.config_sha256 is not None
    assert service.released(released)
    moved_threshold(bundle, 0.3)
    moved = ModelRef.from_identity(load_bundle(bundle).identity())
    assert (moved.sha256, moved.input_gate_sha256) == (released.sha256, released.input_gate_sha256)
    assert not service.released(moved)  # same weights and gate, another threshold
    # A finished job's model, read back from the store, has no settings digest: weights and gate decide.
    assert service.released(replace(moved, config_sha256=None))


def test_a_release_recorded_before_settings_were_pinned_releases_no_model_about_to_run(
    bundle: Path, tmp_path: Path, store: Store
) -> None:
    audited(bundle, 0.01)
    record = promote(request(bundle, tmp_path))
    legacy = {k: v for k, v in record.items() if k not in ("config_sha256", "already_released")}
    (tmp_path / RELEASES_FILE).write_text(json.dumps(legacy) + "\n", encoding="utf-8")
    service = JobService(store, AccessService(Accounts(store.sessions)), ServiceSettings(data_dir=tmp_path))
    about_to_run = ModelRef.from_identity(load_bundle(bundle).identity())
    assert not service.released(about_to_run)
    assert service.released(replace(about_to_run, config_sha256=None))
