"""Writing one instance's rows: patient, study and series found or created, instance upserted.

The first instance of a patient, study or series sets its attributes; later instances
only fill what is still empty. DICOM requires every instance of a study to repeat the
same study and patient attributes (PS3.3 C.7.1.1, C.7.2.1), so a disagreement is an
error in the sender's data that the store does not arbitrate by the latest arrival.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medsight.io.dicom.index import IndexRecord
from medsight.store.matching import fold
from medsight.store.models import Instance, Patient, Series, Study

__all__ = ["IngestStatus", "RowCache", "write_rows"]

_IN_LIST = 500  # UIDs per IN (...) lookup: well below SQLite's bound-parameter limit


class IngestStatus(StrEnum):
    """What an ingest did (PS3.18 10.5.3: STOW-RS reports success, warning or failure).

    STORED: a new instance. ALREADY_STORED: the same bytes were stored before; nothing
    changed (success: re-sending is idempotent). REPLACED: an instance with this SOP
    Instance UID was stored with other bytes; the new bytes replace them (a warning,
    as a STOW-RS origin server may coerce or overwrite, PS3.18 10.5.3.1).
    """

    STORED = "stored"
    ALREADY_STORED = "already_stored"
    REPLACED = "replaced"


@dataclass
class RowCache:
    """Patient, study and series rows already found or made in one transaction.

    A batch of instances from one upload mostly shares its study and series: looking
    them up once per batch instead of once per instance saves three queries an instance.
    Valid for one session only (rows are bound to it).
    """

    patients: dict[tuple[str, str], Patient] = field(default_factory=dict)
    studies: dict[str, Study] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    instances: dict[str, Instance | None] = field(default_factory=dict)  # None: known not stored

    def prefetch(self, session: Session, records: Sequence[IndexRecord]) -> None:
        """Look up (and lock) every instance of a batch in one query instead of one each.

        Without it each instance's lookup would also flush the one before it: a batch
        then pays one flush per instance instead of one bulk insert at commit.
        """
        uids = [record.sop_instance_uid for record in records]
        self.instances.update(dict.fromkeys(uids))
        for start in range(0, len(uids), _IN_LIST):
            chosen = select(Instance).where(Instance.sop_instance_uid.in_(uids[start : start + _IN_LIST]))
            for instance in session.scalars(chosen.with_for_update()):
                self.instances[instance.sop_instance_uid] = instance


def write_rows(
    session: Session, record: IndexRecord, sha256: str, size: int, cache: RowCache | None = None
) -> tuple[IngestStatus, str | None]:
    """Add or update the rows of one instance in the session's transaction (no commit).

    Args:
        session: the write transaction.
        record: the instance's indexed attributes.
        sha256: the hash of its bytes.
        size: their length.
        cache: rows of earlier instances of the same transaction (batch ingest).

    Returns:
        The status, and the sha256 the instance had before when it is replaced.
    """
    cache = cache if cache is not None else RowCache()
    if record.sop_instance_uid in cache.instances:
        existing = cache.instances[record.sop_instance_uid]
    else:
        statement = select(Instance).where(Instance.sop_instance_uid == record.sop_instance_uid)
        existing = session.scalars(statement.with_for_update()).one_or_none()
    if existing is not None and existing.sha256 == sha256:
        return IngestStatus.ALREADY_STORED, None
    series = _series(session, _study(session, _patient(session, record, cache), record, cache), record, cache)
    if existing is None:  # inserted at the next flush: the commit, or a batch's next lookup
        instance = _new_instance(series, record, sha256, size)
        session.add(instance)
        cache.instances[record.sop_instance_uid] = instance
        return IngestStatus.STORED, None
    old_sha, old_series = existing.sha256, existing.series
    existing.series = series
    _set_instance(existing, record, sha256, size)
    session.flush()
    if old_series is not series:
        _drop_if_empty(session, old_series)
    return IngestStatus.REPLACED, old_sha


def _patient(session: Session, record: IndexRecord, cache: RowCache) -> Patient:
    issuer = record.issuer_of_patient_id or ""
    key = (record.patient_id, issuer) if record.patient_id is not None else None
    if key is not None:
        cached = cache.patients.get(key)
    else:  # an anonymous patient is its study's own
        study = cache.studies.get(record.study_instance_uid)
        cached = study.patient if study is not None else None
    if cached is not None:
        return _fill_patient(cached, record)
    if record.patient_id is None:  # no identity to share: the study's own patient
        statement = select(Patient).join(Patient.studies).where(Study.study_instance_uid == record.study_instance_uid)
    else:
        statement = select(Patient).where(
            Patient.patient_id == record.patient_id, Patient.issuer_of_patient_id == issuer
        )
    patient = session.scalars(statement).one_or_none()
    if patient is None:
        patient = Patient(patient_id=record.patient_id, issuer_of_patient_id=issuer)
        session.add(patient)
    if key is not None:
        cache.patients[key] = patient
    return _fill_patient(patient, record)


def _fill_patient(patient: Patient, record: IndexRecord) -> Patient:
    _fill(patient, "patient_name", record.patient_name)
    _fill(patient, "patient_name_search", fold(record.patient_name))
    _fill(patient, "patient_birth_date", record.patient_birth_date)
    _fill(patient, "patient_sex", record.patient_sex)
    return patient


def _study(session: Session, patient: Patient, record: IndexRecord, cache: RowCache) -> Study:
    study = cache.studies.get(record.study_instance_uid)
    if study is None:
        statement = select(Study).where(Study.study_instance_uid == record.study_instance_uid)
        study = session.scalars(statement).one_or_none()
    if study is None:
        study = Study(study_instance_uid=record.study_instance_uid, patient=patient)
        session.add(study)
    cache.studies[record.study_instance_uid] = study
    _fill(study, "study_date", record.study_date)
    _fill(study, "study_time", record.study_time)
    _fill(study, "study_id", record.study_id)
    _fill(study, "accession_number", record.accession_number)
    _fill(study, "study_description", record.study_description)
    _fill(study, "referring_physician_name", record.referring_physician_name)
    _fill(study, "referring_physician_name_search", fold(record.referring_physician_name))
    return study


def _series(session: Session, study: Study, record: IndexRecord, cache: RowCache) -> Series:
    series = cache.series.get(record.series_instance_uid)
    if series is None:
        statement = select(Series).where(Series.series_instance_uid == record.series_instance_uid)
        series = session.scalars(statement).one_or_none()
    if series is None:
        series = Series(series_instance_uid=record.series_instance_uid, study=study)
        session.add(series)
    cache.series[record.series_instance_uid] = series
    _fill(series, "modality", record.modality.upper() if record.modality else None)
    _fill(series, "series_number", record.series_number)
    _fill(series, "series_description", record.series_description)
    _fill(series, "body_part_examined", record.body_part_examined)
    return series


def _new_instance(series: Series, record: IndexRecord, sha256: str, size: int) -> Instance:
    instance = Instance(sop_instance_uid=record.sop_instance_uid, series=series)
    _set_instance(instance, record, sha256, size)
    return instance


def _set_instance(instance: Instance, record: IndexRecord, sha256: str, size: int) -> None:
    instance.sop_class_uid = record.sop_class_uid
    instance.instance_number = record.instance_number
    instance.transfer_syntax_uid = record.transfer_syntax_uid
    instance.rows = record.rows
    instance.columns = record.columns
    instance.number_of_frames = record.number_of_frames
    instance.sha256 = sha256
    instance.size = size


def _fill(row: object, attribute: str, value: object) -> None:
    if value is not None and getattr(row, attribute) is None:
        setattr(row, attribute, value)


def _drop_if_empty(session: Session, series: Series) -> None:
    """Remove a series (and then its study) that a replaced instance has left empty."""
    count = select(func.count(Instance.pk)).where(Instance.series_pk == series.pk)
    if session.scalar(count):
        return
    study = series.study
    session.delete(series)
    session.flush()
    if not session.scalar(select(func.count(Series.pk)).where(Series.study_pk == study.pk)):
        session.delete(study)
        session.flush()
