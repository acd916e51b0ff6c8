"""Analysis jobs in the store's database: a queue with leases, safe for several workers.

A job moves ``queued -> running -> done | refused | failed``. Claiming is atomic: on
PostgreSQL the oldest queued row is locked with ``FOR UPDATE SKIP LOCKED``, so two
workers never take the same job and never wait on each other; on SQLite the claim runs
in a ``BEGIN IMMEDIATE`` write session (:func:`~medsight.store.database.write_session`),
so claims queue behind one another. A running job is leased to one worker until
``lease_expires_at``; the worker extends it (:meth:`Jobs.heartbeat`) while it works, and
every write that ends a job checks the lease is still its own. A lease that expires (a
worker died, a server was killed) is put back in the queue by :meth:`Jobs.requeue_expired`,
or failed once a job has used up its attempts, so one poisonous input cannot crash a
server forever.

Submission is idempotent per :func:`job_key`; the same key returns the same job. Plain
records in, frozen dataclasses out (UIDs kept out of every repr); times are UTC.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError

from medsight.errors import MedsightError, UnknownResourceError
from medsight.store.database import Tables
from medsight.store.models import Job

__all__ = [
    "FINISHED",
    "JobInput",
    "JobOutcome",
    "JobRecord",
    "JobStatus",
    "Jobs",
    "ModelRef",
    "NewJob",
    "job_key",
    "job_record",
]

#: The error code of a job whose lease expired once too often (its input may crash workers).
ABANDONED = "analysis.abandoned"


class JobStatus(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    REFUSED = "refused"
    FAILED = "failed"


#: States a job never leaves (except a failed job submitted again: see :meth:`Jobs.enqueue`).
FINISHED = frozenset({JobStatus.DONE, JobStatus.REFUSED, JobStatus.FAILED})


@dataclass(frozen=True)
class ModelRef:
    """The model a job runs: its name, version, the sha256 of its weights and that of its
    input gate's weights (None: the bundle records no gate), and the digest of its settings
    (``Bundle.config_sha256``; None where not known, as for a job queued before it was kept)."""

    name: str
    version: str
    sha256: str
    input_gate_sha256: str | None = None
    config_sha256: str | None = None

    @classmethod
    def from_identity(cls, identity: Mapping[str, Any]) -> ModelRef:
        """The reference named by a model identity (``Bundle.identity()``, a release record):
        ``name``, ``version``, ``sha256`` and, where present, ``input_gate.sha256`` and
        ``config_sha256``."""
        gate = identity.get("input_gate")
        gate_sha256 = gate.get("sha256") if isinstance(gate, Mapping) else None
        config = identity.get("config_sha256")
        return cls(
            str(identity.get("name")),
            str(identity.get("version")),
            str(identity.get("sha256")),
            str(gate_sha256) if gate_sha256 else None,
            str(config) if config else None,
        )


@dataclass(frozen=True)
class JobInput:
    """One stored instance a job analyses, pinned by the sha256 of its bytes."""

    series_instance_uid: str = field(repr=False)
    sop_instance_uid: str = field(repr=False)
    sha256: str

    def to_json(self) -> dict[str, str]:
        """JSON form (as stored in the ``inputs`` column)."""
        return {
            "series_uid": self.series_instance_uid,
            "sop_instance_uid": self.sop_instance_uid,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class NewJob:
    """What a submission asks for."""

    task: str
    model: ModelRef
    study_instance_uid: str = field(repr=False)
    series_instance_uid: str | None = field(repr=False)
    inputs: tuple[JobInput, ...]
    requested_by: str


@dataclass(frozen=True)
class JobOutcome:
    """How a run ended: a final status and what goes with it.

    ``positive`` and ``uncertain`` are the result's triage flags (the services compute
    them, :mod:`medsight.services.triage`), stored in their own columns so that the
    worklist filters and sorts on them in SQL.
    """

    status: JobStatus
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    heatmap_sha256: str | None = None
    sr_series_instance_uid: str | None = field(default=None, repr=False)
    sr_sop_instance_uid: str | None = field(default=None, repr=False)
    positive: bool | None = None
    uncertain: bool = False


@dataclass(frozen=True)
class JobRecord:
    """A job as the store holds it."""

    job_id: str
    key: str
    task: str
    model: ModelRef
    study_instance_uid: str = field(repr=False)
    series_instance_uid: str | None = field(repr=False)
    inputs: tuple[JobInput, ...] = field(repr=False)
    requested_by: str
    status: JobStatus
    attempts: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None = field(repr=False)
    error_code: str | None
    error_message: str | None
    heatmap_sha256: str | None
    sr_series_instance_uid: str | None = field(repr=False)
    sr_sop_instance_uid: str | None = field(repr=False)


def job_key(
    instance_sha256s: Iterable[str],
    task: str,
    model_name: str,
    model_version: str,
    input_gate_sha256: str | None = None,
    config_sha256: str | None = None,
) -> str:
    """The idempotency key: sha256 over the sorted instance hashes, the task and the model,
    with its input gate (which decides what is refused) and the digest of its settings
    (which decide the result: a threshold moved since is a new job, not the old answer)
    where they are known; keys without them are those they always were."""
    digest = hashlib.sha256()
    gate = ("gate", input_gate_sha256) if input_gate_sha256 else ()
    config = ("config", config_sha256) if config_sha256 else ()
    for part in (*sorted(instance_sha256s), "task", task, "model", model_name, model_version, *gate, *config):
        digest.update(part.encode("utf-8") + b"\n")
    return digest.hexdigest()


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def job_record(row: Job) -> JobRecord:
    """The record of a job row (UTC-aware times, parsed JSON)."""
    inputs = tuple(
        JobInput(item["series_uid"], item["sop_instance_uid"], item["sha256"]) for item in json.loads(row.inputs)
    )
    return JobRecord(
        job_id=row.job_id,
        key=row.key,
        task=row.task,
        model=ModelRef(
            row.model_name, row.model_version, row.model_sha256, row.model_input_gate_sha256, row.model_config_sha256
        ),
        study_instance_uid=row.study_instance_uid,
        series_instance_uid=row.series_instance_uid,
        inputs=inputs,
        requested_by=row.requested_by,
        status=JobStatus(row.status),
        attempts=row.attempts,
        lease_owner=row.lease_owner,
        lease_expires_at=_aware(row.lease_expires_at),
        created_at=_aware(row.created_at) or row.created_at,
        started_at=_aware(row.started_at),
        finished_at=_aware(row.finished_at),
        result=json.loads(row.result) if row.result is not None else None,
        error_code=row.error_code,
        error_message=row.error_message,
        heatmap_sha256=row.heatmap_sha256,
        sr_series_instance_uid=row.sr_series_instance_uid,
        sr_sop_instance_uid=row.sr_sop_instance_uid,
    )


class Jobs(Tables):
    """The job table of one store's database.

    Args:
        sessions: the store's session factory.
    """

    def enqueue(self, new: NewJob, job_id: str, now: datetime) -> tuple[JobRecord, bool]:
        """Queue ``new`` under ``job_id``, or return the job with the same key.

        A job with the same key that *failed* is queued again (same id, attempts reset):
        a failure may have been passing (a full disk), and sending the same request is
        how a person retries. Done and refused jobs are returned as they are.

        Returns:
            The job, and whether this call created or re-queued it.
        """
        model = new.model
        key = job_key(
            (item.sha256 for item in new.inputs),
            new.task,
            model.name,
            model.version,
            model.input_gate_sha256,
            model.config_sha256,
        )
        for _ in range(2):  # a concurrent submission of the same key wins the insert: read it back
            try:
                with self._writing() as session:
                    row = session.scalar(select(Job).where(Job.key == key))
                    if row is not None:
                        queued = row.status == JobStatus.FAILED
                        if queued:
                            _requeue(row, reset=True)
                        return job_record(row), queued
                    row = _new_row(new, key, job_id, now)
                    session.add(row)
                    session.flush()
                    return job_record(row), True
            except MedsightError as exc:
                if not isinstance(exc.__cause__, DatabaseIntegrityError):
                    raise
        raise MedsightError("job submission kept colliding; try again")

    def get(self, job_id: str) -> JobRecord:
        """One job by id.

        Raises:
            UnknownResourceError: no job has this id.
        """
        with self._reading() as session:
            row = session.scalar(select(Job).where(Job.job_id == job_id))
            if row is None:
                raise UnknownResourceError("no analysis job with that id")
            return job_record(row)

    def search(
        self, *, study_instance_uids: Sequence[str] | None = None, limit: int = 100, offset: int = 0
    ) -> list[JobRecord]:
        """Jobs, newest first, optionally only those of some studies."""
        statement = select(Job)
        if study_instance_uids is not None:
            statement = statement.where(Job.study_instance_uid.in_(list(study_instance_uids)))
        statement = statement.order_by(Job.pk.desc()).offset(offset).limit(limit)
        with self._reading() as session:
            return [job_record(row) for row in session.scalars(statement)]

    def counts(self) -> dict[JobStatus, int]:
        """How many jobs are in each state."""
        with self._reading() as session:
            rows = session.execute(select(Job.status, func.count(Job.pk)).group_by(Job.status)).all()
        found = {status: int(count) for status, count in rows}
        return {status: found.get(status.value, 0) for status in JobStatus}

    def claim(self, owner: str, now: datetime, lease_s: float) -> JobRecord | None:
        """Take the oldest queued job for ``owner`` until ``now + lease_s``; None when none waits."""
        statement = (
            select(Job)
            .where(Job.status == JobStatus.QUEUED.value)
            .order_by(Job.pk)
            .limit(1)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's write session is exclusive already
        )
        with self._writing() as session:
            row = session.scalar(statement)
            if row is None:
                return None
            row.status = JobStatus.RUNNING.value
            row.lease_owner = owner
            row.lease_expires_at = now + timedelta(seconds=lease_s)
            row.attempts += 1
            row.started_at = now
            return job_record(row)

    def heartbeat(self, job_id: str, owner: str, now: datetime, lease_s: float) -> bool:
        """Extend ``owner``'s lease on a running job; False when the lease is no longer its own."""
        statement = (
            update(Job)
            .where(*_held(job_id, owner))
            .values(lease_expires_at=now + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )
        with self._writing() as session:
            return _rowcount(session.execute(statement)) == 1

    def finish(self, job_id: str, owner: str, outcome: JobOutcome, now: datetime) -> bool:
        """Record how ``owner``'s run ended; False (nothing written) when it lost the lease."""
        values: dict[str, Any] = {
            "status": outcome.status.value,
            "result": json.dumps(outcome.result, sort_keys=True) if outcome.result is not None else None,
            "error_code": outcome.error_code,
            "error_message": (outcome.error_message or "")[:512] or None,
            "heatmap_sha256": outcome.heatmap_sha256,
            "sr_series_instance_uid": outcome.sr_series_instance_uid,
            "sr_sop_instance_uid": outcome.sr_sop_instance_uid,
            "positive": outcome.positive,
            "uncertain": outcome.uncertain,
            "finished_at": now,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        statement = update(Job).where(*_held(job_id, owner)).values(**values)
        with self._writing() as session:
            return _rowcount(session.execute(statement.execution_options(synchronize_session=False))) == 1

    def release(self, job_id: str, owner: str) -> bool:
        """Give a running job back to the queue (a graceful shutdown); the attempt is not counted."""
        statement = (
            update(Job)
            .where(*_held(job_id, owner))
            .values(
                status=JobStatus.QUEUED.value,
                lease_owner=None,
                lease_expires_at=None,
                attempts=Job.attempts - 1,
            )
            .execution_options(synchronize_session=False)
        )
        with self._writing() as session:
            return _rowcount(session.execute(statement)) == 1

    def requeue_expired(self, now: datetime, max_attempts: int) -> tuple[int, int]:
        """Queue again the running jobs whose lease expired; fail those out of attempts.

        Returns:
            How many were re-queued and how many failed.
        """
        requeued = failed = 0
        with self._writing() as session:
            expired = session.scalars(
                select(Job)
                .where(Job.status == JobStatus.RUNNING.value, Job.lease_expires_at < now)
                .with_for_update(skip_locked=True)
            )
            for row in expired:
                if row.attempts >= max_attempts:
                    row.status = JobStatus.FAILED.value
                    row.error_code = ABANDONED
                    row.error_message = f"no worker finished it in {row.attempts} attempts"
                    row.finished_at = now
                    row.lease_owner = row.lease_expires_at = None
                    failed += 1
                else:
                    _requeue(row, reset=False)
                    requeued += 1
        return requeued, failed


def _new_row(new: NewJob, key: str, job_id: str, now: datetime) -> Job:
    return Job(
        job_id=job_id,
        key=key,
        task=new.task,
        model_name=new.model.name,
        model_version=new.model.version,
        model_sha256=new.model.sha256,
        model_input_gate_sha256=new.model.input_gate_sha256,
        model_config_sha256=new.model.config_sha256,
        study_instance_uid=new.study_instance_uid,
        series_instance_uid=new.series_instance_uid,
        inputs=json.dumps([item.to_json() for item in new.inputs]),
        requested_by=new.requested_by,
        status=JobStatus.QUEUED.value,
        attempts=0,
        created_at=now,
    )


def _requeue(row: Job, *, reset: bool) -> None:
    row.status = JobStatus.QUEUED.value
    row.lease_owner = row.lease_expires_at = None
    if reset:
        row.attempts = 0
        row.error_code = row.error_message = None
        row.finished_at = row.started_at = None
        row.result = None


def _held(job_id: str, owner: str) -> tuple[Any, ...]:
    return (Job.job_id == job_id, Job.lease_owner == owner, Job.status == JobStatus.RUNNING.value)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0))
