"""The reading worklist and readers' feedback: ``/api/v1/worklist``, ``/api/v1/analyses/{id}/feedback``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from medsight.access import Principal, Scope
from medsight.server.deps import Allow, ContextDep
from medsight.services.feedback import MAX_COMMENT, feedback_json, give_feedback, job_feedback
from medsight.services.worklist import WorklistRequest, worklist, worklist_json

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["worklist"])

Reader = Annotated[Principal, Depends(Allow(Scope.ANALYSES_READ))]
Writer = Annotated[Principal, Depends(Allow(Scope.ANALYSES_WRITE))]


class FeedbackCreate(BaseModel):
    """A reader's verdict on an analysis result."""

    verdict: str = Field(examples=["disagree"], description="agree or disagree")
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)


@router.get("/worklist", summary="Studies with their latest analysis (sorted, filtered, paged)")
def get_worklist(
    context: ContextDep,
    principal: Reader,
    date_from: Annotated[str | None, Query(description="earliest study date, YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, Query(description="latest study date, YYYY-MM-DD")] = None,
    modality: Annotated[str | None, Query(max_length=16)] = None,
    status: Annotated[str | None, Query(description="pending, running, done, refused, failed or none")] = None,
    q: Annotated[str | None, Query(max_length=64, description="patient, ID, accession or description")] = None,
    flag: Annotated[
        str | None,
        Query(description="positive, uncertain or flagged (either): the newest analysis of one of its tasks is"),
    ] = None,
    sort: Annotated[
        str, Query(description="date, patient, description, accession, status, received or priority")
    ] = "date",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """One page of the worklist; a referrer sees only the studies it sent."""
    request = WorklistRequest(
        date_from=date_from,
        date_to=date_to,
        modality=modality,
        status=status,
        text=q,
        flag=flag,
        sort=sort,
        order=order,
        limit=limit,
        offset=offset,
    )
    return worklist_json(worklist(context, principal, request), request, principal)


@router.post("/analyses/{job_id}/feedback", status_code=201, summary="Agree or disagree with a result")
def post_feedback(job_id: str, body: FeedbackCreate, context: ContextDep, principal: Writer) -> dict[str, Any]:
    """Record the caller's verdict (appended; earlier verdicts stay)."""
    return feedback_json(give_feedback(context, job_id, principal, body.verdict, body.comment))


@router.get("/analyses/{job_id}/feedback", summary="Readers' verdicts on a result")
def get_feedback(job_id: str, context: ContextDep, principal: Reader) -> list[dict[str, Any]]:
    """Every verdict on the job, oldest first."""
    return [feedback_json(record) for record in job_feedback(context, job_id, principal)]
