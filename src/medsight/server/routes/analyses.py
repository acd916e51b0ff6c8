"""Analysis jobs over HTTP: ``/api/v1/analyses`` (submit, status, results, heatmap)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from medsight.access import Principal, Scope
from medsight.server.deps import Allow, ContextDep
from medsight.services.jobs import ANALYSES_PATH, AnalysisRequest, HeatmapKind, job_json

__all__ = ["router"]

router = APIRouter(prefix=ANALYSES_PATH, tags=["analyses"])

Writer = Annotated[Principal, Depends(Allow(Scope.ANALYSES_WRITE))]
Reader = Annotated[Principal, Depends(Allow(Scope.ANALYSES_READ))]


class AnalysisCreate(BaseModel):
    """What to analyse: a stored study, optionally one series, with a task."""

    study_uid: str = Field(max_length=64, examples=["1.2.826.0.1.3680043.8.498.1"])
    series_uid: str | None = Field(default=None, max_length=64)
    task: str = Field(max_length=64, examples=["cxr-pneumonia"])


@router.post(
    "", status_code=202, summary="Queue an analysis (idempotent: the same images, task and model give the same job)"
)
def submit(body: AnalysisCreate, response: Response, context: ContextDep, principal: Writer) -> dict[str, Any]:
    """The job (``id``, ``status``, ...); poll ``links.self`` until it is done, refused or failed."""
    record, _queued = context.jobs.submit(AnalysisRequest(body.study_uid, body.series_uid, body.task), principal)
    response.headers["Location"] = f"{ANALYSES_PATH}/{record.job_id}"
    return job_json(record, model_facts=context.jobs.model_facts(record))


@router.get("", summary="List analyses, newest first (of one study, or all the caller may read)")
def search(
    context: ContextDep,
    principal: Reader,
    study_uid: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Jobs as JSON."""
    records = context.jobs.search(principal, study_uid, limit=limit, offset=offset)
    return [job_json(record, model_facts=context.jobs.model_facts(record)) for record in records]


@router.get("/waiting", summary="Series of a study whose analyses wait for the series to be complete")
def waiting(
    context: ContextDep, principal: Reader, study_uid: Annotated[str, Query(min_length=1, max_length=64)]
) -> list[dict[str, Any]]:
    """Each series still receiving instances that a routing rule will analyse once it is stable.

    ``due_at`` is when the series counts as stable if nothing more arrives (each new
    instance moves it); the analyses are queued then (``GET /api/v1/analyses``).
    """
    if context.router is None:  # arrivals are not routed (MEDSIGHT_AUTO_ANALYZE=false)
        context.access.require_study(principal, study_uid)
        return []
    return context.router.waiting(study_uid, principal)


@router.get("/{job_id}", summary="One analysis: status, result or error")
def get(job_id: str, context: ContextDep, principal: Reader) -> dict[str, Any]:
    """The job as JSON; ``result`` holds the ``analyze`` keys once it is done."""
    record = context.jobs.get(job_id, principal)
    return job_json(record, model_facts=context.jobs.model_facts(record))


@router.get(
    "/{job_id}/heatmap",
    summary="The heatmap of a finished analysis (the model's saliency map) over the image, or (kind=heat) the heat",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def heatmap(job_id: str, context: ContextDep, principal: Reader, kind: HeatmapKind = HeatmapKind.BLENDED) -> Response:
    """A PNG at most 512 px on its long side: RGB blended over the image, or RGBA heat (alpha from the saliency)."""
    return Response(context.jobs.heatmap(job_id, principal, kind), media_type="image/png")
