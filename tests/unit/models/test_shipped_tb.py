"""The shipped tuberculosis model: installed, verified, small, honest about its 96 px, and (with
../shared) as good on validation, overall and per site, as its model card says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsight.audit import DEFAULT_GATE
from medsight.inference import load_predictor
from medsight.models import load_bundle
from medsight.models.bundle import shipped_bundles
from medsight.services.evaluate import EvaluateOptions, evaluate
from medsight.services.release import gate_problems
from medsight.tasks import get_task

TASK = get_task("cxr-tuberculosis")
NAME = TASK.shipped_models[96]
MAX_BYTES = 20 * 1024 * 1024


def test_the_shipped_model_is_installed_verified_and_small() -> None:
    assert NAME in shipped_bundles(), f"{NAME} is not in src/medsight/models/shipped (run `make models`)"
    bundle = load_bundle(shipped_bundles()[NAME])  # checks every sha256
    section = bundle.metadata.medsight
    assert section.task == TASK.name
    assert section.preprocessing == {"size": 96, "crop": "none"}
    total = sum(f.stat().st_size for f in bundle.path.rglob("*") if f.is_file())
    assert total <= MAX_BYTES, f"{NAME} takes {total} bytes"
    assert "--seed 0" in section.training["command"]
    assert {s["source"] for s in section.metrics["val"]["by_source"]} == {"shenzhen", "montgomery"}


def test_the_model_card_says_plainly_it_was_trained_at_96_px() -> None:
    card = (shipped_bundles()[NAME] / "docs" / "model_card.md").read_text(encoding="utf-8")
    assert "Trained at 96 x 96 px" in card
    assert "## Validation by site" in card
    assert "## Fairness audit" in card


def test_its_recorded_fairness_audit_is_of_its_own_weights_and_the_gate_judges_it_alike() -> None:
    """The audit recorded in the bundle names these weights; judged again by the default gate,
    its verdict is the recorded one (whatever it is: a failing model ships, it is not promoted)."""
    bundle = load_bundle(shipped_bundles()[NAME])
    audit = bundle.metadata.medsight.audit
    assert audit["model_sha256"] == bundle.sha256
    assert audit["config_sha256"] == bundle.config_sha256  # and its threshold, calibration and input gate
    assert audit["split"] == "val"
    problems, checks = gate_problems(bundle, DEFAULT_GATE)
    assert checks[0]["attribute"] == "sex"
    assert (problems == []) is audit["passed"]


def test_onnx_and_torch_agree() -> None:
    bundle = load_bundle(shipped_bundles()[NAME])
    x = np.random.default_rng(96).random((4, 1, 96, 96)).astype(np.float32)
    onnx_logits, onnx_features = load_predictor(bundle, "onnx").predict(x)
    torch_logits, torch_features = load_predictor(bundle, "torch").predict(x)
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-4)
    np.testing.assert_allclose(onnx_features, torch_features, atol=1e-4)


@pytest.mark.shared
def test_validation_metrics_reproduce_the_model_card_overall_and_per_site(shared_datasets: Path) -> None:
    report = evaluate(EvaluateOptions(task=TASK.name, data=shared_datasets / "tb_cxr", split="val", bootstrap=200))
    recorded = load_bundle(shipped_bundles()[NAME]).metadata.medsight.metrics["val"]
    assert report["model"]["name"] == NAME
    assert report["n"] == recorded["n"] == 128
    for key in ("auc", "accuracy", "sensitivity", "specificity"):
        assert report[key] == pytest.approx(recorded[key], abs=2e-3), key
    sites = {r["value"]: r for r in report["by"]["source"]}
    for site in recorded["by_source"]:
        assert sites[site["source"]]["auc"] == pytest.approx(site["auc"], abs=2e-3)
    json.dumps(report)
