"""The DiagnosticReport follows the job's state, and validates in every state."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from tests.data.synthetic_mr import label_blobs

from medsight.imaging import Geometry, Image, Layout
from medsight.imaging.labels import LabelVolume
from medsight.inference.volume_segmentation import VolumeSegmentation
from medsight.services.fhir import diagnostic_report
from medsight.store.jobs import JobInput, JobRecord, JobStatus, ModelRef
from medsight.tasks.volume_measure import measure_labels

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RESULT = {
    "task": "cxr-pneumonia",
    "model": {"name": "m", "version": "1", "sha256": "ab" * 32},
    "threshold": 0.4,
    "probability": 0.91,
    "label": "pneumonia",
    "uncertainty": {
        "method": "conformal",
        "coverage": 0.9,
        "prediction_set": ["pneumonia"],
        "ambiguous": False,
        "margin": 0.51,
    },
}


def _job(status: JobStatus, **changes: object) -> JobRecord:
    values: dict[str, object] = {
        "job_id": "0123456789abcdef0123456789abcdef",
        "key": "k" * 64,
        "task": "cxr-pneumonia",
        "model": ModelRef("m", "1", "ab" * 32),
        "study_instance_uid": "1.2.3",
        "series_instance_uid": None,
        "inputs": (JobInput("1.2.3.4", "1.2.3.4.5", "c" * 64),),
        "requested_by": "dr.ada",
        "status": status,
        "attempts": 1,
        "lease_owner": None,
        "lease_expires_at": None,
        "created_at": NOW,
        "started_at": None,
        "finished_at": None,
        "result": None,
        "error_code": None,
        "error_message": None,
        "heatmap_sha256": None,
        "sr_series_instance_uid": None,
        "sr_sop_instance_uid": None,
    }
    values.update(changes)
    return JobRecord(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "fhir_status"),
    [
        (JobStatus.QUEUED, "registered"),
        (JobStatus.RUNNING, "partial"),
        (JobStatus.REFUSED, "cancelled"),
        (JobStatus.FAILED, "cancelled"),
    ],
)
def test_unfinished_and_unscored_jobs_have_no_result(status: JobStatus, fhir_status: str) -> None:
    report = diagnostic_report(_job(status, error_code="output.error", error_message="disk full"), None)
    DiagnosticReport.model_validate(report)
    assert report["status"] == fhir_status
    assert "result" not in report
    assert "subject" not in report


def test_a_positive_result_has_its_observation_device_and_snomed_conclusion() -> None:
    report = diagnostic_report(_job(JobStatus.DONE, result=RESULT, finished_at=NOW), None)
    DiagnosticReport.model_validate(report)
    assert report["status"] == "preliminary"
    assert report["conclusionCode"][0]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "233604007",
        "display": "Pneumonia",
    }
    observation = next(r for r in report["contained"] if r["resourceType"] == "Observation")
    assert observation["interpretation"][0]["coding"][0]["code"] == "POS"
    assert observation["device"] == {"reference": "#model"}
    assert "not verified" in report["conclusion"]
    negative = diagnostic_report(_job(JobStatus.DONE, result={**RESULT, "probability": 0.1, "label": "normal"}), None)
    assert "conclusionCode" not in negative
    codes = [c["code"]["coding"][0]["code"] for c in observation["component"]]
    assert not any(code.startswith("ensemble") for code in codes)  # one network: no member counts


def test_an_ensembles_result_says_how_many_members_are_over_the_threshold() -> None:
    members = {"n": 3, "positive": 2, "unanimous": False, "spread": 0.3, "probabilities": [0.3, 0.5, 0.6]}
    result = {**RESULT, "uncertainty": {**RESULT["uncertainty"], "members": members}}  # type: ignore[dict-item]
    report = diagnostic_report(_job(JobStatus.DONE, result=result, finished_at=NOW), None)
    DiagnosticReport.model_validate(report)
    observation = next(r for r in report["contained"] if r["resourceType"] == "Observation")
    values = {c["code"]["coding"][0]["code"]: c.get("valueQuantity", {}).get("value") for c in observation["component"]}
    assert values["ensemble_members"] == 3
    assert values["ensemble_members_positive"] == 2


def _volume_record(task: str, names: tuple[str, ...], *, spacing_known: bool = True) -> dict[str, object]:
    """A segmented volume's record as the volume job runner writes it (VolumeSegmentation.to_dict)."""
    spacing = (1.5, 1.0, 1.0) if spacing_known else (1.0, 1.0, 1.0)
    geometry = Geometry(spacing=spacing, spacing_known=spacing_known)
    image = Image(np.zeros((12, 16, 16), np.float32), layout=Layout.VOLUME, geometry=geometry)
    labels = label_blobs(image.shape, labels=len(names))
    labels[:, :, -4:] = 0  # the last label is kept away from the edge; an empty label is tested below
    segmentation = VolumeSegmentation(
        task=task,
        model={"name": "m", "version": "1", "sha256": "ab" * 32},
        labels=LabelVolume(labels, names, image),
        measurements=measure_labels(labels, names, spacing),
        confidence=0.9,
    )
    return {"path": "/dicomweb/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5", **segmentation.to_dict()}


def test_a_volume_job_reports_each_label_volume_in_ml_as_an_observation() -> None:
    record = _volume_record("mri-hippocampus", ("anterior", "posterior"))
    result = {**record, "found": True, "images": [record]}
    job = _job(JobStatus.DONE, task="mri-hippocampus", result=result, finished_at=NOW)
    report = diagnostic_report(job, None)
    DiagnosticReport.model_validate(report)
    observations = {r["id"]: r for r in report["contained"] if r["resourceType"] == "Observation"}
    assert sorted(observations) == ["volume-anterior", "volume-posterior"]
    assert report["result"] == [{"reference": "#volume-anterior"}, {"reference": "#volume-posterior"}]
    for name, observation in observations.items():
        Observation.model_validate(observation)
        label = name.removeprefix("volume-")
        quantity = observation["valueQuantity"]
        assert quantity["system"] == "http://unitsofmeasure.org"
        assert (quantity["unit"], quantity["code"]) == ("mL", "mL")
        assert quantity["value"] == pytest.approx(record["volumes_ml"][label])  # type: ignore[index]
        assert quantity["value"] > 0
        assert observation["code"]["coding"][0] == {
            "system": "http://snomed.info/sct",
            "code": "118565006",
            "display": "Volume",
        }
        assert observation["bodySite"]["coding"][0]["code"] == "5366008"  # hippocampus
        assert observation["device"] == {"reference": "#model"}
        diameter = observation["component"][0]["valueQuantity"]
        assert (diameter["code"], diameter["value"] > 0) == ("mm", True)
        assert "note" not in observation
    assert "Hippocampus, anterior" in report["conclusion"]
    assert " mL" in report["conclusion"]
    assert "not verified" in report["conclusion"]


def test_volumes_of_several_series_and_without_spacing_say_so() -> None:
    first = _volume_record("mri-brain-tumour", ("tumour",), spacing_known=False)
    empty = {
        **first,
        "volumes_ml": {"tumour": 0.0},
        "measurements": measure_labels(np.zeros((12, 16, 16), np.uint8), ("tumour",), (1.0, 1.0, 1.0)),
    }
    result = {**first, "images": [first, {"path": None, "error": {"code": "input.x", "message": "m"}}, empty]}
    report = diagnostic_report(_job(JobStatus.DONE, task="mri-brain-tumour", result=result, finished_at=NOW), None)
    DiagnosticReport.model_validate(report)
    observations = [r for r in report["contained"] if r["resourceType"] == "Observation"]
    assert [o["id"] for o in observations] == ["volume-1-tumour", "volume-2-tumour"]
    assert observations[0]["valueQuantity"]["value"] > 0
    # Nothing found is a result: 0 mL, no diameter or slice span.
    assert observations[1]["valueQuantity"]["value"] == 0
    assert "component" not in observations[1]
    assert observations[0]["bodySite"]["coding"][0]["code"] == "12738006"  # brain
    for observation in observations:
        assert "nominal 1 mm voxels" in observation["note"][0]["text"]
    assert "nominal 1 mm voxels" in report["conclusion"]
