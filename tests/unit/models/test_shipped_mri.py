"""The MRI models that ship: installed, verified, small, made by the command in the Makefile,
and (with ../shared) as good on validation as their model cards say."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsight.models import load_bundle
from medsight.models.bundle import shipped_bundles
from medsight.services.evaluate import EvaluateOptions, evaluate

MAX_BYTES = 20 * 1024 * 1024
SHIPPED = {
    "mri-hippocampus-48": ("mri-hippocampus", "msd_task04_hippocampus"),
    "mri-brain-tumour-128": ("mri-brain-tumour", "lgg_mri_segmentation_subset"),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_mri_model_is_installed_verified_small_and_made_by_its_command(name: str) -> None:
    assert name in shipped_bundles(), f"{name} is not in src/medsight/models/shipped (run `make models`)"
    bundle = load_bundle(shipped_bundles()[name])  # checks every sha256
    section = bundle.metadata.medsight
    assert section.task == SHIPPED[name][0]
    assert section.kind == "volume-segmentation"
    assert sum(f.stat().st_size for f in bundle.path.rglob("*") if f.is_file()) <= MAX_BYTES
    command = section.training["command"]
    assert "--seed 0" in command
    assert f"--out src/medsight/models/shipped/{name}" in command
    makefile = (Path(__file__).resolve().parents[3] / "Makefile").read_text()
    assert f"$(SHIPPED)/{name}" in makefile
    card = (bundle.path / "docs" / "model_card.md").read_text()
    assert "## Not for" in card
    assert section.weights["model.pt"] in card


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_mri_validation_reproduces_the_model_card(name: str, shared_datasets: Path) -> None:
    task, folder = SHIPPED[name]
    report = evaluate(EvaluateOptions(task=task, data=shared_datasets / folder, split="val", bootstrap=200))
    recorded = load_bundle(shipped_bundles()[name]).metadata.medsight.metrics["val"]
    assert report["model"]["name"] == name
    assert report["n"] == recorded["n"]
    assert report["dice_mean"] == pytest.approx(recorded["dice_mean"], abs=2e-3)
    for label, value in recorded["dice_per_label"].items():
        assert report["dice_per_label"][label] == pytest.approx(value, abs=2e-3)
