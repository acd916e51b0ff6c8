"""The service workload: which instances exist, what their bytes are, what is asked of them.

Pure and deterministic for a seed: :func:`plan_instances` lays out patients, studies,
series and instances with fresh UIDs (``2.25.`` UUID-derived UIDs from the seed and
position, so two runs with one seed send the same objects); :func:`render` writes one
planned instance from a template DICOM (pydicom's ``CT_small.dcm``: 128 x 128 CT, 39 KB);
:func:`qido_queries` draws the QIDO-RS mix from the plan.
"""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import UID

__all__ = [
    "Instance",
    "Layout",
    "Query",
    "batches",
    "load_template",
    "plan_instances",
    "qido_queries",
    "render",
]

# Modalities of the series of one study, in turn: ModalitiesInStudy=MR matches 1 in 2.
_STUDY_MODALITIES: tuple[tuple[str, ...], ...] = (("CT", "MR"), ("CT", "PT"), ("MR", "CT"), ("CT", "SR"))
_FIRST_DATE = date(2020, 1, 1)
_DATE_SPAN_DAYS = 6 * 365


@dataclass(frozen=True, slots=True)
class Layout:
    """How instances group: ``studies_per_patient`` studies of ``series_per_study`` series of
    ``instances_per_series`` instances each (the default: 20 instances per study)."""

    studies_per_patient: int = 2
    series_per_study: int = 2
    instances_per_series: int = 10

    def __post_init__(self) -> None:
        if min(self.studies_per_patient, self.series_per_study, self.instances_per_series) < 1:
            raise ValueError(f"every count of a layout must be >= 1, got {self}")
        if self.series_per_study > len(_STUDY_MODALITIES[0]):
            raise ValueError(f"at most {len(_STUDY_MODALITIES[0])} series per study, got {self.series_per_study}")

    @property
    def per_study(self) -> int:
        return self.series_per_study * self.instances_per_series


@dataclass(frozen=True, slots=True)
class Instance:
    """One planned instance: the attributes the bench sets and later queries."""

    patient_id: str
    patient_name: str
    study_uid: str
    study_date: str  # YYYYMMDD
    accession: str
    series_uid: str
    series_number: int
    modality: str
    sop_uid: str
    instance_number: int


def _uid(seed: int, *position: object) -> str:
    """A ``2.25.`` UID (PS3.5 B.2) derived from the seed and a position, stable across runs."""
    name = "/".join(str(part) for part in (seed, *position))
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, name).int}"


def plan_instances(count: int, *, layout: Layout = Layout(), seed: int = 0, first_study: int = 0) -> list[Instance]:
    """``count`` instances, whole studies first (the last study may be partial).

    ``first_study`` numbers the studies from there, so that a later batch (the memory run's
    fresh instances) never repeats a UID of the first ``count``.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    dates = random.Random(seed)
    instances: list[Instance] = []
    study = first_study
    while len(instances) < count:
        instances += _plan_study(study, layout, seed, dates.randrange(_DATE_SPAN_DAYS))
        study += 1
    return instances[:count]


def _plan_study(study: int, layout: Layout, seed: int, day: int) -> list[Instance]:
    patient = study // layout.studies_per_patient
    study_uid = _uid(seed, "study", study)
    common = {
        "patient_id": f"BENCH{patient:06d}",
        "patient_name": f"DOE^P{patient:06d}",
        "study_uid": study_uid,
        "study_date": (_FIRST_DATE + timedelta(days=day)).strftime("%Y%m%d"),
        "accession": f"A{study:08d}",
    }
    modalities = _STUDY_MODALITIES[study % len(_STUDY_MODALITIES)]
    planned = []
    for series in range(layout.series_per_study):
        series_uid = _uid(seed, "series", study, series)
        for number in range(layout.instances_per_series):
            planned.append(
                Instance(
                    **common,
                    series_uid=series_uid,
                    series_number=series + 1,
                    modality=modalities[series],
                    sop_uid=_uid(seed, "instance", study, series, number),
                    instance_number=number + 1,
                )
            )
    return planned


def load_template(path: Path | None = None) -> Dataset:
    """The template dataset (default: pydicom's ``CT_small.dcm``)."""
    source = path or Path(str(get_testdata_file("CT_small.dcm")))
    return pydicom.dcmread(source)


def render(template: Dataset, instance: Instance) -> bytes:
    """The template with ``instance``'s attributes, as a DICOM Part 10 file.

    Sets every attribute that varies on the shared template, so no copy is needed; not
    thread-safe for one template.
    """
    ds = template
    ds.PatientID = instance.patient_id
    ds.PatientName = instance.patient_name
    ds.StudyInstanceUID = instance.study_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = instance.study_date
    ds.AccessionNumber = instance.accession
    ds.StudyID = instance.accession[-6:]
    ds.SeriesInstanceUID = instance.series_uid
    ds.SeriesNumber = instance.series_number
    ds.Modality = instance.modality
    ds.SOPInstanceUID = instance.sop_uid
    ds.file_meta.MediaStorageSOPInstanceUID = UID(instance.sop_uid)
    ds.InstanceNumber = instance.instance_number
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def batches(items: Sequence[bytes], size: int) -> Iterator[list[bytes]]:
    """Consecutive groups of ``size`` (the last one may be shorter)."""
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


@dataclass(frozen=True, slots=True)
class Query:
    """One QIDO-RS request: ``kind`` names it in the report; ``path`` is below the root."""

    kind: str
    path: str
    params: tuple[tuple[str, str], ...] = ()


def qido_queries(instances: Sequence[Instance], count: int, *, seed: int = 0) -> list[Query]:
    """``count`` queries cycling through the kinds, each on a value drawn from the plan."""
    if not instances:
        raise ValueError("no instances to query")
    rng = random.Random(seed)
    studies = sorted({(i.study_uid, i.series_uid, i.patient_id, i.study_date) for i in instances})
    makers = (
        _by_patient_id,
        _by_patient_name,
        _by_date_range,
        _by_modality,
        _paged,
        _series_of_study,
        _instances_of_series,
    )
    return [makers[n % len(makers)](rng, studies) for n in range(count)]


_Row = tuple[str, str, str, str]  # study uid, series uid, patient id, study date


def _by_patient_id(rng: random.Random, rows: Sequence[_Row]) -> Query:
    return Query("studies: PatientID", "/studies", (("PatientID", rng.choice(rows)[2]),))


def _by_patient_name(rng: random.Random, rows: Sequence[_Row]) -> Query:
    patient = rng.choice(rows)[2].removeprefix("BENCH")
    return Query("studies: PatientName wildcard", "/studies", (("PatientName", f"DOE^P{patient[:-1]}*"),))


def _by_date_range(rng: random.Random, rows: Sequence[_Row]) -> Query:
    start = date.fromisoformat(rng.choice(rows)[3])
    end = start + timedelta(days=30)
    return Query("studies: StudyDate range", "/studies", (("StudyDate", f"{start:%Y%m%d}-{end:%Y%m%d}"),))


def _by_modality(rng: random.Random, rows: Sequence[_Row]) -> Query:
    modality = rng.choice(("MR", "PT", "SR"))
    return Query("studies: ModalitiesInStudy, limit 50", "/studies", (("ModalitiesInStudy", modality), ("limit", "50")))


def _paged(rng: random.Random, rows: Sequence[_Row]) -> Query:
    studies = len({row[0] for row in rows})
    offset = rng.randrange(max(1, studies - 20))
    return Query("studies: limit 20 offset", "/studies", (("limit", "20"), ("offset", str(offset))))


def _series_of_study(rng: random.Random, rows: Sequence[_Row]) -> Query:
    return Query("series of a study", f"/studies/{rng.choice(rows)[0]}/series")


def _instances_of_series(rng: random.Random, rows: Sequence[_Row]) -> Query:
    study, series, _, _ = rng.choice(rows)
    return Query("instances of a series", f"/studies/{study}/series/{series}/instances")
