"""Share links of one study for a remote reader (issue 9).

``POST /api/v1/shares`` makes one (``shares:write``; the patient's consent to sharing
with the named party must be in force), ``GET /api/v1/shares?study_uid=`` lists a
study's links, ``DELETE /api/v1/shares/{share_id}`` revokes one at once. The link the
reader gets is the viewer's address with ``#share=<token>`` (a fragment: it never
reaches a server log); the viewer exchanges it at ``POST /api/v1/shares/open``, which
needs no account, for a session token that reads that one study and nothing else.
Every step is a ledger entry, and its receipt is in the response's headers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from medsight.access import Principal, Scope
from medsight.access.tokens import parse_duration
from medsight.server.deps import Allow, ContextDep
from medsight.services.context import ServiceContext
from medsight.services.deid import load_key
from medsight.services.shares import ShareOptions, ShareService
from medsight.store.shares import ShareRecord

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/shares", tags=["shares"])
Sharer = Annotated[Principal, Depends(Allow(Scope.SHARES_WRITE))]


class ShareCreate(BaseModel):
    """One study, for one remote party, for a while; optionally counted and de-identified."""

    study_uid: str = Field(min_length=1, max_length=64)
    party: str = Field(min_length=1, max_length=160, examples=["Dr. Remote, Regional Hospital"])
    expires: str = Field(default="24h", description="a duration such as 24h, 7d (1 minute to 30 days)")
    max_accesses: int | None = Field(default=None, ge=1, le=10_000)
    deidentified: bool = False


class ShareOpen(BaseModel):
    """The token after ``#share=`` in the link."""

    token: str = Field(min_length=8, max_length=512)


def _shares(context: ServiceContext) -> ShareService:
    if context.shares is None:
        raise HTTPException(503, "this service runs without a ledger, so it makes no share links")
    return context.shares


def share_json(share: ShareRecord, now: Any = None) -> dict[str, Any]:
    """A share as the API shows it (no token: a link is shown once, when it is made)."""
    return {
        "id": share.share_id,
        "study_uid": share.study_instance_uid,
        "source_study_uid": share.source_study_uid,
        "deidentified": share.deidentified,
        "party": share.party,
        "created_by": share.created_by,
        "created_at": share.created_at.isoformat(),
        "expires_at": share.expires_at.isoformat(),
        "max_accesses": share.max_accesses,
        "accesses": share.accesses,
        "revoked_at": share.revoked_at.isoformat() if share.revoked_at else None,
        "state": share.state(now) if now is not None else None,
    }


@router.post("", status_code=201, summary="Make a share link for one study (consent to sharing checked)")
def create(body: ShareCreate, context: ContextDep, principal: Sharer) -> dict[str, Any]:
    """The link's token is in the answer once; keep it, it is not stored."""
    shares = _shares(context)
    context.access.require_study(principal, body.study_uid)
    options = ShareOptions(parse_duration(body.expires), body.party, body.max_accesses, body.deidentified)
    share, token, _ = shares.create(principal, body.study_uid, options, load_key())
    return {"share": share_json(share, shares.clock()), "token": token, "link": f"/#share={token}"}


@router.get("", summary="The share links of a study (original or de-identified copy), newest first")
def search(study_uid: str, context: ContextDep, _principal: Sharer) -> list[dict[str, Any]]:
    shares = _shares(context)
    now = shares.clock()
    return [share_json(share, now) for share in shares.for_study(study_uid)]


@router.delete("/{share_id}", summary="Revoke a share link at once (its open sessions too)")
def revoke(share_id: str, context: ContextDep, principal: Sharer) -> dict[str, Any]:
    shares = _shares(context)
    share, _ = shares.revoke(principal, share_id)
    return share_json(share, shares.clock())


@router.post("/open", summary="Open a share link (no account): a session token for that one study")
def open_link(body: ShareOpen, context: ContextDep) -> dict[str, Any]:
    """Counts one access and writes a share-access ledger entry; 401 when the link is not valid."""
    opened = _shares(context).open(body.token)
    return {
        "session_token": opened.session_token,
        "expires_at": opened.session_expires_at.isoformat(),
        "study_uid": opened.share.study_instance_uid,
        "deidentified": opened.share.deidentified,
        "party": opened.share.party,
    }
