"""A label volume's outputs: SEG + SR + NIfTI for a DICOM series, NIfTI only otherwise; all valid."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pytest
from tests.data.dciodvfy import dciodvfy
from tests.data.synthetic_mr import label_blobs, write_mr_series

from medsight.errors import OutputError
from medsight.imaging import Image
from medsight.imaging.labels import LabelVolume
from medsight.inference.volume_segmentation import VolumeSegmentation
from medsight.io import read_image
from medsight.io.dicom.seg import read_segmentation
from medsight.io.dicom.sr import read_sr_items
from medsight.io.nifti import read_nifti, write_nifti
from medsight.services.label_outputs import (
    NO_DICOM_SOURCE,
    build_label_objects,
    mean_probabilities,
    output_stem,
    output_writer,
    write_label_outputs,
)
from medsight.settings import ReadLimits
from medsight.tasks import Refusal
from medsight.tasks.volume_measure import measure_labels

MODEL = {"name": "mri-hippocampus-3d", "version": "1.0.0", "sha256": "ef" * 32}


@dataclass(frozen=True)
class Result:
    labels: LabelVolume | None
    task: str = "mri-hippocampus"
    model: dict[str, str] = field(default_factory=lambda: dict(MODEL))


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Image:
    folder = tmp_path_factory.mktemp("mr")
    write_mr_series(folder, slices=5, rows=20, columns=24)
    return read_image(folder, ReadLimits())


def _labels(image: Image) -> LabelVolume:
    truth = label_blobs(image.shape)
    confidence = np.where(truth > 0, 0.8, 0.99).astype(np.float32)
    return LabelVolume(truth, ("anterior", "posterior"), image, confidence=confidence)


def test_a_dicom_series_gets_a_seg_an_sr_and_a_mask(series: Image, tmp_path: Path) -> None:
    labels = _labels(series)
    outputs = write_label_outputs(Result(labels), tmp_path / "out", "case")
    assert outputs["note"] is None
    seg, sr, mask = Path(outputs["seg"]), Path(outputs["sr"]), Path(outputs["mask"])
    assert (seg.name, sr.name, mask.name) == ("case.seg.dcm", "case.sr.dcm", "case.mask.nii.gz")
    for path in (seg, sr):
        check = dciodvfy(path)
        assert check.errors == (), check.output
    back = read_segmentation(seg.read_bytes(), series.source.sop_instance_uids)
    np.testing.assert_array_equal(back.labels, labels.labels)
    assert [s[1] for s in back.segments] == ["Hippocampus, anterior", "Hippocampus, posterior"]
    np.testing.assert_array_equal(read_nifti(mask).pixels.astype(np.uint8), labels.labels)
    items = read_sr_items(sr.read_bytes())
    volumes = [value for name, value in items if name == "Volume"]
    expected = labels.volumes_ml()
    assert [float(v.split()[0]) for v in volumes] == pytest.approx(
        [expected["anterior"], expected["posterior"]], abs=1e-4
    )
    assert all(v.endswith(" ml") for v in volumes)
    assert ("Mean calibrated probability", "0.8 1") in items
    assert ("Hippocampus", "Present") in items
    measured = measure_labels(labels.labels, labels.names, series.geometry.spacing)
    diameters = [float(v.split()[0]) for name, v in items if name == "Diameter"]
    assert diameters == pytest.approx([measured[n]["largest_diameter_mm"] for n in labels.names], abs=0.01)
    assert all(v.endswith(" mm") for name, v in items if name == "Diameter")
    spans = [int(float(v.split()[0])) for name, v in items if name == "Slices spanned"]
    assert spans == [measured[n]["slices"]["count"] for n in labels.names]


def test_the_same_analysis_gets_the_same_uids(series: Image) -> None:
    first = build_label_objects(Result(_labels(series)), seed="job-1", tracking_id="job-1")
    again = build_label_objects(Result(_labels(series)), seed="job-1", tracking_id="job-1")
    other = build_label_objects(Result(_labels(series)), seed="job-2", tracking_id="job-2")
    assert first is not None
    assert again is not None
    assert other is not None
    assert first.seg_sop_instance_uid == again.seg_sop_instance_uid != other.seg_sop_instance_uid
    assert first.sr_sop_instance_uid == again.sr_sop_instance_uid
    assert hd.seg.segread(io.BytesIO(first.seg)).SOPInstanceUID == first.seg_sop_instance_uid


def test_a_nifti_input_gets_the_mask_only_and_says_why(series: Image, tmp_path: Path) -> None:
    nifti = read_nifti(write_nifti(series, tmp_path / "case.nii.gz"))
    labels = LabelVolume(label_blobs(nifti.shape), ("anterior", "posterior"), nifti)
    outputs = write_label_outputs(Result(labels), tmp_path / "out", "case")
    assert outputs["seg"] is None
    assert outputs["sr"] is None
    assert outputs["note"] == NO_DICOM_SOURCE
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["case.mask.nii.gz"]


def test_a_refused_result_has_no_outputs(tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        write_label_outputs(Result(None), tmp_path, "case")
    assert build_label_objects(Result(None), seed="s", tracking_id="t") is None


def test_mean_probability_is_over_each_labels_voxels(series: Image) -> None:
    labels = _labels(series)
    assert mean_probabilities(labels) == pytest.approx([0.8, 0.8])
    empty = LabelVolume(
        np.zeros(series.shape, np.uint8), ("anterior", "posterior"), series, confidence=labels.confidence
    )
    assert mean_probabilities(empty) == [None, None]
    assert mean_probabilities(LabelVolume(labels.labels, labels.names, series)) == [None, None]


@pytest.mark.parametrize(
    ("label", "stem"),
    [
        ("/data/case_01.nii.gz", "data_case_01"),
        ("/data/mr/MR0000.dcm", "mr_MR0000"),
        ("scan.zip!series 1/IM 1.dcm", "series_1_IM_1"),
        ("/", "image"),
    ],
)
def test_output_stems_are_safe(label: str, stem: str) -> None:
    assert output_stem(label, set()) == stem


def test_output_stems_are_numbered_when_taken() -> None:
    used: set[str] = set()
    assert [output_stem("/a/x.nii", used) for _ in range(3)] == ["a_x", "a_x.2", "a_x.3"]


def test_the_analyze_hook_writes_each_results_outputs_into_its_record(series: Image, tmp_path: Path) -> None:
    nifti = read_nifti(write_nifti(series, tmp_path / "crop.nii.gz"))
    hook = output_writer(tmp_path / "out")
    dicom_record: dict[str, Any] = {"path": "/data/mr/MR0000.dcm"}
    nifti_record: dict[str, Any] = {"path": "/data/crop.nii.gz"}
    refused_record: dict[str, Any] = {"path": "/data/cxr.dcm"}
    hook(dicom_record, VolumeSegmentation("mri-hippocampus", MODEL, labels=_labels(series)))
    hook(nifti_record, VolumeSegmentation("mri-hippocampus", MODEL, labels=_labels(nifti)))
    hook(refused_record, VolumeSegmentation("mri-hippocampus", MODEL, refused=Refusal("modality", "not MR")))
    assert Path(dicom_record["outputs"]["seg"]).name == "mr_MR0000.seg.dcm"
    assert dicom_record["outputs"]["note"] is None
    assert nifti_record["outputs"] == {
        "mask": str(tmp_path / "out" / "data_crop.mask.nii.gz"),
        "seg": None,
        "sr": None,
        "note": NO_DICOM_SOURCE,
    }
    assert "outputs" not in refused_record
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "data_crop.mask.nii.gz",
        "mr_MR0000.mask.nii.gz",
        "mr_MR0000.seg.dcm",
        "mr_MR0000.sr.dcm",
    ]


def test_an_output_that_cannot_be_written_is_reported_in_the_record(series: Image, tmp_path: Path) -> None:
    blocked = tmp_path / "out"
    blocked.write_text("a file where the folder should be")
    record: dict[str, Any] = {"path": "x.dcm"}
    output_writer(blocked)(record, VolumeSegmentation("mri-hippocampus", MODEL, labels=_labels(series)))
    assert record["outputs"]["error"]["code"] == "output.error"
