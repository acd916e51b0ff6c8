"""The consent registry: ``POST /api/v1/consents``, ``GET /api/v1/consents/{pseudonym}`` and
``POST /api/v1/consents/lookup`` (a patient named by Patient ID, which never goes in a URL)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from medsight.access import Principal, Scope
from medsight.privacy.consent import ConsentDecision
from medsight.server.deps import Allow, ContextDep
from medsight.services.consent import (
    Standing,
    check_pseudonym,
    history,
    patient_pseudonym,
    record_consent,
    standing,
)
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


class ConsentLookup(BaseModel):
    """A patient named by Patient ID: in the body, so it never sits in a URL or an access log."""

    patient_id: str = Field(min_length=1, max_length=64)


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


def _standing_json(one: Standing) -> dict[str, Any]:
    return {"purpose": one.purpose.value, "party": one.party or None, "granted": one.granted}


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
    return _patient_json(ConsentLog(context.store.sessions), check_pseudonym(pseudonym), response)


@router.post("/lookup", summary="A patient's consent, the patient named by Patient ID")
def lookup(body: ConsentLookup, context: ContextDep, principal: Writer, response: Response) -> dict[str, Any]:
    """As ``GET /{pseudonym}``, for the pseudonym the key gives this Patient ID (503 without a key).

    It asks for ``consents:write``, not ``consents:read``: the answer links a Patient ID to
    its pseudonym, which recording by Patient ID already tells a writer, and which readers
    by pseudonym (auditors) are not meant to learn.
    """
    pseudonym = patient_pseudonym(body.patient_id, None, load_key())
    return _patient_json(ConsentLog(context.store.sessions), pseudonym, response)


def _patient_json(log: ConsentLog, pseudonym: str, response: Response) -> dict[str, Any]:
    decisions = history(log, pseudonym)
    current = [_standing_json(one) for one in standing(decisions)]
    response.headers["Cache-Control"] = "no-store"
    return {"pseudonym": pseudonym, "in_force": current, "history": [decision_json(d) for d in decisions]}
