"""De-identified exports: ``POST /api/v1/exports/deid`` (PS3.15 Basic Profile, a zip)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from medsight.access import Principal, Scope
from medsight.privacy.consent import parse_purpose
from medsight.privacy.profile import parse_options
from medsight.server.deps import Allow, ContextDep
from medsight.services.deid import load_key, make_profile
from medsight.services.deid_export import ConsentCheck, export_studies
from medsight.store.consent import ConsentLog
from medsight.store.spool import SealedSpool

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])
Exporter = Annotated[Principal, Depends(Allow(Scope.STUDIES_EXPORT))]


class DeidExportCreate(BaseModel):
    """Which studies, the profile options (CLI names; Clean Pixel Data by default), and the purpose.

    Only patients whose consent to the purpose is in force are exported: research export
    by default, or sharing with a named party.
    """

    study_uids: list[str] = Field(min_length=1, max_length=100, examples=[["1.2.826.0.1.3680043.8.498.1"]])
    options: list[str] = Field(default=["clean-pixel-data"], max_length=16)
    purpose: Literal["research-export", "sharing"] = "research-export"
    party: str | None = Field(default=None, max_length=160)


@router.post(
    "/deid",
    summary="A de-identified export of studies (zip)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
def deid_export(body: DeidExportCreate, context: ContextDep, principal: Exporter) -> StreamingResponse:
    """The studies' objects de-identified with the key in ``$MEDSIGHT_DEID_KEY`` (or ``$MEDSIGHT_DEID_KEY_FILE``).

    Objects with burned-in text that cannot be cleaned are left out and counted in the
    zip's ``manifest.json`` and the ``X-Medsight-Refused`` header; studies of patients
    without consent to the purpose are left out and counted (``X-Medsight-Without-Consent``).
    503 without a key.
    """
    profile = make_profile("basic", parse_options(body.options))
    purpose, party = parse_purpose(body.purpose, body.party)
    for study in body.study_uids:
        context.access.require_study(principal, study)
    key = load_key()
    # The zip rests on disk only encrypted, under a key that lives in this process alone.
    spool = SealedSpool()
    try:
        consent = ConsentCheck(ConsentLog(context.store.sessions), purpose, party)
        summary = export_studies(context.store, body.study_uids, profile, key, spool, consent)
        spool.close()
        if context.ledger is not None:  # recorded before a byte of the zip leaves
            context.ledger.exported(principal.actor, body.study_uids)
    except BaseException:
        spool.discard()
        raise
    return StreamingResponse(
        spool.chunks(),
        media_type="application/zip",
        headers={
            "Content-Disposition": 'attachment; filename="deid-export.zip"',
            "Content-Length": str(spool.size),
            "X-Medsight-Refused": str(summary.refused),
            "X-Medsight-Without-Consent": str(summary.without_consent),
        },
    )
