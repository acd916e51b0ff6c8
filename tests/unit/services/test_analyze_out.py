"""analyze --out: the volume path hands each result to the output writer; other tasks refuse --out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.data.synthetic_mr import label_blobs, write_mr_series

from medsight.errors import UsageError
from medsight.imaging.labels import LabelVolume
from medsight.inference.volume_segmentation import VolumeSegmentation
from medsight.io import read_image
from medsight.services import segment_volumes
from medsight.services.analyze import AnalyzeOptions, AnalyzeReport, analyze_path
from medsight.settings import ReadLimits

MODEL = {"name": "mri-hippocampus-48", "version": "0.1.0", "sha256": "78" * 32}


def test_out_writes_each_volumes_seg_sr_and_mask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_mr_series(tmp_path / "mr", slices=4, rows=16, columns=16)
    image = read_image(tmp_path / "mr", ReadLimits())

    def fake(path: Path, options: AnalyzeOptions, **hooks: Any) -> AnalyzeReport:
        record: dict[str, Any] = {"path": str(path / "MR0000.dcm")}
        result = VolumeSegmentation(
            options.task, MODEL, labels=LabelVolume(label_blobs(image.shape), ("anterior", "posterior"), image)
        )
        hooks["on_result"](record, result)
        return AnalyzeReport([record], MODEL)

    monkeypatch.setattr(segment_volumes, "segment_volumes_path", fake)
    report = analyze_path(tmp_path / "mr", AnalyzeOptions(task="mri-hippocampus", out=tmp_path / "out"))
    outputs = report.records[0]["outputs"]
    assert Path(outputs["seg"]).name == "mr_MR0000.seg.dcm"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "mr_MR0000.mask.nii.gz",
        "mr_MR0000.seg.dcm",
        "mr_MR0000.sr.dcm",
    ]


@pytest.mark.parametrize("task", ["cxr-pneumonia", "us-fetal-head"])
def test_out_is_refused_for_other_tasks(tmp_path: Path, task: str) -> None:
    write_mr_series(tmp_path / "mr", slices=2, rows=8, columns=8)
    with pytest.raises(UsageError, match="--out"):
        analyze_path(tmp_path / "mr", AnalyzeOptions(task=task, out=tmp_path / "out"))
