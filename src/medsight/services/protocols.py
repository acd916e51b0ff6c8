"""Imaging-protocol recommendation as a use case: the CLI and the HTTP API call these.

* :func:`indications` lists what the knowledge base answers (code, name, region, pathways
  and the findings each indication reads);
* :func:`recommend_json` validates a profile, recommends, and adds the top examination
  as a FHIR R4B ``ServiceRequest`` draft;
* :func:`service_request` builds that draft.

The ``ServiceRequest`` is a *draft proposal* (``status: draft``, ``intent: proposal``):
decision support for the referrer, never an order. It carries the examination
(``code``, local system ``urn:medsight:procedure`` with the DICOM modality in
``orderDetail``), the indication (``reasonCode``), the protocol adjustments
(``orderDetail``), and the reasons (each fired rule with its citation) and warnings as
``note``; the requester is a contained ``Device`` naming the knowledge base version. The
subject is a display-only reference: the profile carries no patient identity, and none
is invented. When no imaging is indicated there is nothing to request (``None``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from medsight.errors import MedsightError
from medsight.protocols import RecommendationResult, load_knowledge_base, parse_profile, recommend

__all__ = ["indications", "recommend_json", "service_request"]

_PROCEDURES = "urn:medsight:procedure"
_INDICATIONS = "urn:medsight:indication"
_SNOMED = "http://snomed.info/sct"
_DCM = "http://dicom.nema.org/resources/ontology/DCM"


def indications() -> list[dict[str, Any]]:
    """Every indication the knowledge base answers, in code order."""
    kb = load_knowledge_base()
    rows = []
    for code in sorted(kb.indications):
        indication = kb.indications[code]
        rows.append(
            {
                "code": code,
                "name": indication.name,
                "region": indication.region,
                "pathways": sorted({v.pathway.value for v in indication.variants}),
                "findings": {
                    name: spec.model_dump(exclude_none=True) for name, spec in sorted(indication.findings.items())
                },
            }
        )
    return rows


def recommend_json(profile: Any, *, fhir: bool = True) -> dict[str, Any]:
    """The recommendation for one profile (a parsed JSON object), as JSON.

    Raises:
        ProfileError: the profile is invalid or contradicts itself (names the field).
    """
    result = recommend(parse_profile(profile))
    answer = result.as_json()
    if fhir:
        answer["fhir_service_request"] = service_request(result)
    return answer


def service_request(result: RecommendationResult) -> dict[str, Any] | None:
    """The top recommendation as a validated FHIR R4B ``ServiceRequest`` draft, or ``None``."""
    top = result.top
    if top is None or top.modality == "none":
        return None
    notes = [
        f"Appropriateness {top.rating}/9 ({top.category}); relative radiation level {top.rrl} "
        f"({top.dose_range}, {top.rrl_scale} scale)."
    ]
    notes += [f"Reason ({reason.rule}): {reason.statement} [{_cite(reason.citation)}]" for reason in top.reasons]
    notes += [f"Warning ({w.code}): {w.message} [{_cite(w.citation)}]" for w in result.warnings]
    notes += [f"Assumption ({a.field}): {a.statement}" for a in result.assumptions]
    details = [{"coding": [{"system": _DCM, "code": top.modality}], "text": f"Modality {top.modality}"}]
    details.append({"text": f"Contrast: {top.contrast}"})
    details += [{"text": adjustment} for adjustment in top.adjustments]
    resource = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "category": [{"coding": [{"system": _SNOMED, "code": "363679005", "display": "Imaging"}]}],
        "priority": "routine",
        "code": {"coding": [{"system": _PROCEDURES, "code": top.procedure_id, "display": top.procedure}]},
        "orderDetail": details,
        "subject": {"display": "The patient described by the submitted profile (no identity sent)"},
        "authoredOn": datetime.now(UTC).isoformat(timespec="seconds"),
        "reasonCode": [
            {"coding": [{"system": _INDICATIONS, "code": result.indication}], "text": result.indication_name}
        ],
        "requester": {"reference": "#recommender"},
        "contained": [
            {
                "resourceType": "Device",
                "id": "recommender",
                "deviceName": [{"name": "medsight protocol recommender", "type": "model-name"}],
                "version": [{"value": f"knowledge base {result.knowledge_base_version}"}],
            }
        ],
        "note": [{"text": text} for text in notes],
    }
    try:
        validated = ServiceRequest.model_validate(resource)
    except ValidationError as exc:
        raise MedsightError(f"the FHIR ServiceRequest did not validate ({exc.error_count()} error(s))") from exc
    out: dict[str, Any] = validated.model_dump(mode="json", by_alias=True, exclude_none=True)
    return out


def _cite(citation: Any) -> str:
    return f"{citation.title}; {citation.url}"
