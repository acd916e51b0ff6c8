"""Readers' verdicts on analysis results (agree or disagree, with a comment), append-only.

Each verdict is a new row: a reader who changes their mind adds another, and the
history stays for monitoring (how often readers disagree with a model version). Plain
records in, frozen dataclasses out; who may give feedback is the services' job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from medsight.errors import MedsightError
from medsight.store.database import Tables, write_session
from medsight.store.models import Feedback

__all__ = ["FeedbackLog", "FeedbackRecord", "Verdict"]


class Verdict(StrEnum):
    """What a reader says of an AI result."""

    AGREE = "agree"
    DISAGREE = "disagree"


@dataclass(frozen=True)
class FeedbackRecord:
    """One verdict as stored (the comment is free text: kept out of the repr)."""

    job_id: str
    actor: str
    verdict: Verdict
    comment: str | None = field(repr=False)
    created_at: datetime


def _record(row: Feedback) -> FeedbackRecord:
    created = row.created_at if row.created_at.tzinfo is not None else row.created_at.replace(tzinfo=UTC)
    return FeedbackRecord(row.job_id, row.actor, Verdict(row.verdict), row.comment, created)


class FeedbackLog(Tables):
    """The feedback table of one store's database.

    Args:
        sessions: the store's session factory.
    """

    def append(self, job_id: str, actor: str, verdict: Verdict, comment: str | None, now: datetime) -> FeedbackRecord:
        """Record one verdict on a job.

        Raises:
            MedsightError: the row could not be written (an unknown job id, say).
        """
        row = Feedback(job_id=job_id, actor=actor, verdict=verdict.value, comment=comment, created_at=now)
        try:
            with write_session(self.sessions) as session:
                session.add(row)
                session.flush()
                return _record(row)
        except SQLAlchemyError as exc:
            raise MedsightError(f"database write failed ({type(exc).__name__})") from exc

    def for_job(self, job_id: str) -> list[FeedbackRecord]:
        """Every verdict on one job, oldest first."""
        with self._reading() as session:
            rows = session.scalars(select(Feedback).where(Feedback.job_id == job_id).order_by(Feedback.pk))
            return [_record(row) for row in rows]
