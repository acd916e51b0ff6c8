"""An analysis job as a FHIR R4 ``DiagnosticReport``, validated with ``fhir.resources``.

Validated against ``fhir.resources.R4B``: FHIR R4B is the release of R4 with the same
DiagnosticReport, Observation and Device shapes (R4B changed no resource used here), and
``fhir.resources`` 8 ships R4B, not R4, beside R5.

The report:

* ``identifier`` ``urn:medsight:analysis|<job id>``; ``category`` RAD (v2-0074); ``code``
  LOINC 18748-4 "Diagnostic imaging study";
* ``subject`` by Patient ID (identifier only: the store holds no FHIR Patient), when known;
* ``imagingStudy`` by the study's DICOM UID (identifier ``urn:dicom:uid`` /
  ``urn:oid:<uid>``; a logical reference, as IHE's FHIR profiles use);
* ``result``: a contained ``Observation`` of the finding's probability
  (``valueQuantity``, UCUM ``1``), interpretation POS/NEG at the model's threshold,
  components for the threshold, the distance from it, the conformal coverage and whether
  the prediction set is ambiguous; its ``device`` is a contained ``Device`` that names the
  model (name, version, sha256 of its weights);
* ``conclusion`` in words, and ``conclusionCode`` (SNOMED CT) for a positive finding.

Status follows the job: queued ``registered``, running ``partial``, done ``preliminary``
(a model's result that no person has verified, as the DICOM SR says too), refused and
failed ``cancelled`` with the reason as the conclusion.
"""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from pydantic import ValidationError

from medsight.access import Principal
from medsight.errors import MedsightError
from medsight.services.findings import finding_code
from medsight.services.jobs import JobService
from medsight.store import StudyQuery, StudyResult
from medsight.store.jobs import JobRecord, JobStatus
from medsight.tasks import get_task

__all__ = ["FHIR_MEDIA_TYPE", "diagnostic_report", "report_json"]

FHIR_MEDIA_TYPE = "application/fhir+json"
_LOCAL = "urn:medsight:codes"
_UCUM = "http://unitsofmeasure.org"
_DCM = "http://dicom.nema.org/resources/ontology/DCM"
_V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_STATUS = {
    JobStatus.QUEUED: "registered",
    JobStatus.RUNNING: "partial",
    JobStatus.DONE: "preliminary",
    JobStatus.REFUSED: "cancelled",
    JobStatus.FAILED: "cancelled",
}


def report_json(service: JobService, job_id: str, principal: Principal) -> bytes:
    """One job's DiagnosticReport as FHIR JSON bytes, if ``principal`` may read its study.

    Raises:
        UnknownResourceError: no such job.
        PermissionDeniedError: a referrer asking about a study it did not send.
    """
    job = service.get(job_id, principal)
    found = service.store.studies(StudyQuery(study_instance_uids=(job.study_instance_uid,)))
    return json.dumps(diagnostic_report(job, found[0] if found else None)).encode("utf-8")


def diagnostic_report(job: JobRecord, study: StudyResult | None) -> dict[str, Any]:
    """The job as a validated DiagnosticReport, in FHIR JSON.

    Args:
        job: the analysis job.
        study: its study as stored (for the subject and the effective date), if still there.

    Raises:
        MedsightError: the resource does not validate (a bug: the message names no value).
    """
    report = _skeleton(job)
    if study is not None and study.patient_id:
        report["subject"] = {"identifier": {"value": study.patient_id}}
    if study is not None and study.study_date and len(study.study_date) == 8:
        date = study.study_date
        report["effectiveDateTime"] = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    result = job.result or {}
    if job.status is JobStatus.DONE and "probability" in result:
        report["contained"] = [_device(job), _observation(job, result, report.get("subject"))]
        report["result"] = [{"reference": "#probability"}]
        if result.get("label") == _positive(job):
            finding = finding_code(job.task)
            report["conclusionCode"] = [
                {"coding": [{"system": finding.system, "code": finding.code, "display": finding.meaning}]}
            ]
    try:
        validated = DiagnosticReport.model_validate(report)
    except ValidationError as exc:
        raise MedsightError(f"the FHIR DiagnosticReport did not validate ({exc.error_count()} error(s))") from exc
    out: dict[str, Any] = validated.model_dump(mode="json", by_alias=True, exclude_none=True)
    return out


def _skeleton(job: JobRecord) -> dict[str, Any]:
    """What every report says, whatever the job's state."""
    return {
        "resourceType": "DiagnosticReport",
        "id": job.job_id,
        "identifier": [{"system": "urn:medsight:analysis", "value": job.job_id}],
        "status": _STATUS[job.status],
        "category": [{"coding": [{"system": _V2_0074, "code": "RAD", "display": "Radiology"}]}],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "18748-4", "display": "Diagnostic imaging study"}],
            "text": f"medsight analysis: {job.task}",
        },
        "imagingStudy": [
            {
                "identifier": {"system": "urn:dicom:uid", "value": f"urn:oid:{job.study_instance_uid}"},
                "display": "Imaging study analysed",
            }
        ],
        "issued": (job.finished_at or job.created_at).isoformat(),
        "conclusion": _conclusion(job),
    }


def _positive(job: JobRecord) -> str:
    return get_task(job.task).positive_class


def _conclusion(job: JobRecord) -> str:
    result = job.result or {}
    model = f"{job.model.name} {job.model.version}"
    if job.status is JobStatus.DONE and "probability" in result:
        finding = finding_code(job.task).meaning
        return (
            f"{finding}: {result.get('label')} (probability {result['probability']:.3f}, "
            f"threshold {result['threshold']:.3f}) by model {model}. "
            "Computer-aided result, not verified by a person."
        )
    if job.status is JobStatus.REFUSED:
        refused = result.get("refused") or {}
        return f"Not analysed: {refused.get('reason', 'the images are outside what the model was made for')}."
    if job.status is JobStatus.FAILED:
        return f"Analysis failed ({job.error_code}): {job.error_message}"
    return f"Analysis {job.status.value}."


def _device(job: JobRecord) -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "id": "model",
        "identifier": [{"system": "urn:medsight:model-sha256", "value": job.model.sha256}],
        "manufacturer": "medsight",
        "deviceName": [{"name": job.model.name, "type": "model-name"}],
        "version": [{"value": job.model.version}],
    }


def _observation(job: JobRecord, result: dict[str, Any], subject: dict[str, Any] | None) -> dict[str, Any]:
    finding = finding_code(job.task)
    uncertainty = result.get("uncertainty") or {}
    positive = result.get("label") == _positive(job)
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "probability",
        "status": "preliminary",
        "code": {
            "coding": [{"system": _DCM, "code": "122157", "display": "Probability"}],
            "text": f"Probability of {finding.meaning.lower()}",
        },
        "focus": [{"display": finding.meaning}],
        "valueQuantity": {"value": result["probability"], "unit": "probability", "system": _UCUM, "code": "1"},
        "interpretation": [
            {"coding": [{"system": _INTERPRETATION, "code": "POS" if positive else "NEG"}], "text": result.get("label")}
        ],
        "device": {"reference": "#model"},
        "component": [
            _number("threshold", "Decision threshold", result["threshold"]),
            _number("margin", "Distance from threshold", uncertainty.get("margin")),
            _number("coverage", "Conformal coverage", uncertainty.get("coverage")),
            {
                "code": {"coding": [{"system": _LOCAL, "code": "ambiguous", "display": "Prediction set ambiguous"}]},
                "valueBoolean": bool(uncertainty.get("ambiguous", False)),
            },
        ],
    }
    if subject is not None:
        observation["subject"] = subject
    return observation


def _number(code: str, display: str, value: float | None) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": _LOCAL, "code": code, "display": display}]},
        "valueQuantity": {"value": value if value is not None else 0.0, "system": _UCUM, "code": "1"},
    }
