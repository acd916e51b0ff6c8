"""The fairness audit and evaluate on a tb_cxr-layout folder: scoring, groups, the bundle record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.data.synthetic_tb import write_tb_folder

from medsight.audit import FairnessGate
from medsight.data import load_dataset
from medsight.errors import UsageError
from medsight.models.bundle import AUDIT_HTML, AUDIT_JSON, load_bundle
from medsight.services.audit import FairnessAuditOptions, audit_fairness, record_in_bundle, write_html
from medsight.services.evaluate import EvaluateOptions, evaluate
from medsight.tasks import get_task

TB = get_task("cxr-tuberculosis")
# The model-backed tests reuse the session's tiny cxr-pneumonia bundle (trained once for
# many tests): a labels.csv of 0/1 labels is any binary task's data, and the scoring,
# grouping and recording paths do not depend on the task.
TASK = "cxr-pneumonia"


def test_the_tb_layout_loads_with_its_subgroups_and_never_the_reading(synthetic_tb: Path) -> None:
    data = load_dataset(synthetic_tb, TB.label_of, relabel=TB.class_of_stored)
    assert data.layout == "labels_csv"
    assert data.split_sizes() == {"train": 96, "val": 64}
    for case in data.cases:
        assert set(case.groups) == {"source", "age", "sex"}  # no clinical_reading, no patient_id
    assert {c.groups["source"] for c in data.cases} == {"shenzhen", "montgomery"}
    assert any(c.groups["sex"] == "" for c in data.cases)


def test_evaluate_reports_the_standard_keys_and_each_site(synthetic_tb: Path, tiny_bundle: Path) -> None:
    report = evaluate(EvaluateOptions(task=TASK, data=synthetic_tb, split="val", model=str(tiny_bundle), bootstrap=100))
    for key in ("task", "split", "data", "model", "threshold", "n", "prevalence", "refused", "uncertainty"):
        assert key in report
    for metric in ("auc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "f1", "ece", "brier"):
        assert f"{metric}_ci" in report
    sites = {r["value"]: r for r in report["by"]["source"]}
    assert set(sites) == {"shenzhen", "montgomery"}
    assert sum(r["n"] for r in sites.values()) == report["n"] == 64
    assert all("auc_ci" in r and "accuracy_ci" in r for r in sites.values())


def test_a_held_back_folder_in_the_same_layout_is_scored_with_split_test(tmp_path: Path, tiny_bundle: Path) -> None:
    held_back = write_tb_folder(tmp_path / "test", splits={"test": 24}, seed=7)
    report = evaluate(EvaluateOptions(task=TASK, data=held_back, split="test", model=str(tiny_bundle), bootstrap=100))
    assert report["n"] == 24
    assert report["split"] == "test"


def test_the_audit_document_and_its_record_in_the_bundle(synthetic_tb: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    bundle_dir = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle_dir)
    options = FairnessAuditOptions(
        task=TASK,
        data=synthetic_tb,
        split="val",
        model=str(bundle_dir),
        bootstrap=100,
        gate=FairnessGate(min_group_n=10),
    )
    result = audit_fairness(options)
    doc = result.document
    assert doc["attributes"] == ["sex", "age_band", "source", "sex*age_band"]
    assert {"groups", "gaps", "gate", "passed", "overall", "model", "threshold"} <= set(doc)
    assert doc["threshold"] == pytest.approx(result.model.threshold, abs=1e-6)
    assert any(r["value"] == "unrecorded" for r in doc["groups"]["sex"])
    html = write_html(result, tmp_path / "audit.html")
    assert html.read_text().startswith("<!doctype html>")

    summary = record_in_bundle(result, command="pytest")
    reloaded = load_bundle(bundle_dir)  # the weights still match their sha256
    assert reloaded.metadata.medsight.audit == json.loads(json.dumps(summary))
    assert summary["model_sha256"] == reloaded.sha256
    assert summary["config_sha256"] == reloaded.config_sha256  # the threshold it judged, among the rest
    assert (bundle_dir / AUDIT_JSON).is_file()
    assert (bundle_dir / AUDIT_HTML).is_file()
    card = (bundle_dir / "docs" / "model_card.md").read_text(encoding="utf-8")
    assert "## Fairness audit" in card
    assert "docs/fairness_audit.html" in card


def test_auditing_an_attribute_the_data_lacks_is_a_usage_error(synthetic_tb: Path, tiny_bundle: Path) -> None:
    options = FairnessAuditOptions(
        task=TASK, data=synthetic_tb, split="val", model=str(tiny_bundle), attributes=("ethnicity",)
    )
    with pytest.raises(UsageError, match="ethnicity"):
        audit_fairness(options)
