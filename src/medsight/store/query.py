"""Study, series and instance queries: what QIDO-RS searches (PS3.18 10.6).

Each level takes a frozen query (the matching keys of PS3.18 Table 10.6.1-5, with the
semantics of PS3.4 C.2.2.2, see :mod:`medsight.store.matching`) and returns plain
frozen dataclasses that a DICOMweb layer can render as DICOM JSON. Results come in a
stable order (the order of first storage), so ``limit``/``offset`` pages neither skip
nor repeat while objects are being added. Counts and ModalitiesInStudy are derived
from the series and instances rows (PS3.18 Table 10.6.3-2 "derived" attributes).

Patient attributes are kept out of every repr: a result or a query may end up in a log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, distinct, func, select
from sqlalchemy.orm import Session

from medsight.errors import UsageError
from medsight.store.matching import date_condition, string_condition, time_condition, uid_condition
from medsight.store.models import Instance, Patient, Series, Study

__all__ = [
    "InstanceQuery",
    "InstanceResult",
    "SeriesQuery",
    "SeriesResult",
    "StudyQuery",
    "StudyResult",
    "search_instances",
    "search_series",
    "search_studies",
]

_S = TypeVar("_S", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True)
class _Page:
    limit: int | None = None
    offset: int = 0

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise UsageError("limit must not be negative")
        if self.offset < 0:
            raise UsageError("offset must not be negative")


@dataclass(frozen=True)
class StudyQuery(_Page):
    """Study-level matching keys; None (or an empty tuple) matches everything.

    Attributes:
        patient_id: PatientID, single value or wildcard, case-sensitive.
        patient_name: PatientName, wildcard, case-insensitive.
        study_date: StudyDate, a date or a range (``A-B``, ``-B``, ``A-``).
        study_time: StudyTime, a time or a range, matched apart from the date.
        modalities: ModalitiesInStudy: a study matches when one of its series has one.
        accession_number: AccessionNumber, single value or wildcard.
        study_instance_uids: StudyInstanceUID, list of UIDs.
        referring_physician_name: ReferringPhysicianName, wildcard, case-insensitive.
        study_id: StudyID, single value or wildcard.
    """

    patient_id: str | None = field(default=None, repr=False)
    patient_name: str | None = field(default=None, repr=False)
    study_date: str | None = field(default=None, repr=False)
    study_time: str | None = field(default=None, repr=False)
    modalities: tuple[str, ...] = ()
    accession_number: str | None = field(default=None, repr=False)
    study_instance_uids: tuple[str, ...] = field(default=(), repr=False)
    referring_physician_name: str | None = field(default=None, repr=False)
    study_id: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SeriesQuery(_Page):
    """Series-level matching keys, optionally within one study."""

    study_instance_uid: str | None = field(default=None, repr=False)
    series_instance_uids: tuple[str, ...] = field(default=(), repr=False)
    modality: str | None = None
    series_number: int | None = None


@dataclass(frozen=True)
class InstanceQuery(_Page):
    """Instance-level matching keys, optionally within one study and series."""

    study_instance_uid: str | None = field(default=None, repr=False)
    series_instance_uid: str | None = field(default=None, repr=False)
    sop_instance_uids: tuple[str, ...] = field(default=(), repr=False)
    sop_class_uid: str | None = None
    instance_number: int | None = None


@dataclass(frozen=True)
class StudyResult:
    """One study, with its patient and the derived attributes of PS3.18 Table 10.6.3-2."""

    study_instance_uid: str = field(repr=False)
    patient_id: str | None = field(repr=False)
    patient_name: str | None = field(repr=False)
    patient_birth_date: str | None = field(repr=False)
    patient_sex: str | None = field(repr=False)
    study_date: str | None = field(repr=False)
    study_time: str | None = field(repr=False)
    study_id: str | None = field(repr=False)
    accession_number: str | None = field(repr=False)
    study_description: str | None = field(repr=False)
    referring_physician_name: str | None = field(repr=False)
    modalities_in_study: tuple[str, ...]
    number_of_series: int
    number_of_instances: int


@dataclass(frozen=True)
class SeriesResult:
    """One series and its NumberOfSeriesRelatedInstances."""

    study_instance_uid: str = field(repr=False)
    series_instance_uid: str = field(repr=False)
    modality: str | None
    series_number: int | None
    series_description: str | None = field(repr=False)
    body_part_examined: str | None
    number_of_instances: int


@dataclass(frozen=True)
class InstanceResult:
    """One stored instance, and the hash and size of its bytes."""

    study_instance_uid: str = field(repr=False)
    series_instance_uid: str = field(repr=False)
    sop_instance_uid: str = field(repr=False)
    sop_class_uid: str | None
    instance_number: int | None
    transfer_syntax_uid: str
    rows: int | None
    columns: int | None
    number_of_frames: int | None
    sha256: str
    size: int


def search_studies(session: Session, query: StudyQuery) -> list[StudyResult]:
    """Studies matching ``query``, in order of first storage."""
    conditions = [
        string_condition(Patient.patient_id, query.patient_id) if query.patient_id is not None else None,
        string_condition(Patient.patient_name_search, query.patient_name, person_name=True)
        if query.patient_name is not None
        else None,
        date_condition(Study.study_date, query.study_date, attribute="StudyDate")
        if query.study_date is not None
        else None,
        time_condition(Study.study_time, query.study_time, attribute="StudyTime")
        if query.study_time is not None
        else None,
        string_condition(Study.referring_physician_name_search, query.referring_physician_name, person_name=True)
        if query.referring_physician_name is not None
        else None,
        string_condition(Study.study_id, query.study_id) if query.study_id is not None else None,
        string_condition(Study.accession_number, query.accession_number)
        if query.accession_number is not None
        else None,
        uid_condition(Study.study_instance_uid, query.study_instance_uids),
        _modalities_condition(query.modalities),
    ]
    statement = select(Study, Patient).join(Study.patient)
    rows = session.execute(_paged(_where(statement, conditions), query, Study.pk)).all()
    pks = [study.pk for study, _ in rows]
    modalities, counts = _study_modalities(session, pks), _study_counts(session, pks)
    return [
        _study_result(study, patient, modalities[study.pk], counts.get(study.pk, (0, 0))) for study, patient in rows
    ]


def search_series(session: Session, query: SeriesQuery) -> list[SeriesResult]:
    """Series matching ``query``, in order of first storage."""
    conditions = [
        Study.study_instance_uid == query.study_instance_uid if query.study_instance_uid is not None else None,
        uid_condition(Series.series_instance_uid, query.series_instance_uids),
        string_condition(Series.modality, query.modality) if query.modality is not None else None,
        Series.series_number == query.series_number if query.series_number is not None else None,
    ]
    statement = select(Series, Study.study_instance_uid).join(Series.study)
    rows = session.execute(_paged(_where(statement, conditions), query, Series.pk)).all()
    counted = select(Instance.series_pk, func.count(Instance.pk)).group_by(Instance.series_pk)
    counted = counted.where(Instance.series_pk.in_([series.pk for series, _ in rows]))
    counts: dict[int, int] = {pk: n for pk, n in session.execute(counted)}
    return [
        SeriesResult(
            study_instance_uid=study_uid,
            series_instance_uid=series.series_instance_uid,
            modality=series.modality,
            series_number=series.series_number,
            series_description=series.series_description,
            body_part_examined=series.body_part_examined,
            number_of_instances=counts.get(series.pk, 0),
        )
        for series, study_uid in rows
    ]


def search_instances(session: Session, query: InstanceQuery) -> list[InstanceResult]:
    """Instances matching ``query``, by series, then Instance Number, then order of storage."""
    conditions = [
        Study.study_instance_uid == query.study_instance_uid if query.study_instance_uid is not None else None,
        Series.series_instance_uid == query.series_instance_uid if query.series_instance_uid is not None else None,
        uid_condition(Instance.sop_instance_uid, query.sop_instance_uids),
        Instance.sop_class_uid == query.sop_class_uid if query.sop_class_uid is not None else None,
        Instance.instance_number == query.instance_number if query.instance_number is not None else None,
    ]
    statement = select(Instance, Series.series_instance_uid, Study.study_instance_uid)
    statement = _where(statement.join(Instance.series).join(Series.study), conditions)
    statement = statement.order_by(Instance.series_pk, Instance.instance_number.is_(None), Instance.instance_number)
    rows = session.execute(_paged(statement, query, Instance.pk)).all()
    return [instance_result(instance, series_uid, study_uid) for instance, series_uid, study_uid in rows]


def instance_result(instance: Instance, series_uid: str, study_uid: str) -> InstanceResult:
    """The result dataclass of one instance row."""
    return InstanceResult(
        study_instance_uid=study_uid,
        series_instance_uid=series_uid,
        sop_instance_uid=instance.sop_instance_uid,
        sop_class_uid=instance.sop_class_uid,
        instance_number=instance.instance_number,
        transfer_syntax_uid=instance.transfer_syntax_uid,
        rows=instance.rows,
        columns=instance.columns,
        number_of_frames=instance.number_of_frames,
        sha256=instance.sha256,
        size=instance.size,
    )


def _where(statement: _S, conditions: Sequence[ColumnElement[bool] | None]) -> _S:
    for condition in conditions:
        if condition is not None:
            statement = statement.where(condition)
    return statement


def _paged(statement: _S, page: _Page, pk: Any) -> _S:
    statement = statement.order_by(pk).offset(page.offset)
    return statement.limit(page.limit) if page.limit is not None else statement


def _modalities_condition(modalities: Sequence[str]) -> ColumnElement[bool] | None:
    wanted = [m.strip().upper() for m in modalities if m.strip()]
    if not wanted:
        return None
    return select(Series.pk).where(Series.study_pk == Study.pk, Series.modality.in_(wanted)).exists()


def _study_modalities(session: Session, pks: list[int]) -> dict[int, tuple[str, ...]]:
    found: dict[int, set[str]] = defaultdict(set)
    statement = select(Series.study_pk, Series.modality).where(Series.study_pk.in_(pks), Series.modality.is_not(None))
    for study_pk, modality in session.execute(statement.distinct()):
        if modality is not None:
            found[study_pk].add(modality)
    return defaultdict(tuple, {pk: tuple(sorted(values)) for pk, values in found.items()})


def _study_counts(session: Session, pks: list[int]) -> dict[int, tuple[int, int]]:
    statement = (
        select(Series.study_pk, func.count(distinct(Series.pk)), func.count(Instance.pk))
        .outerjoin(Instance, Instance.series_pk == Series.pk)
        .where(Series.study_pk.in_(pks))
        .group_by(Series.study_pk)
    )
    return {pk: (n_series, n_instances) for pk, n_series, n_instances in session.execute(statement)}


def _study_result(study: Study, patient: Patient, modalities: tuple[str, ...], counts: tuple[int, int]) -> StudyResult:
    return StudyResult(
        study_instance_uid=study.study_instance_uid,
        patient_id=patient.patient_id,
        patient_name=patient.patient_name,
        patient_birth_date=patient.patient_birth_date,
        patient_sex=patient.patient_sex,
        study_date=study.study_date,
        study_time=study.study_time,
        study_id=study.study_id,
        accession_number=study.accession_number,
        study_description=study.study_description,
        referring_physician_name=study.referring_physician_name,
        modalities_in_study=modalities,
        number_of_series=counts[0],
        number_of_instances=counts[1],
    )
