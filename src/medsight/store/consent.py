"""The consent registry's table: decisions appended, never edited (issue 8).

Plain records in, :class:`~medsight.privacy.consent.ConsentDecision` out; what a
decision means (the latest wins, none means no) is :mod:`medsight.privacy.consent`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from medsight.errors import MedsightError
from medsight.privacy.consent import ConsentDecision, Purpose
from medsight.store.database import Tables, write_session
from medsight.store.models import Consent

__all__ = ["ConsentLog"]


def _decision(row: Consent) -> ConsentDecision:
    at = row.recorded_at if row.recorded_at.tzinfo is not None else row.recorded_at.replace(tzinfo=UTC)
    return ConsentDecision(
        row.pseudonym, Purpose(row.purpose), row.party, row.state == "granted", row.recorded_by, at, row.document_ref
    )


class ConsentLog(Tables):
    """The consents table of one store's database.

    Args:
        sessions: the store's session factory.
    """

    def append(self, decision: ConsentDecision) -> ConsentDecision:
        """Record one decision.

        Raises:
            MedsightError: the row could not be written.
        """
        row = Consent(
            pseudonym=decision.pseudonym,
            purpose=decision.purpose.value,
            party=decision.party,
            state="granted" if decision.granted else "withdrawn",
            recorded_by=decision.recorded_by,
            recorded_at=decision.recorded_at,
            document_ref=decision.document_ref,
        )
        try:
            with write_session(self.sessions) as session:
                session.add(row)
                session.flush()
                return _decision(row)
        except SQLAlchemyError as exc:
            raise MedsightError(f"database write failed ({type(exc).__name__})") from exc

    def history(self, pseudonym: str) -> list[ConsentDecision]:
        """Every decision about one patient, oldest first."""
        with self._reading() as session:
            rows = session.scalars(select(Consent).where(Consent.pseudonym == pseudonym).order_by(Consent.pk))
            return [_decision(row) for row in rows]

    def for_patients(self, pseudonyms: Iterable[str], purpose: Purpose) -> list[ConsentDecision]:
        """The decisions about ``purpose`` for these patients, oldest first."""
        wanted = sorted(set(pseudonyms))
        if not wanted:
            return []
        with self._reading() as session:
            query = (
                select(Consent)
                .where(Consent.pseudonym.in_(wanted), Consent.purpose == purpose.value)
                .order_by(Consent.pk)
            )
            return [_decision(row) for row in session.scalars(query)]

    def now(self) -> datetime:
        """The time a new decision is recorded at (UTC)."""
        return datetime.now(UTC)
