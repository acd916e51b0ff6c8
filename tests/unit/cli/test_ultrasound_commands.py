"""medsight train/evaluate/analyze/tasks with the ultrasound tasks."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from medsight.cli.app import app

runner = CliRunner()


def test_tasks_lists_the_ultrasound_tasks() -> None:
    result = runner.invoke(app, ["tasks", "--json"])
    assert result.exit_code == 0
    names = {row["task"] for row in json.loads(result.stdout)}
    assert {"us-breast", "us-fetal-head"} <= names


def test_evaluate_json_for_fetal_head(synthetic_hc18: Path, tiny_segmenter: Path) -> None:
    args = ["evaluate", "--task", "us-fetal-head", "--data", str(synthetic_hc18), "--split", "val"]
    result = runner.invoke(app, [*args, "--model", str(tiny_segmenter), "--json", "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("n", "dice", "hd95_mm", "hc_mae_mm", "hc_median_mm", "hc_p95_mm"):
        assert key in report
    assert "dice_ci" in report


def test_evaluate_table_for_fetal_head(synthetic_hc18: Path, tiny_segmenter: Path) -> None:
    args = ["evaluate", "--task", "us-fetal-head", "--data", str(synthetic_hc18), "--split", "all"]
    result = runner.invoke(app, [*args, "--model", str(tiny_segmenter), "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    assert "hc_mae_mm" in result.stdout
    # The confidence's calibration in words, with the figures the JSON gives.
    tracking = json.loads(runner.invoke(app, [*args, "--model", str(tiny_segmenter), "--json"]).stdout)["confidence"]
    line = next(line for line in result.stdout.splitlines() if line.startswith("confidence (expected Dice)"))
    if tracking["mean_dice"] is None:
        assert "not compared" in line
    else:
        assert f"mean {tracking['mean_expected_dice']:.4f} against a real mean of {tracking['mean_dice']:.4f}" in line


def test_evaluate_us_breast_on_a_test_npz(tmp_path: Path, tiny_breast_bundle: Path, synthetic_npz: Path) -> None:
    import numpy as np

    with np.load(synthetic_npz) as data:
        np.savez(tmp_path / "held_back.npz", test_images=data["val_images"], test_labels=data["val_labels"])
    args = ["evaluate", "--task", "us-breast", "--data", str(tmp_path / "held_back.npz"), "--split", "test"]
    result = runner.invoke(app, [*args, "--model", str(tiny_breast_bundle), "--json", "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 48
    for key in ("auc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "f1", "ece", "brier"):
        assert f"{key}_ci" in report


def test_analyze_json_for_fetal_head(synthetic_hc18: Path, tiny_segmenter: Path) -> None:
    image = next((synthetic_hc18 / "training_set").glob("*_HC.png"))
    args = ["analyze", str(image), "--task", "us-fetal-head", "--model", str(tiny_segmenter), "--pixel-size", "0.5"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)["results"]
    assert record["task"] == "us-fetal-head"
    assert "refused" in record or "found" in record
