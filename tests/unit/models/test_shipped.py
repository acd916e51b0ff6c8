"""The models that ship in the repository: present, verified, small, consistent, and (with
../shared) as good on validation as their model cards say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsight.inference import load_predictor
from medsight.models import load_bundle
from medsight.models.bundle import shipped_bundles
from medsight.services.evaluate import EvaluateOptions, evaluate
from medsight.tasks import get_task

TASK = get_task("cxr-pneumonia")
SHIPPED = dict(TASK.shipped_models)
MAX_BYTES = 20 * 1024 * 1024


@pytest.mark.parametrize("size", sorted(SHIPPED))
def test_each_shipped_model_is_installed_verified_and_small(size: int) -> None:
    name = SHIPPED[size]
    assert name in shipped_bundles(), f"{name} is not in src/medsight/models/shipped (run `make models`)"
    bundle = load_bundle(shipped_bundles()[name])  # checks every sha256
    section = bundle.metadata.medsight
    assert section.task == TASK.name
    assert section.preprocessing["size"] == size
    total = sum(f.stat().st_size for f in bundle.path.rglob("*") if f.is_file())
    assert total <= MAX_BYTES, f"{name} takes {total} bytes"
    assert section.metrics["val"]["ece"] <= 0.05
    assert "--seed 0" in section.training["command"]


@pytest.mark.parametrize("size", sorted(SHIPPED))
def test_onnx_and_torch_agree_on_the_shipped_models(size: int) -> None:
    bundle = load_bundle(shipped_bundles()[SHIPPED[size]])
    x = np.random.default_rng(size).random((4, 1, size, size)).astype(np.float32)
    onnx_logits, onnx_features = load_predictor(bundle, "onnx").predict(x)
    torch_logits, torch_features = load_predictor(bundle, "torch").predict(x)
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-4)
    np.testing.assert_allclose(onnx_features, torch_features, atol=1e-4)


@pytest.mark.shared
@pytest.mark.parametrize(
    ("size", "folder"), [(28, "pneumoniamnist"), (224, "chest_xray_pneumonia_224")], ids=["28px", "224px"]
)
def test_validation_metrics_reproduce_the_model_card(size: int, folder: str, shared_datasets: Path) -> None:
    """Scored through `evaluate` (the model picked by the data's resolution), the figures
    match those recorded at training time: the same preprocessing, model and threshold."""
    report = evaluate(EvaluateOptions(task=TASK.name, data=shared_datasets / folder, split="val", bootstrap=200))
    bundle = load_bundle(shipped_bundles()[SHIPPED[size]])
    recorded = bundle.metadata.medsight.metrics["val"]
    assert report["model"]["name"] == SHIPPED[size]
    assert report["n"] == recorded["n"]
    for key in ("auc", "accuracy", "sensitivity", "specificity"):
        assert report[key] == pytest.approx(recorded[key], abs=2e-3), key
    assert report["auc"] >= 0.98
    json.dumps(report)  # the report is JSON as it stands


@pytest.mark.shared
def test_the_28px_model_refuses_little_of_its_validation_data_and_all_synthetic_input(shared_datasets: Path) -> None:
    from medsight.inference import LoadedModel
    from medsight.services.refusal import refusal_groups, refusal_report

    model = LoadedModel.load(load_bundle(shipped_bundles()[SHIPPED[28]]))
    groups = refusal_groups(model, shared_datasets / "pneumoniamnist", shared_datasets.parent, per_group=20)
    chosen = [g for g in groups if g[0].startswith(("validation", "synthetic", "DICOM samples"))]
    by_name = {g.name: g for g in refusal_report(model, chosen)}
    val = next(g for name, g in by_name.items() if name.startswith("validation"))
    assert val.n == 524
    assert val.rate <= 0.03
    for name, group in by_name.items():
        if not name.startswith("validation"):
            assert group.refused == group.n, (name, group.by_check)


@pytest.mark.parametrize("name", sorted(shipped_bundles()))
def test_each_shipped_card_is_what_its_metadata_renders(name: str) -> None:
    # A card edited by hand, or left behind by a renderer change, would say what the
    # metadata (and so the model) does not: `make models` and `models refit-ood` both
    # write the card from the metadata, so a shipped card must be exactly that.
    from medsight.training.model_card import bundle_model_card

    bundle = load_bundle(shipped_bundles()[name])
    expected = bundle_model_card(bundle.path, bundle.metadata)
    assert (bundle.path / "docs" / "model_card.md").read_text(encoding="utf-8") == expected
