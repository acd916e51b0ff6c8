"""De-identified exports: ``POST /api/v1/exports/deid`` (PS3.15 Basic Profile, a zip)."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from medsight.access import Principal, Scope
from medsight.privacy.profile import parse_options
from medsight.server.deps import Allow, ContextDep
from medsight.services.deid import load_key, make_profile
from medsight.services.deid_export import export_studies

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])
Exporter = Annotated[Principal, Depends(Allow(Scope.STUDIES_EXPORT))]


class DeidExportCreate(BaseModel):
    """Which studies, and which profile options (CLI names; Clean Pixel Data by default)."""

    study_uids: list[str] = Field(min_length=1, max_length=100, examples=[["1.2.826.0.1.3680043.8.498.1"]])
    options: list[str] = Field(default=["clean-pixel-data"], max_length=16)


@router.post(
    "/deid",
    summary="A de-identified export of studies (zip)",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
def deid_export(body: DeidExportCreate, context: ContextDep, principal: Exporter) -> FileResponse:
    """The studies' objects de-identified with the key in ``$MEDSIGHT_DEID_KEY`` (or ``$MEDSIGHT_DEID_KEY_FILE``).

    Objects with burned-in text that cannot be cleaned are left out and counted in the
    zip's ``manifest.json`` and the ``X-Medsight-Refused`` header. 503 without a key.
    """
    profile = make_profile("basic", parse_options(body.options))
    for study in body.study_uids:
        context.access.require_study(principal, study)
    key = load_key()
    handle, name = tempfile.mkstemp(prefix="medsight-export-", suffix=".zip")
    try:
        with os.fdopen(handle, "wb") as target:
            summary = export_studies(context.store, body.study_uids, profile, key, target)
    except BaseException:
        os.unlink(name)
        raise
    return FileResponse(
        name,
        media_type="application/zip",
        filename="deid-export.zip",
        headers={"X-Medsight-Refused": str(summary.refused)},
        background=BackgroundTask(os.unlink, name),
    )
