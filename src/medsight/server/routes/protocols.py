"""Imaging-protocol recommendations: ``GET /api/v1/protocols/indications`` and ``POST /api/v1/protocols/recommend``.

Decision support for the referrer before ordering; nothing is stored and nothing is
logged from the profile (the access log records the route and the caller only).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response

from medsight.access import Principal, Scope
from medsight.server.deps import Allow
from medsight.services.protocols import indications, recommend_json

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/protocols", tags=["protocols"])
Reader = Annotated[Principal, Depends(Allow(Scope.PROTOCOLS_READ))]

_EXAMPLE = {
    "age": 62,
    "sex": "male",
    "indication": "lung_cancer_screening",
    "smoking": {"pack_years": 30, "years_since_quit": None},
    "egfr": 85,
}


@router.get("/indications", summary="The indications the knowledge base answers")
async def list_indications(principal: Reader) -> list[dict[str, Any]]:
    """Each indication's code, name, region, pathways and the findings it reads."""
    return indications()


@router.post("/recommend", summary="Ranked, explained imaging recommendations for a patient profile")
async def recommend(
    principal: Reader,
    response: Response,
    profile: Annotated[dict[str, Any], Body(examples=[_EXAMPLE])],
    fhir: Annotated[bool, Query(description="Add the top examination as a FHIR R4B ServiceRequest draft.")] = True,
) -> dict[str, Any]:
    """The profile's recommendations, warnings, assumptions, missing fields and risk estimates.

    An invalid or contradictory profile is a 422 problem naming the field
    (``protocol.invalid_profile``); a profile that lacks a deciding field answers 200
    with ``status: needs_input`` and the fields in ``missing``.
    """
    # A profile is patient data: no shared cache may keep the answer.
    response.headers["Cache-Control"] = "no-store"
    return recommend_json(profile, fhir=fhir)
