"""analyze and evaluate as use cases: records, refusals, heatmaps, metrics with CIs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from tests.data.synthetic_cxr import chest_like

from medsight.errors import InvalidDatasetError, UsageError
from medsight.services.analyze import AnalyzeOptions, analyze_path
from medsight.services.evaluate import EvaluateOptions, evaluate

SCORED_KEYS = {"path", "task", "model", "threshold", "probability", "label", "uncertainty", "heatmap"}
REFUSED_KEYS = {"path", "task", "model", "threshold", "refused"}


def _folder(tmp_path: Path, pydicom_test_files: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    rng = np.random.default_rng(11)
    for i in range(3):
        PILImage.fromarray(chest_like(28, bool(i % 2), rng)).save(folder / f"cxr{i}.png")
    PILImage.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / "photo.png")
    shutil.copy(pydicom_test_files / "CT_small.dcm", folder / "ct.dcm")
    (folder / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    return folder


def test_a_folder_gives_one_record_per_input_with_the_documented_keys(
    tiny_bundle: Path, tmp_path: Path, pydicom_test_files: Path
) -> None:
    folder = _folder(tmp_path, pydicom_test_files)
    options = AnalyzeOptions(task="cxr-pneumonia", model=str(tiny_bundle), heatmap=tmp_path / "heat")
    report = analyze_path(folder, options)
    by_name = {Path(r["path"]).name: r for r in report.records}
    assert set(by_name) == {"cxr0.png", "cxr1.png", "cxr2.png", "photo.png", "ct.dcm", "broken.dcm"}
    assert by_name["ct.dcm"]["refused"]["check"] == "modality"
    assert by_name["photo.png"]["refused"]["check"] == "colour"
    assert set(by_name["ct.dcm"]) == REFUSED_KEYS
    assert by_name["broken.dcm"]["error"]["code"].startswith("input.")
    scored = [r for r in report.records if "probability" in r]
    assert scored, report.records
    for record in scored:
        assert set(record) == SCORED_KEYS
        heat = Path(record["heatmap"])
        assert heat.is_file()
        assert heat.parent == tmp_path / "heat"
        with PILImage.open(heat) as png:
            assert png.size == (28, 28)
            assert png.mode == "RGB"
    assert report.counts["failed"] == 1
    assert report.model["name"] == "tiny"


def test_a_single_input_writes_its_heatmap_to_the_png_named(tiny_bundle: Path, tmp_path: Path) -> None:
    big = np.kron(chest_like(64, True, np.random.default_rng(3)), np.ones((8, 6), dtype=np.uint8))
    PILImage.fromarray(big).save(tmp_path / "one.png")
    options = AnalyzeOptions(task="cxr-pneumonia", model=str(tiny_bundle), heatmap=tmp_path / "one_heat.png")
    (record,) = analyze_path(tmp_path / "one.png", options).records
    if "probability" in record:
        with PILImage.open(record["heatmap"]) as png:
            assert png.size == (big.shape[1], big.shape[0])  # drawn over the original, not the 28 px input
    two = tmp_path / "two"
    two.mkdir()
    for name in ("a.png", "b.png"):
        shutil.copy(tmp_path / "one.png", two / name)
    with pytest.raises(UsageError, match="folder"):
        analyze_path(two, AnalyzeOptions(task="cxr-pneumonia", model=str(tiny_bundle), heatmap=tmp_path / "x.png"))


def test_evaluate_reports_every_metric_with_a_ci_and_writes_plots(
    tiny_bundle: Path, synthetic_npz: Path, tmp_path: Path
) -> None:
    report = evaluate(
        EvaluateOptions(
            task="cxr-pneumonia",
            data=synthetic_npz,
            split="val",
            model=str(tiny_bundle),
            plots=tmp_path / "plots",
            bootstrap=200,
        )
    )
    assert report["n"] == 48
    assert report["model"]["name"] == "tiny"
    for key in ("auc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "f1", "ece", "brier"):
        assert key in report
        assert len(report[f"{key}_ci"]) == 2
    lo, hi = report["auc_ci"]
    assert lo <= report["auc"] <= hi
    for plot in report["plots"].values():
        assert Path(plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(report["refused"]) == {"n", "rate", "by_check"}
    assert set(report["uncertainty"]["coverage"]) == {"normal", "pneumonia"}
    assert 0.0 <= report["uncertainty"]["ambiguous_rate"] <= 1.0
    assert (
        evaluate(
            EvaluateOptions(
                task="cxr-pneumonia", data=synthetic_npz, split="all", model=str(tiny_bundle), bootstrap=100
            )
        )["n"]
        == 144
    )
    with pytest.raises(InvalidDatasetError, match="test"):
        evaluate(EvaluateOptions(task="cxr-pneumonia", data=synthetic_npz, split="test", model=str(tiny_bundle)))


def test_inputs_with_the_same_name_get_their_own_heatmaps(tiny_bundle: Path, tmp_path: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / "in" / sub / "x").mkdir(parents=True)
    image = chest_like(28, True, np.random.default_rng(7))
    # Same last two path parts (x/img.png) under different parents.
    PILImage.fromarray(image).save(tmp_path / "in" / "a" / "x" / "img.png")
    PILImage.fromarray(image).save(tmp_path / "in" / "b" / "x" / "img.png")
    options = AnalyzeOptions(task="cxr-pneumonia", model=str(tiny_bundle), heatmap=tmp_path / "heat")
    heatmaps = [r["heatmap"] for r in analyze_path(tmp_path / "in", options).records if r.get("heatmap")]
    assert len(heatmaps) == 2
    assert len(set(heatmaps)) == 2
