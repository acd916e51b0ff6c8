"""Training a segmenter: the bundle it writes, and its validation measured as evaluate measures."""

from __future__ import annotations

from pathlib import Path

from medsight.inference.measure_eval import MEASURE_METRICS
from medsight.models.bundle import load_bundle


def test_the_bundle_is_a_verified_segmentation_bundle(tiny_segmenter: Path) -> None:
    bundle = load_bundle(tiny_segmenter)
    section = bundle.metadata.medsight
    assert section.kind == "segmentation"
    assert section.task == "us-fetal-head"
    assert set(section.weights) == {"model.pt", "model.onnx", "ood.npz"}
    assert section.temperature > 0
    assert section.network["arch"] == "unet"
    assert section.training["data"]["layout"] == "hc18"
    assert section.training["split_sizes"]["val"] > 0


def test_validation_figures_have_every_metric_with_its_interval(tiny_segmenter: Path) -> None:
    val = load_bundle(tiny_segmenter).metadata.medsight.metrics["val"]
    for name in MEASURE_METRICS:
        assert name in val
        assert len(val[f"{name}_ci"]) == 2
    assert val["n"] == load_bundle(tiny_segmenter).metadata.medsight.training["split_sizes"]["val"]


def test_the_model_card_says_what_it_is_for_and_cites_hadlock(tiny_segmenter: Path) -> None:
    card = (tiny_segmenter / "docs" / "model_card.md").read_text()
    for words in ("## Intended use", "## Not for", "Hadlock", "HC18", "sha256", "## Validation"):
        assert words in card


def test_the_classifier_path_is_unchanged(tiny_breast_bundle: Path) -> None:
    section = load_bundle(tiny_breast_bundle).metadata.medsight
    assert section.kind == "classification"
    assert section.classes == ["benign_or_normal", "malignant"]
    assert "auc_ci" in section.metrics["val"]


def test_ood_folds_reach_the_segmenters_distribution_check(
    tmp_path: Path, synthetic_hc18: Path, tiny_segmenter: Path
) -> None:
    # `medsight train --ood-folds N` was accepted for us-fetal-head and ignored (always halves).
    from medsight.services.train import TrainRequest, train
    from medsight.training import FitOptions, TrainOptions

    options = FitOptions(
        resolution=32,
        train=TrainOptions(epochs=3, batch_size=8, lr=1e-2, seed=0, patience=3),
        bootstrap=100,
        name="tiny-head",
        threads=1,
        ood_folds=5,
    )
    bundle = train(TrainRequest("us-fetal-head", synthetic_hc18, tmp_path / "five", options, command="pytest"))
    assert bundle.metadata.medsight.ood["folds"] == 5
    assert "folds" not in load_bundle(tiny_segmenter).metadata.medsight.ood  # 2, as every earlier bundle
    halves = load_bundle(tiny_segmenter).weights_file("ood.npz").read_bytes()
    assert bundle.weights_file("ood.npz").read_bytes() != halves  # same weights (seed 0), other thresholds
