"""Writing one instance's rows: patient, study and series found or created, instance upserted.

The first instance of a patient, study or series sets its attributes; later instances
only fill what is still empty. DICOM requires every instance of a study to repeat the
same study and patient attributes (PS3.3 C.7.1.1, C.7.2.1), so a disagreement is an
error in the sender's data that the store does not arbitrate by the latest arrival.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medsight.io.dicom.index import IndexRecord
from medsight.store.matching import fold
from medsight.store.models import Instance, Patient, Series, Study

__all__ = ["IngestStatus", "write_rows"]


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


def write_rows(session: Session, record: IndexRecord, sha256: str, size: int) -> tuple[IngestStatus, str | None]:
    """Add or update the rows of one instance in the session's transaction (no commit).

    Returns:
        The status, and the sha256 the instance had before when it is replaced.
    """
    existing = session.scalars(
        select(Instance).where(Instance.sop_instance_uid == record.sop_instance_uid).with_for_update()
    ).one_or_none()
    if existing is not None and existing.sha256 == sha256:
        return IngestStatus.ALREADY_STORED, None
    series = _series(session, _study(session, _patient(session, record), record), record)
    if existing is None:
        session.add(_new_instance(series, record, sha256, size))
        session.flush()
        return IngestStatus.STORED, None
    old_sha, old_series = existing.sha256, existing.series
    existing.series = series
    _set_instance(existing, record, sha256, size)
    session.flush()
    if old_series is not series:
        _drop_if_empty(session, old_series)
    return IngestStatus.REPLACED, old_sha


def _patient(session: Session, record: IndexRecord) -> Patient:
    issuer = record.issuer_of_patient_id or ""
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
    _fill(patient, "patient_name", record.patient_name)
    _fill(patient, "patient_name_search", fold(record.patient_name))
    _fill(patient, "patient_birth_date", record.patient_birth_date)
    _fill(patient, "patient_sex", record.patient_sex)
    return patient


def _study(session: Session, patient: Patient, record: IndexRecord) -> Study:
    study = session.scalars(select(Study).where(Study.study_instance_uid == record.study_instance_uid)).one_or_none()
    if study is None:
        study = Study(study_instance_uid=record.study_instance_uid, patient=patient)
        session.add(study)
    _fill(study, "study_date", record.study_date)
    _fill(study, "study_time", record.study_time)
    _fill(study, "study_id", record.study_id)
    _fill(study, "accession_number", record.accession_number)
    _fill(study, "study_description", record.study_description)
    _fill(study, "referring_physician_name", record.referring_physician_name)
    _fill(study, "referring_physician_name_search", fold(record.referring_physician_name))
    return study


def _series(session: Session, study: Study, record: IndexRecord) -> Series:
    series = session.scalars(
        select(Series).where(Series.series_instance_uid == record.series_instance_uid)
    ).one_or_none()
    if series is None:
        series = Series(series_instance_uid=record.series_instance_uid, study=study)
        session.add(series)
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
