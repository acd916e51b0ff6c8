"""FHIR R4 resources of analysis results: ``/fhir/DiagnosticReport/{id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from medsight.access import Principal, Scope
from medsight.server.deps import Allow, ContextDep
from medsight.services.fhir import FHIR_MEDIA_TYPE, report_json

__all__ = ["router"]

router = APIRouter(prefix="/fhir", tags=["fhir"])


@router.get(
    "/DiagnosticReport/{job_id}",
    summary="An analysis as a FHIR R4 DiagnosticReport",
    response_class=Response,
    responses={200: {"content": {FHIR_MEDIA_TYPE: {}}}},
)
def diagnostic_report(
    job_id: str, context: ContextDep, principal: Annotated[Principal, Depends(Allow(Scope.ANALYSES_READ))]
) -> Response:
    """The report (``application/fhir+json``), validated with fhir.resources (R4B models)."""
    return Response(report_json(context.jobs, job_id, principal), media_type=FHIR_MEDIA_TYPE)
