"""The share links' table (issue 9): created, counted and revoked, never deleted.

Each method takes the caller's session where the change must commit together with its
ledger entry (:mod:`medsight.services.shares` opens that transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from medsight.store.database import Tables
from medsight.store.models import Share

__all__ = ["ShareRecord", "ShareTables"]


def _aware(value: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes back; every time stored here is UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass(frozen=True)
class ShareRecord:
    """One share link as stored."""

    share_id: str
    study_instance_uid: str
    source_study_uid: str
    deidentified: bool
    party: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    max_accesses: int | None
    accesses: int
    revoked_at: datetime | None
    revoked_by: str | None
    #: The patient's pseudonym, for the consent check on every opening (None: made before
    #: it was recorded; such a link no longer opens).
    pseudonym: str | None = None

    def state(self, now: datetime) -> str:
        """``active``, ``revoked``, ``expired`` or ``used up``."""
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        if self.max_accesses is not None and self.accesses >= self.max_accesses:
            return "used up"
        return "active"


def _record(row: Share) -> ShareRecord:
    return ShareRecord(
        row.share_id,
        row.study_instance_uid,
        row.source_study_uid,
        row.deidentified,
        row.party,
        row.created_by,
        _aware(row.created_at),  # type: ignore[arg-type]
        _aware(row.expires_at),  # type: ignore[arg-type]
        row.max_accesses,
        row.accesses,
        _aware(row.revoked_at),
        row.revoked_by,
        row.pseudonym,
    )


class ShareTables(Tables):
    """The shares table of one store's database."""

    @staticmethod
    def add(session: Session, record: ShareRecord) -> None:
        session.add(
            Share(
                share_id=record.share_id,
                study_instance_uid=record.study_instance_uid,
                source_study_uid=record.source_study_uid,
                deidentified=record.deidentified,
                party=record.party,
                created_by=record.created_by,
                created_at=record.created_at,
                expires_at=record.expires_at,
                max_accesses=record.max_accesses,
                accesses=0,
                pseudonym=record.pseudonym,
            )
        )
        session.flush()

    def get(self, share_id: str) -> ShareRecord | None:
        with self._reading() as session:
            row = session.get(Share, share_id)
            return _record(row) if row is not None else None

    @staticmethod
    def locked(session: Session, share_id: str) -> ShareRecord | None:
        """The share, read ``FOR UPDATE`` in the caller's write transaction (a count or a revocation)."""
        row = session.scalar(select(Share).where(Share.share_id == share_id).with_for_update())
        return _record(row) if row is not None else None

    @staticmethod
    def count_access(session: Session, share_id: str) -> None:
        session.execute(
            update(Share).where(Share.share_id == share_id).values(accesses=Share.accesses + 1),
            execution_options={"synchronize_session": False},
        )

    @staticmethod
    def revoke(session: Session, share_id: str, by: str, at: datetime) -> None:
        session.execute(
            update(Share).where(Share.share_id == share_id).values(revoked_at=at, revoked_by=by),
            execution_options={"synchronize_session": False},
        )

    def for_study(self, study_instance_uid: str) -> list[ShareRecord]:
        """The shares of a study (original or de-identified copy), newest first."""
        with self._reading() as session:
            query = (
                select(Share)
                .where(
                    (Share.study_instance_uid == study_instance_uid) | (Share.source_study_uid == study_instance_uid)
                )
                .order_by(Share.created_at.desc())
            )
            return [_record(row) for row in session.scalars(query)]
