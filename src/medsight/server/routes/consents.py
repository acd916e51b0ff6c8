"""The consent registry: ``POST /api/v1/consents`` and ``GET /api/v1/consents/{pseudonym}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from medsight.access import Principal, Scope
from medsight.privacy.consent import ConsentDecision, in_force
from medsight.server.deps import Allow, ContextDep
from medsight.services.consent import history, patient_pseudonym, record_consent
from medsight.services.deid import load_key
from medsight.store.consent import ConsentLog

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/consents", tags=["consents"])
Writer = Annotated[Principal, Depends(Allow(Scope.CONSENTS_WRITE))]
Reader = Annotated[Principal, Depends(Allow(Scope.CONSENTS_READ))]


class ConsentCreate(BaseModel):
    """A grant or a withdrawal, for a patient named by Patient ID (hashed with the key) or pseudonym."""

    patient_id: str | None = Field(default=None, max_length=64)
    pseudonym: str | None = Field(default=None, max_length=64, examples=["ANON-GQT6EVVWSILAYSSW"])
    purpose: str = Field(max_length=32, examples=["research-export"])
    party: str | None = Field(default=None, max_length=160)
    granted: bool
    document_ref: str | None = Field(default=None, max_length=256)


def decision_json(decision: ConsentDecision) -> dict[str, Any]:
    """One decision as the API shows it."""
    return {
        "pseudonym": decision.pseudonym,
        "purpose": decision.purpose.value,
        "party": decision.party or None,
        "state": "granted" if decision.granted else "withdrawn",
        "recorded_by": decision.recorded_by,
        "recorded_at": decision.recorded_at.isoformat(),
        "document_ref": decision.document_ref,
    }


@router.post("", status_code=201, summary="Record a consent grant or withdrawal")
def create(body: ConsentCreate, context: ContextDep, principal: Writer) -> dict[str, Any]:
    """Append a decision; the patient is stored by pseudonym only (a Patient ID needs the key: 503 without)."""
    key = load_key() if body.patient_id is not None else None
    pseudonym = patient_pseudonym(body.patient_id, body.pseudonym, key)
    decision = record_consent(
        ConsentLog(context.store.sessions),
        pseudonym,
        body.purpose,
        granted=body.granted,
        recorded_by=principal.actor,
        party=body.party,
        document_ref=body.document_ref,
    )
    return decision_json(decision)


@router.get("/{pseudonym}", summary="A patient's consent decisions and what is in force")
def read(pseudonym: str, context: ContextDep, principal: Reader, response: Response) -> dict[str, Any]:
    """The history (oldest first) and, per purpose (and party), whether a grant is in force."""
    decisions = history(ConsentLog(context.store.sessions), pseudonym)
    keys = sorted({(d.purpose, d.party) for d in decisions})
    current = [
        {"purpose": purpose.value, "party": party or None, "granted": in_force(decisions, purpose, party)[pseudonym]}
        for purpose, party in keys
    ]
    response.headers["Cache-Control"] = "no-store"
    return {"pseudonym": pseudonym, "in_force": current, "history": [decision_json(d) for d in decisions]}
