"""The ultrasound models that ship: installed, verified, small, reproducible from their command,
and (with ../shared) as good on validation as their model cards say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsight.inference import load_predictor
from medsight.inference.segmentation import _predictor
from medsight.models import load_bundle
from medsight.models.bundle import shipped_bundles
from medsight.services.evaluate import EvaluateOptions, evaluate

MAX_BYTES = 20 * 1024 * 1024
SHIPPED = {"us-breast-28": ("us-breast", 28), "us-fetal-head-128": ("us-fetal-head", 128)}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_ultrasound_model_is_installed_verified_small_and_made_by_its_command(name: str) -> None:
    assert name in shipped_bundles(), f"{name} is not in src/medsight/models/shipped (run `make models`)"
    bundle = load_bundle(shipped_bundles()[name])  # checks every sha256
    task, size = SHIPPED[name]
    section = bundle.metadata.medsight
    assert section.task == task
    assert section.preprocessing["size"] == size
    assert sum(f.stat().st_size for f in bundle.path.rglob("*") if f.is_file()) <= MAX_BYTES
    command = section.training["command"]
    assert "--seed 0" in command
    assert f"--out src/medsight/models/shipped/{name}" in command
    makefile = (Path(__file__).resolve().parents[3] / "Makefile").read_text()
    assert f"$(SHIPPED)/{name}" in makefile
    assert (bundle.path / "docs" / "model_card.md").is_file()


def test_onnx_and_torch_agree_on_the_shipped_breast_model() -> None:
    bundle = load_bundle(shipped_bundles()["us-breast-28"])
    x = np.random.default_rng(0).random((4, 1, 28, 28)).astype(np.float32)
    onnx_logits, onnx_features = load_predictor(bundle, "onnx").predict(x)
    torch_logits, torch_features = load_predictor(bundle, "torch").predict(x)
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-4)
    np.testing.assert_allclose(onnx_features, torch_features, atol=1e-4)


def test_onnx_and_torch_agree_on_the_shipped_fetal_head_model() -> None:
    bundle = load_bundle(shipped_bundles()["us-fetal-head-128"])
    x = np.random.default_rng(0).random((2, 1, 128, 128)).astype(np.float32)
    onnx_logits, onnx_features = _predictor(bundle, "onnx").predict(x)
    torch_logits, torch_features = _predictor(bundle, "torch").predict(x)
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-4)
    np.testing.assert_allclose(onnx_features, torch_features, atol=1e-4)


@pytest.mark.shared
def test_breast_validation_reproduces_the_model_card(shared_datasets: Path) -> None:
    report = evaluate(
        EvaluateOptions(task="us-breast", data=shared_datasets / "breastmnist", split="val", bootstrap=200)
    )
    recorded = load_bundle(shipped_bundles()["us-breast-28"]).metadata.medsight.metrics["val"]
    assert report["model"]["name"] == "us-breast-28"
    assert report["n"] == recorded["n"] == 78
    for key in ("auc", "accuracy", "sensitivity", "specificity"):
        assert report[key] == pytest.approx(recorded[key], abs=2e-3), key


@pytest.mark.shared
def test_fetal_head_validation_reproduces_the_model_card(shared_datasets: Path) -> None:
    report = evaluate(EvaluateOptions(task="us-fetal-head", data=shared_datasets / "hc18", split="val", bootstrap=200))
    recorded = load_bundle(shipped_bundles()["us-fetal-head-128"]).metadata.medsight.metrics["val"]
    assert report["model"]["name"] == "us-fetal-head-128"
    assert report["n"] == recorded["n"] == 153
    for key in ("dice", "hd95_mm", "hc_mae_mm", "hc_median_mm"):
        assert report[key] == pytest.approx(recorded[key], abs=2e-3), key
    assert report["failed"] == 0


def _refused(task: str, data: Path, shared: Path, rows: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    from medsight.services.refusal import load_checked_model, refusal_groups, refusal_report
    from medsight.tasks import get_task

    model = load_checked_model(get_task(task), None)
    groups = [g for g in refusal_groups(model, data, shared) if g[0].startswith(rows)]
    return {g.name.split(" (")[0]: (g.refused, g.n) for g in refusal_report(model, groups)}


@pytest.mark.shared
def test_the_breast_models_refusals_are_those_docs_models_md_reports(shared_datasets: Path) -> None:
    # docs/models.md, "Input gate": the shipped check (2.0.0: one Gaussian per member, 10 folds,
    # quantile 0.98) behind the input gate; without the gate it refused 122/200 fetal frames
    # and 95/200 MR slices.
    refused = _refused(
        "us-breast", shared_datasets / "breastmnist", shared_datasets.parent, ("validation", "fetal", "brain MRI")
    )
    assert refused == {
        "validation breast ultrasound images": (2, 78),
        "fetal head ultrasound": (153, 153),
        "brain MRI slices": (45, 45),
    }


@pytest.mark.shared
def test_the_fetal_head_models_refusals_are_those_docs_models_md_reports(shared_datasets: Path) -> None:
    refused = _refused(
        "us-fetal-head", shared_datasets / "hc18", shared_datasets.parent, ("validation", "breast", "brain MRI")
    )
    # Behind the input gate; without it, 47/200 MR slices (of all patients) were refused.
    assert refused == {
        "validation fetal head ultrasound images": (0, 153),
        "breast ultrasound": (78, 78),
        "brain MRI slices": (45, 45),
    }
