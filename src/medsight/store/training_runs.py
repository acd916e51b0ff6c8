"""The training-run register: which model version each consent-governed training run made, from whose data.

An auditor asks two questions of it: "what trained model X 1.2.0?" (:meth:`TrainingRuns.data_of`)
and "which models did this patient's data train?" (:meth:`TrainingRuns.runs_using`). Rows are
only appended: a run, once recorded, is history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select

from medsight.store.database import Tables
from medsight.store.models import TrainingRun, TrainingRunData

__all__ = ["RunRecord", "TrainingRuns", "UsedImage"]


@dataclass(frozen=True)
class UsedImage:
    """One image a run trained or validated on: the patient's pseudonym, never an identifier."""

    pseudonym: str
    source_sha256: str
    instance_sha256: str


@dataclass(frozen=True)
class RunRecord:
    """One training run as recorded."""

    run_id: str
    task: str
    model_name: str
    model_version: str
    weights_sha256: str
    dataset_sha256: str
    purpose: str
    consent_checked_at: datetime
    created_at: datetime
    actor: str
    patients: int
    instances: int
    withdrawn_dropped: int

    def to_dict(self) -> dict[str, object]:
        values = dict(self.__dict__)
        values["consent_checked_at"] = self.consent_checked_at.isoformat()
        values["created_at"] = self.created_at.isoformat()
        return values


class TrainingRuns(Tables):
    """The training_runs and training_run_data tables of one store's database."""

    def record(self, run: RunRecord, images: Sequence[UsedImage]) -> None:
        """Record a run and every image it used, in one transaction.

        Raises:
            MedsightError: the rows could not be written (nothing is recorded then).
        """
        with self._writing() as session:
            row = TrainingRun(**{k: v for k, v in run.__dict__.items()})
            session.add(row)
            session.flush()
            if images:
                session.execute(
                    insert(TrainingRunData),
                    [
                        {
                            "run_pk": row.pk,
                            "pseudonym": image.pseudonym,
                            "source_sha256": image.source_sha256,
                            "instance_sha256": image.instance_sha256,
                        }
                        for image in images
                    ],
                )

    def runs(self, model_name: str | None = None) -> list[RunRecord]:
        """Every recorded run (of one model name), oldest first."""
        with self._reading() as session:
            query = select(TrainingRun).order_by(TrainingRun.pk)
            if model_name is not None:
                query = query.where(TrainingRun.model_name == model_name)
            return [_record(row) for row in session.scalars(query)]

    def runs_using(self, pseudonym: str) -> list[RunRecord]:
        """The runs that used any image of this patient, oldest first."""
        with self._reading() as session:
            used = select(TrainingRunData.run_pk).where(TrainingRunData.pseudonym == pseudonym)
            query = select(TrainingRun).where(TrainingRun.pk.in_(used)).order_by(TrainingRun.pk)
            return [_record(row) for row in session.scalars(query)]

    def data_of(self, run_id: str) -> list[UsedImage]:
        """The images one run used, in the order recorded (empty for an unknown run)."""
        with self._reading() as session:
            query = (
                select(TrainingRunData)
                .join(TrainingRun, TrainingRun.pk == TrainingRunData.run_pk)
                .where(TrainingRun.run_id == run_id)
                .order_by(TrainingRunData.pk)
            )
            return [UsedImage(r.pseudonym, r.source_sha256, r.instance_sha256) for r in session.scalars(query)]


def _record(row: TrainingRun) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        task=row.task,
        model_name=row.model_name,
        model_version=row.model_version,
        weights_sha256=row.weights_sha256,
        dataset_sha256=row.dataset_sha256,
        purpose=row.purpose,
        consent_checked_at=_utc(row.consent_checked_at),
        created_at=_utc(row.created_at),
        actor=row.actor,
        patients=row.patients,
        instances=row.instances,
        withdrawn_dropped=row.withdrawn_dropped,
    )


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
