"""evaluate and analyze for a segmentation task: the report's keys, overlays, pixel size."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsight.errors import InvalidDatasetError
from medsight.services.analyze import AnalyzeOptions, analyze_path
from medsight.services.evaluate import EvaluateOptions, evaluate

KEYS = ("dice", "hd95_mm", "hc_mae_mm", "hc_median_mm", "hc_p95_mm")


@pytest.mark.parametrize("split", ["train", "val", "all"])
def test_evaluate_reports_every_metric_with_a_ci(synthetic_hc18: Path, tiny_segmenter: Path, split: str) -> None:
    report = evaluate(
        EvaluateOptions(
            task="us-fetal-head", data=synthetic_hc18, split=split, model=str(tiny_segmenter), bootstrap=100
        )
    )
    assert report["task"] == "us-fetal-head"
    assert report["model"]["name"] == "tiny-head"
    assert report["n"] > 0
    for key in KEYS:
        assert key in report
        assert len(report[f"{key}_ci"]) == 2
    assert {"n", "rate", "by_check"} <= set(report["refused"])


def test_evaluate_on_a_test_split_says_to_use_all(synthetic_hc18: Path, tiny_segmenter: Path) -> None:
    with pytest.raises(InvalidDatasetError, match="all"):
        evaluate(EvaluateOptions(task="us-fetal-head", data=synthetic_hc18, split="test", model=str(tiny_segmenter)))


def test_analyze_measures_with_the_given_pixel_size_and_draws_the_outline(
    synthetic_hc18: Path, tiny_segmenter: Path, tmp_path: Path
) -> None:
    image = next((synthetic_hc18 / "training_set").glob("*_HC.png"))
    options = AnalyzeOptions(
        task="us-fetal-head", model=str(tiny_segmenter), heatmap=tmp_path / "outline.png", pixel_spacing_mm=0.5
    )
    (record,) = analyze_path(image, options).records
    assert record["path"].endswith("_HC.png")
    if "found" in record:
        assert record["pixel_spacing_mm"] == [0.5, 0.5]
        assert (tmp_path / "outline.png").is_file()
        if record["found"]:
            assert record["hc_mm"] > 0
            assert record["ga_method"].startswith("Hadlock")


def test_a_us_dicom_is_measured_with_its_ultrasound_region_spacing(
    synthetic_hc18: Path, tiny_segmenter: Path, tmp_path: Path
) -> None:
    import numpy as np
    from PIL import Image as PILImage
    from tests.data.synthetic_hc18 import write_us_dicom

    png = sorted((synthetic_hc18 / "training_set").glob("*_HC.png"))[0]
    pixels = np.asarray(PILImage.open(png))
    dicom = write_us_dicom(tmp_path / "head.dcm", pixels, delta_cm=0.05, body_part="FETUS")
    options = AnalyzeOptions(task="us-fetal-head", model=str(tiny_segmenter))
    (from_dicom,) = analyze_path(dicom, options).records
    (from_png,) = analyze_path(
        png, AnalyzeOptions(task="us-fetal-head", model=str(tiny_segmenter), pixel_spacing_mm=0.5)
    ).records
    if "refused" not in from_dicom:
        assert from_dicom["pixel_spacing_mm"] == pytest.approx([0.5, 0.5])
        # 8-bit ultrasound without a window is read as display values, like the PNG frames.
        assert from_dicom["ellipse"] == from_png["ellipse"]
        assert from_dicom["hc_mm"] == from_png["hc_mm"]
