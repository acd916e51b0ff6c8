"""Series that wait to be stable before routing rules that read a whole series run on them.

A sender may store a series one instance per request (STOW-RS) or per C-STORE; nothing
in DICOM says when the last one came. Orthanc's answer, followed here, is a quiet time:
a series counts as stable once nothing new arrived for it for a while. Each arrival
pushes the series' ``due_at`` later (:meth:`PendingRoutes.defer`); whoever routes takes
due rows, acts on them, and then removes them (:meth:`PendingRoutes.take`), unless their
``due_at`` moved in the meantime: a late instance always wins. Rows live in the database:
a restarted server, or another server on the same database, routes what was waiting.

Plain records in, frozen dataclasses out; which rules wait is the router's business.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from medsight.errors import MedsightError
from medsight.store.database import Tables
from medsight.store.models import PendingRoute

__all__ = ["PendingRouteRecord", "PendingRoutes"]


@dataclass(frozen=True)
class PendingRouteRecord:
    """One waiting series: whose, what arrived, and when it will count as stable."""

    study_instance_uid: str
    series_instance_uid: str
    actor: str
    sop_classes: tuple[str, ...]
    due_at: datetime


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; every time here is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _record(row: PendingRoute) -> PendingRouteRecord:
    return PendingRouteRecord(
        row.study_instance_uid, row.series_instance_uid, row.actor, tuple(row.sop_classes.split()), _aware(row.due_at)
    )


class PendingRoutes(Tables):
    """The pending routes of one store's database.

    Args:
        sessions: the store's session factory.
    """

    def defer(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        actor: str,
        sop_classes: Iterable[str],
        due_at: datetime,
    ) -> None:
        """Wait for a series until ``due_at`` (later than any earlier wait), adding what arrived.

        Raises:
            MedsightError: the row could not be written.
        """
        arrived = set(sop_classes)
        try:
            self._defer(study_instance_uid, series_instance_uid, actor, arrived, due_at)
        except MedsightError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            # Another server added the row between this one's read and write (PostgreSQL;
            # SQLite's write transactions are serial): now there is a row to update.
            self._defer(study_instance_uid, series_instance_uid, actor, arrived, due_at)

    def _defer(self, study: str, series: str, actor: str, sop_classes: set[str], due_at: datetime) -> None:
        with self._writing() as session:
            row = session.get(PendingRoute, series)
            if row is None:
                session.add(
                    PendingRoute(
                        series_instance_uid=series,
                        study_instance_uid=study,
                        actor=actor,
                        sop_classes=" ".join(sorted(sop_classes)),
                        due_at=due_at,
                    )
                )
                return
            row.actor = actor
            row.sop_classes = " ".join(sorted(sop_classes | set(row.sop_classes.split())))
            row.due_at = max(_aware(row.due_at), due_at)

    def due(self, now: datetime, limit: int = 100) -> list[PendingRouteRecord]:
        """Series whose wait is over at ``now``, longest waiting first."""
        with self._reading() as session:
            rows = session.scalars(
                select(PendingRoute).where(PendingRoute.due_at <= now).order_by(PendingRoute.due_at).limit(limit)
            )
            return [_record(row) for row in rows]

    def next_due(self) -> datetime | None:
        """When the next wait ends (None: nothing waits)."""
        with self._reading() as session:
            first = session.scalar(select(func.min(PendingRoute.due_at)))
            return _aware(first) if first is not None else None

    def take(self, route: PendingRouteRecord) -> bool:
        """Remove a route that was acted on; False when it changed or went since it was read.

        A new arrival (a later ``due_at``) keeps the row, to be routed again once the
        series is stable again; another router having removed it first is harmless.
        """
        with self._writing() as session:
            removed = session.execute(
                delete(PendingRoute).where(
                    PendingRoute.series_instance_uid == route.series_instance_uid,
                    PendingRoute.due_at == route.due_at,
                )
            )
            return bool(getattr(removed, "rowcount", 0) == 1)

    def waiting(self, study_instance_uid: str | None = None) -> list[PendingRouteRecord]:
        """Waiting series (of one study, or all), soonest due first."""
        query = select(PendingRoute).order_by(PendingRoute.due_at)
        if study_instance_uid is not None:
            query = query.where(PendingRoute.study_instance_uid == study_instance_uid)
        with self._reading() as session:
            return [_record(row) for row in session.scalars(query)]
