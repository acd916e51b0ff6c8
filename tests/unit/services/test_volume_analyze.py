"""analyze on volumes: one record per volume, its outputs written (SEG + SR + mask, or the mask alone)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tests.data.dciodvfy import dciodvfy
from tests.data.synthetic_mr import label_blobs, write_mr_series

from medsight.imaging import Image
from medsight.imaging.labels import LabelVolume
from medsight.io import read_image
from medsight.io.nifti import write_nifti
from medsight.services.analyze import AnalyzeOptions
from medsight.services.label_outputs import NO_DICOM_SOURCE
from medsight.services.volumes import analyze_volumes
from medsight.settings import ReadLimits

MODEL = {"name": "mri-hippocampus-48", "version": "0.1.0", "sha256": "12" * 32}


@dataclass(frozen=True)
class Fake:
    labels: LabelVolume | None
    task: str = "mri-hippocampus"
    model: dict[str, str] = field(default_factory=lambda: dict(MODEL))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"task": self.task, "model": self.model}
        if self.labels is None:
            out["refused"] = {"code": "input.out_of_distribution", "check": "modality", "reason": "not MR"}
        else:
            out["volumes_ml"] = self.labels.volumes_ml()
        return out


def _segment(image: Image) -> Fake:
    if image.frames < 3:
        return Fake(None)
    return Fake(LabelVolume(label_blobs(image.shape[:3]), ("anterior", "posterior"), image))


def test_a_folder_of_a_series_and_a_nifti_gets_their_outputs(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    write_mr_series(inputs / "series", slices=4, rows=16, columns=16)
    write_nifti(read_image(inputs / "series", ReadLimits()), inputs / "crop.nii.gz")
    out = tmp_path / "out"
    seen: list[int] = []
    report = analyze_volumes(
        inputs, AnalyzeOptions(task="mri-hippocampus"), out, segment=_segment, model=MODEL, on_start=seen.append
    )
    assert seen == [2]
    assert report.model == MODEL
    by_kind = {("seg" if r["outputs"]["seg"] else "nifti"): r for r in report.records}
    dicom, nifti = by_kind["seg"], by_kind["nifti"]
    assert nifti["outputs"]["note"] == NO_DICOM_SOURCE
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "in_crop.mask.nii.gz",
        "series_MR0000.mask.nii.gz",
        "series_MR0000.seg.dcm",
        "series_MR0000.sr.dcm",
    ]
    assert dciodvfy(Path(dicom["outputs"]["seg"])).errors == ()
    assert dciodvfy(Path(dicom["outputs"]["sr"])).errors == ()
    assert dicom["volumes_ml"]["anterior"] > 0


def test_a_refused_volume_writes_nothing(tmp_path: Path) -> None:
    write_mr_series(tmp_path / "in", slices=2, rows=8, columns=8)
    report = analyze_volumes(
        tmp_path / "in", AnalyzeOptions(task="mri-hippocampus"), tmp_path / "out", segment=_segment, model=MODEL
    )
    assert "refused" in report.records[0]
    assert "outputs" not in report.records[0]
    assert not (tmp_path / "out").exists()


def test_an_output_that_cannot_be_written_is_reported_not_raised(tmp_path: Path) -> None:
    write_mr_series(tmp_path / "in", slices=4, rows=8, columns=8)
    blocked = tmp_path / "out"
    blocked.write_text("a file where the folder should be")
    report = analyze_volumes(
        tmp_path / "in", AnalyzeOptions(task="mri-hippocampus"), blocked, segment=_segment, model=MODEL
    )
    assert report.records[0]["outputs"]["error"]["code"] == "output.error"
    assert np.isfinite(report.records[0]["volumes_ml"]["anterior"])
