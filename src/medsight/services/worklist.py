"""Use case: the reading worklist, as a caller may see it.

Studies with their latest analysis (status, top finding and its probability) and the
latest analysis of each task run on them, filtered, sorted and paged by the store
(:mod:`medsight.store.worklist`). Each finished classification says whether it is
positive and whether a person should look closely (:mod:`medsight.services.triage`),
so that a reader triaging the list sees a tuberculosis flag on a chest film whose
pneumonia finding, queued last, is normal; the list filters on those flags and sorts
flagged studies first. A referrer sees only
the studies it sent. Patient name and ID are shown to the roles in
:data:`PATIENT_VISIBLE`; every role that may read the worklist is there today, and a
role added later (a teaching or research reader) stays out of it until it is listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from medsight.access import Principal, Role
from medsight.errors import MedsightError, UsageError
from medsight.services.context import ServiceContext
from medsight.services.triage import triage
from medsight.store.jobs import JobRecord, JobStatus
from medsight.store.worklist import (
    WorklistFlag,
    WorklistPage,
    WorklistQuery,
    WorklistRow,
    WorklistSort,
    search_worklist,
)

__all__ = ["PATIENT_VISIBLE", "WorklistRequest", "worklist", "worklist_json"]

#: Roles that see the patient's name and ID in the worklist.
PATIENT_VISIBLE = frozenset({Role.ADMIN, Role.RADIOLOGIST, Role.REFERRER})

#: What the API calls a job that has not started: the worklist says "pending".
_STATUS_NAMES = {JobStatus.QUEUED: "pending"}


@dataclass(frozen=True)
class WorklistRequest:
    """The query parameters of a worklist page, as sent (dates as ``YYYY-MM-DD`` or ``YYYYMMDD``)."""

    date_from: str | None = None
    date_to: str | None = None
    modality: str | None = None
    status: str | None = None
    text: str | None = None
    flag: str | None = None
    sort: str = "date"
    order: str = "desc"
    limit: int = 50
    offset: int = 0


def _date(value: str | None) -> str | None:
    return value.replace("-", "") if value else None


def _status(value: str | None) -> str | None:
    if not value:
        return None
    return JobStatus.QUEUED.value if value == "pending" else value


def _query(request: WorklistRequest, principal: Principal) -> WorklistQuery:
    try:
        sort = WorklistSort(request.sort)
    except ValueError:
        raise UsageError(f"sort must be one of {', '.join(s.value for s in WorklistSort)}") from None
    if request.order not in ("asc", "desc"):
        raise UsageError("order must be asc or desc")
    try:
        flag = WorklistFlag(request.flag) if request.flag else None
    except ValueError:
        raise UsageError(f"flag must be one of {', '.join(f.value for f in WorklistFlag)}") from None
    return WorklistQuery(
        date_from=_date(request.date_from),
        date_to=_date(request.date_to),
        modality=request.modality or None,
        status=_status(request.status),
        text=request.text or None,
        submitted_by=principal.actor if principal.own_studies_only else None,
        flag=flag,
        sort=sort,
        descending=request.order == "desc",
        limit=request.limit,
        offset=request.offset,
    )


def worklist(context: ServiceContext, principal: Principal, request: WorklistRequest) -> WorklistPage:
    """One page of the worklist for ``principal`` (referrers: only the studies they sent).

    Raises:
        UsageError: a malformed date, an unknown status, sort or order, a bad page size.
    """
    query = _query(request, principal)
    try:
        with context.store.sessions() as session:
            return search_worklist(session, query)
    except SQLAlchemyError as exc:
        raise MedsightError(f"database query failed ({type(exc).__name__})") from exc


def _analysis_json(job: JobRecord) -> dict[str, Any]:
    result: Mapping[str, Any] = job.result or {}
    refused = result.get("refused")
    return {
        "id": job.job_id,
        "status": _STATUS_NAMES.get(job.status, job.status.value),
        "task": job.task,
        "finding": result.get("label") or _volumes(result),
        "probability": result.get("probability"),
        "threshold": result.get("threshold"),
        "refused": refused.get("reason") if isinstance(refused, Mapping) else None,
        "error": job.error_code,
    }


def _flagged_json(job: JobRecord) -> dict[str, Any]:
    """A task's latest analysis with its triage flags (:mod:`medsight.services.triage`)."""
    flags = triage(job.status, job.result)
    return _analysis_json(job) | {
        "positive": flags.positive,
        "uncertain": flags.uncertain,
        "uncertain_reasons": list(flags.uncertain_reasons),
    }


def _volumes(result: Mapping[str, Any]) -> str | None:
    """A volume segmentation's finding for the worklist: each label's volume (``tumour 12.3 mL``)."""
    volumes = result.get("volumes_ml")
    if not isinstance(volumes, Mapping) or not volumes:
        return None
    return ", ".join(f"{name} {float(ml):.1f} mL" for name, ml in volumes.items())


def _row_json(row: WorklistRow, show_patient: bool) -> dict[str, Any]:
    return {
        "study_uid": row.study_instance_uid,
        "patient_name": row.patient_name if show_patient else None,
        "patient_id": row.patient_id if show_patient else None,
        "study_date": row.study_date,
        "study_time": row.study_time,
        "accession": row.accession_number,
        "description": row.study_description,
        "modalities": list(row.modalities),
        "analysis": _analysis_json(row.job) if row.job is not None else None,
        "analyses": [_flagged_json(job) for job in row.analyses],
        "waiting": row.waiting,
    }


def worklist_json(page: WorklistPage, request: WorklistRequest, principal: Principal) -> dict[str, Any]:
    """The API's JSON form of a page."""
    show_patient = principal.role in PATIENT_VISIBLE
    return {
        "total": page.total,
        "offset": request.offset,
        "limit": request.limit,
        "items": [_row_json(row, show_patient) for row in page.rows],
    }
