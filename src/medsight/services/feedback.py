"""Use case: readers' agree/disagree verdicts on analysis results, kept for monitoring.

A verdict names a job the caller may read (referrers: jobs on studies they sent); it is
appended, never edited, so the record shows how often readers disagreed with each
model version. Comments are free text and may hold patient details: they are stored,
returned to those who may read the job, and never logged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from medsight.access import Principal
from medsight.errors import UsageError
from medsight.services.context import ServiceContext
from medsight.store.feedback import FeedbackLog, FeedbackRecord, Verdict
from medsight.store.jobs import JobRecord, Jobs

__all__ = ["MAX_COMMENT", "feedback_json", "give_feedback", "job_feedback"]

_log = logging.getLogger(__name__)

#: Longest comment kept, in characters.
MAX_COMMENT = 2000


def _readable_job(context: ServiceContext, job_id: str, principal: Principal) -> JobRecord:
    job = Jobs(context.store.sessions).get(job_id)
    context.access.require_study(principal, job.study_instance_uid)
    return job


def _verdict(text: str) -> Verdict:
    try:
        return Verdict(text.strip().lower())
    except ValueError:
        raise UsageError("verdict must be agree or disagree") from None


def give_feedback(
    context: ServiceContext, job_id: str, principal: Principal, verdict: str, comment: str | None
) -> FeedbackRecord:
    """Record ``principal``'s verdict on a job's result.

    Raises:
        UnknownResourceError: no such job.
        PermissionDeniedError: a referrer's verdict on a study it did not send.
        UsageError: a verdict other than agree/disagree, a comment too long, or a job
            with no result yet.
    """
    job = _readable_job(context, job_id, principal)
    if job.result is None:
        raise UsageError("this analysis has no result yet to agree or disagree with")
    text = comment.strip() if comment else None
    if text is not None and len(text) > MAX_COMMENT:
        raise UsageError(f"a comment is at most {MAX_COMMENT} characters")
    record = FeedbackLog(context.store.sessions).append(
        job.job_id, principal.actor, _verdict(verdict), text or None, datetime.now(UTC)
    )
    _log.info("feedback on job %s: %s", job.job_id, record.verdict.value)
    return record


def job_feedback(context: ServiceContext, job_id: str, principal: Principal) -> list[FeedbackRecord]:
    """Every verdict on a job, oldest first.

    Raises:
        UnknownResourceError: no such job.
        PermissionDeniedError: a referrer asking about a study it did not send.
    """
    job = _readable_job(context, job_id, principal)
    return FeedbackLog(context.store.sessions).for_job(job.job_id)


def feedback_json(record: FeedbackRecord) -> dict[str, Any]:
    """The API's JSON form of one verdict."""
    return {
        "job_id": record.job_id,
        "actor": record.actor,
        "verdict": record.verdict.value,
        "comment": record.comment,
        "created_at": record.created_at.isoformat(),
    }
