"""The DiagnosticReport follows the job's state, and validates in every state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport

from medsight.services.fhir import diagnostic_report
from medsight.store.jobs import JobInput, JobRecord, JobStatus, ModelRef

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
