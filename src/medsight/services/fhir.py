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
  the prediction set is ambiguous (for an ensemble model, also how many members it has
  and how many are at or above the threshold); its ``device`` is a contained ``Device`` that names the
  model (name, version, sha256 of its weights);
* ``conclusion`` in words, and ``conclusionCode`` (SNOMED CT) for a positive finding.

A volume segmentation job (``mri-brain-tumour``, ``mri-hippocampus``) has instead one
contained ``Observation`` per label of each segmented volume (``volume-<label>``, or
``volume-<n>-<label>`` when the job segmented several series): ``code`` SNOMED CT
118565006 "Volume" (as the DICOM SR's TID 1411 groups), ``valueQuantity`` in mL (UCUM
``mL``; 0 mL for a label not found: "nothing found" is a result), ``bodySite`` the
segment's anatomy as the DICOM Segmentation codes it (Hippocampus; Brain for the FLAIR
abnormality), components for the largest in-plane diameter (SCT 81827009, UCUM ``mm``)
and the slices spanned, and a note where the input recorded no voxel size (volumes in
nominal 1 mm voxels). Each names the same contained ``Device``; the conclusion lists the
volumes in words.

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
from medsight.services.findings import SNOMED, finding_code, segment_coding
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
_OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_NOMINAL = "The input recorded no voxel size: volumes and lengths are in nominal 1 mm voxels."
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
    elif job.status is JobStatus.DONE and "volumes_ml" in result:
        observations = _volume_observations(job, result, report.get("subject"))
        report["contained"] = [_device(job), *observations]
        report["result"] = [{"reference": f"#{observation['id']}"} for observation in observations]
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
    if job.status is JobStatus.DONE and "volumes_ml" in result:
        volumes = "; ".join(
            f"{segment_coding(job.task, name, k).label} {ml:.2f} mL"
            for k, (name, ml) in enumerate(result["volumes_ml"].items(), start=1)
        )
        nominal = "" if result.get("spacing_known", True) else f" {_NOMINAL}"
        return f"{volumes} by model {model}.{nominal} Computer-aided result, not verified by a person."
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
            *_member_components(uncertainty.get("members")),
        ],
    }
    if subject is not None:
        observation["subject"] = subject
    return observation


def _member_components(members: dict[str, Any] | None) -> list[dict[str, Any]]:
    """An ensemble's agreement: how many members, how many at or above the threshold."""
    if not members:
        return []
    return [
        _number("ensemble_members", "Ensemble members", members["n"]),
        _number("ensemble_members_positive", "Ensemble members at or above threshold", members["positive"]),
    ]


def _number(code: str, display: str, value: float | None) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": _LOCAL, "code": code, "display": display}]},
        "valueQuantity": {"value": value if value is not None else 0.0, "system": _UCUM, "code": "1"},
    }


def _segmented_volumes(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's segmented volumes in order (``images``), or the headline alone."""
    images = [record for record in result.get("images") or () if "volumes_ml" in record]
    return images or [result]


def _volume_observations(
    job: JobRecord, result: dict[str, Any], subject: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """One Observation per label of each segmented volume (the module docstring)."""
    volumes = _segmented_volumes(result)
    observations: list[dict[str, Any]] = []
    for n, record in enumerate(volumes, start=1):
        prefix = "volume" if len(volumes) == 1 else f"volume-{n}"
        measurements = record.get("measurements") or {}
        for k, (name, ml) in enumerate(record["volumes_ml"].items(), start=1):
            observation = _volume_observation(job, name, k, float(ml), measurements.get(name) or {})
            observation["id"] = _fhir_id(f"{prefix}-{name}")
            if len(volumes) > 1:
                observation["code"]["text"] += f" (volume {n} of {len(volumes)})"
            if not record.get("spacing_known", True):
                observation["note"] = [{"text": _NOMINAL}]
            if subject is not None:
                observation["subject"] = subject
            observations.append(observation)
    return observations


def _volume_observation(job: JobRecord, name: str, number: int, ml: float, measured: dict[str, Any]) -> dict[str, Any]:
    coding = segment_coding(job.task, name, number)
    site = coding.region or (coding.type if coding.category.code == "91723000" else None)
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "preliminary",
        "category": [{"coding": [{"system": _OBSERVATION_CATEGORY, "code": "imaging", "display": "Imaging"}]}],
        "code": {
            "coding": [{"system": SNOMED, "code": "118565006", "display": "Volume"}],
            "text": f"Volume of {coding.label}",
        },
        "focus": [{"display": coding.label}],
        "valueQuantity": {"value": round(ml, 4), "unit": "mL", "system": _UCUM, "code": "mL"},
        "device": {"reference": "#model"},
    }
    if site is not None:
        observation["bodySite"] = {
            "coding": [{"system": site.system, "code": site.code, "display": site.meaning}],
            "text": coding.label,
        }
    components: list[dict[str, Any]] = []
    if measured.get("largest_diameter_mm") is not None:
        components.append(
            {
                "code": {
                    "coding": [{"system": SNOMED, "code": "81827009", "display": "Diameter"}],
                    "text": "Largest in-plane diameter",
                },
                "valueQuantity": {
                    "value": measured["largest_diameter_mm"],
                    "unit": "mm",
                    "system": _UCUM,
                    "code": "mm",
                },
            }
        )
    if measured.get("slices"):
        components.append(
            {
                "code": {"coding": [{"system": _LOCAL, "code": "slices-spanned", "display": "Slices spanned"}]},
                "valueQuantity": {"value": measured["slices"]["count"], "system": _UCUM, "code": "1"},
            }
        )
    if components:
        observation["component"] = components
    return observation


def _fhir_id(text: str) -> str:
    """``text`` as a FHIR id (letters, digits, '-' and '.', at most 64)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-.") else "-" for c in text)[:64]
