"""The store's tables: the DICOM information model's four query levels (PS3.4 C.6.1).

Patient -> Study -> Series -> Instance, each holding the attributes QIDO-RS matches on
and returns (PS3.18 10.6.1.2, Table 10.6.1-5). ModalitiesInStudy and the study's and
series' instance counts are derived from the rows below at query time, never stored,
so two concurrent ingests cannot leave them stale.

Patient names are stored twice: as written (``FAMILY^GIVEN``) and case-folded
(``*_search``), so that case-insensitive wildcard matching is a plain ``LIKE`` that
behaves alike on SQLite and PostgreSQL and can use an index.

Beside them, the service's access tables: users, their hashed bearer tokens, and who
sent each study (a referrer reads only results of studies it sent); and the analysis
jobs (:class:`Job`).

The migrations in ``migrations/versions`` must describe exactly these tables;
``tests/unit/store/test_store_migrations.py`` compares them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Base",
    "Consent",
    "Feedback",
    "Instance",
    "Job",
    "LedgerEntry",
    "LedgerHead",
    "LedgerNode",
    "Patient",
    "PendingRoute",
    "Series",
    "Share",
    "Study",
    "StudySubmitter",
    "Token",
    "TrainingRun",
    "TrainingRunData",
    "User",
]

UID = String(64)  # UI: at most 64 characters (PS3.5 6.2)

# Named constraints, so migrations can refer to them on every backend.
_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""

    metadata = MetaData(naming_convention=_NAMING)


class Patient(Base):
    """A patient, identified by Patient ID within its issuer ("" when no issuer is named).

    An object without a Patient ID gets a patient of its own study (``patient_id`` NULL:
    unique constraints treat NULLs as distinct), so that two anonymous patients never
    merge into one and show each other's names.
    """

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("patient_id", "issuer_of_patient_id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[str | None] = mapped_column(String, index=True)
    issuer_of_patient_id: Mapped[str] = mapped_column(String)
    patient_name: Mapped[str | None] = mapped_column(String)
    patient_name_search: Mapped[str | None] = mapped_column(String, index=True)
    patient_birth_date: Mapped[str | None] = mapped_column(String(8))
    patient_sex: Mapped[str | None] = mapped_column(String(16))

    studies: Mapped[list[Study]] = relationship(back_populates="patient")


class Study(Base):
    """A study (General Study module, PS3.3 C.7.2.1)."""

    __tablename__ = "studies"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.pk", ondelete="RESTRICT"), index=True)
    study_instance_uid: Mapped[str] = mapped_column(UID, unique=True)
    study_date: Mapped[str | None] = mapped_column(String(8), index=True)
    study_time: Mapped[str | None] = mapped_column(String(16))
    study_id: Mapped[str | None] = mapped_column(String)
    accession_number: Mapped[str | None] = mapped_column(String, index=True)
    study_description: Mapped[str | None] = mapped_column(String)
    referring_physician_name: Mapped[str | None] = mapped_column(String)
    referring_physician_name_search: Mapped[str | None] = mapped_column(String)

    patient: Mapped[Patient] = relationship(back_populates="studies")
    series: Mapped[list[Series]] = relationship(back_populates="study")


class Series(Base):
    """A series (General Series module, PS3.3 C.7.3.1)."""

    __tablename__ = "series"
    # ModalitiesInStudy matching is "a series of this study has this modality".
    __table_args__ = (Index("ix_series_study_pk_modality", "study_pk", "modality"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.pk", ondelete="RESTRICT"))
    series_instance_uid: Mapped[str] = mapped_column(UID, unique=True)
    modality: Mapped[str | None] = mapped_column(String(16), index=True)
    series_number: Mapped[int | None] = mapped_column(Integer)
    series_description: Mapped[str | None] = mapped_column(String)
    body_part_examined: Mapped[str | None] = mapped_column(String)

    study: Mapped[Study] = relationship(back_populates="series")
    instances: Mapped[list[Instance]] = relationship(back_populates="series")


class Instance(Base):
    """A stored SOP instance and the blob that holds its bytes."""

    __tablename__ = "instances"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_pk: Mapped[int] = mapped_column(ForeignKey("series.pk", ondelete="RESTRICT"), index=True)
    sop_instance_uid: Mapped[str] = mapped_column(UID, unique=True)
    sop_class_uid: Mapped[str | None] = mapped_column(UID, index=True)
    instance_number: Mapped[int | None] = mapped_column(Integer)
    transfer_syntax_uid: Mapped[str] = mapped_column(UID)
    rows: Mapped[int | None] = mapped_column(Integer)
    columns: Mapped[int | None] = mapped_column(Integer)
    number_of_frames: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)

    series: Mapped[Series] = relationship(back_populates="instances")


class User(Base):
    """A person or system that holds tokens; its role is the role of its tokens."""

    __tablename__ = "users"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Token(Base):
    """A bearer token: its public id and the sha256 of its value, never the value."""

    __tablename__ = "tokens"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[str] = mapped_column(String(16), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    user_pk: Mapped[int | None] = mapped_column(ForeignKey("users.pk", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User | None] = relationship()


class StudySubmitter(Base):
    """One actor sent (part of) one study: what "its own results" means for a referrer."""

    __tablename__ = "study_submitters"
    __table_args__ = (UniqueConstraint("study_instance_uid", "actor"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(UID)
    actor: Mapped[str] = mapped_column(String(160), index=True)


class Job(Base):
    """An analysis job: what to analyse, its state, its lease while running, its result.

    ``key`` makes submission idempotent: the sha256 of the sorted instance sha256s, the
    task and the model's name and version. ``inputs`` and ``result`` are JSON text.
    A running job is leased to one worker until ``lease_expires_at``; an expired lease
    puts it back in the queue (a worker died, a server was killed).
    """

    __tablename__ = "jobs"
    # Workers claim the oldest queued job; the janitor looks for expired running ones; the
    # worklist's flags read each study's newest job per task.
    __table_args__ = (
        Index("ix_jobs_status_pk", "status", "pk"),
        Index("ix_jobs_study_task_pk", "study_instance_uid", "task", "pk"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(32), unique=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    task: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    model_sha256: Mapped[str] = mapped_column(String(64))
    # The input gate's weights (migration 0012); None: the model had none, or the job predates it.
    model_input_gate_sha256: Mapped[str | None] = mapped_column(String(64))
    # The digest of its settings, Bundle.config_sha256 (migration 0013); None: the job predates it.
    model_config_sha256: Mapped[str | None] = mapped_column(String(64))
    study_instance_uid: Mapped[str] = mapped_column(UID, index=True)
    series_instance_uid: Mapped[str | None] = mapped_column(UID)
    inputs: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(160))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(512))
    heatmap_sha256: Mapped[str | None] = mapped_column(String(64))
    sr_series_instance_uid: Mapped[str | None] = mapped_column(UID)
    sr_sop_instance_uid: Mapped[str | None] = mapped_column(UID)
    # The result's triage flags (medsight.services.triage), for the worklist's filter and sort.
    positive: Mapped[bool | None] = mapped_column(Boolean)
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Feedback(Base):
    """A reader's verdict on an analysis result (agree or disagree, with a comment); rows are only appended."""

    __tablename__ = "feedback"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.job_id", ondelete="RESTRICT"), index=True)
    actor: Mapped[str] = mapped_column(String(160))
    verdict: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Consent(Base):
    """A patient's consent decision for one purpose (by pseudonym, never an identifier); rows are only appended."""

    __tablename__ = "consents"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    party: Mapped[str] = mapped_column(String(160))  # the remote party for sharing, else ""
    state: Mapped[str] = mapped_column(String(16))  # granted | withdrawn
    recorded_by: Mapped[str] = mapped_column(String(160))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    document_ref: Mapped[str | None] = mapped_column(String(256))


#: A 64-bit key that is SQLite's rowid there (an INTEGER PRIMARY KEY; BIGINT would add an index beside it).
_KEY64 = BigInteger().with_variant(Integer(), "sqlite")


class LedgerEntry(Base):
    """One entry of the verifiable ledger (:mod:`medsight.ledger`): its canonical bytes at its index."""

    __tablename__ = "ledger_entries"

    idx: Mapped[int] = mapped_column(_KEY64, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerNode(Base):
    """The hash of one perfect subtree of the ledger; ``node_id`` is ``level << 48 | index``."""

    __tablename__ = "ledger_nodes"

    node_id: Mapped[int] = mapped_column(_KEY64, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerHead(Base):
    """A signed tree head of the ledger, in the order they were signed."""

    __tablename__ = "ledger_heads"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))


class TrainingRun(Base):
    """One training run on consent-governed data: which model version it made, from how much data."""

    __tablename__ = "training_runs"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(32), unique=True)
    task: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(String(128), index=True)
    model_version: Mapped[str] = mapped_column(String(64))
    weights_sha256: Mapped[str] = mapped_column(String(64))
    dataset_sha256: Mapped[str] = mapped_column(String(64))  # the dataset's provenance.json
    purpose: Mapped[str] = mapped_column(String(32))
    consent_checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(160))
    patients: Mapped[int] = mapped_column(Integer)
    instances: Mapped[int] = mapped_column(Integer)
    withdrawn_dropped: Mapped[int] = mapped_column(Integer)  # rows left out: consent no longer in force


class TrainingRunData(Base):
    """One de-identified image a training run used: its patient's pseudonym and its hashes."""

    __tablename__ = "training_run_data"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("training_runs.pk", ondelete="RESTRICT"), index=True)
    pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    source_sha256: Mapped[str] = mapped_column(String(64))  # the stored object it was made from
    instance_sha256: Mapped[str] = mapped_column(String(64))  # the de-identified file trained on


class Share(Base):
    """A share link of one study (issue 9): read-only, expiring, optionally counted, revocable."""

    __tablename__ = "shares"

    share_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(UID, index=True)
    source_study_uid: Mapped[str] = mapped_column(UID)  # the original when the shared copy is de-identified
    deidentified: Mapped[bool] = mapped_column(Boolean)
    party: Mapped[str] = mapped_column(String(160))
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    max_accesses: Mapped[int | None] = mapped_column(Integer)
    accesses: Mapped[int] = mapped_column(Integer)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(160))
    # The patient's keyed pseudonym: consent to sharing is checked again on every opening.
    pseudonym: Mapped[str | None] = mapped_column(String(64), index=True)


class PendingRoute(Base):
    """A series waiting to be stable (no new instance for a while) before its routing rules run.

    One row per series: each arrival pushes ``due_at`` later and adds the SOP Classes
    that arrived (space-separated); :mod:`medsight.store.pending_routes` keeps them.
    """

    __tablename__ = "pending_routes"

    series_instance_uid: Mapped[str] = mapped_column(UID, primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(UID)
    actor: Mapped[str] = mapped_column(String(160))  # the latest sender: jobs are queued on its behalf
    sop_classes: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
