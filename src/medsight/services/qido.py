"""QIDO-RS: search the study store for studies, series and instances (PS3.18 10.6).

Query parameters name attributes by keyword (``PatientID``) or by tag (``00100020``).
The matching keys of PS3.18 Table 10.6.1-5 that the store indexes are matched (with
PS3.4 C.2.2.2 semantics, :mod:`medsight.store.matching`); other valid attributes are
ignored and named in a ``Warning`` header, as PS3.18 8.3.4.1 asks. Each search is
the store's few SQL statements, plus one for the study attributes of series or
instances when ``includefield`` asks for them: never a statement per result.

Results are DICOM JSON (PS3.18 Annex F). A malformed parameter is a
:class:`~medsight.errors.UsageError` naming the attribute, never the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from medsight.errors import UsageError
from medsight.io.dicom.dicomjson import DicomJson, attribute_tag, element, keyword_for
from medsight.store import (
    InstanceQuery,
    InstanceResult,
    SeriesQuery,
    SeriesResult,
    Store,
    StudyQuery,
    StudyResult,
)

__all__ = ["Level", "QidoRequest", "QidoResult", "parse_qido", "search"]

# Attributes by tag (PS3.6).
PATIENT_NAME, PATIENT_ID, PATIENT_BIRTH_DATE, PATIENT_SEX = 0x00100010, 0x00100020, 0x00100030, 0x00100040
STUDY_DATE, STUDY_TIME, ACCESSION_NUMBER = 0x00080020, 0x00080030, 0x00080050
MODALITIES_IN_STUDY, REFERRING_PHYSICIAN, STUDY_DESCRIPTION = 0x00080061, 0x00080090, 0x00081030
STUDY_UID, STUDY_ID, SERIES_UID, SERIES_NUMBER = 0x0020000D, 0x00200010, 0x0020000E, 0x00200011
STUDY_SERIES_COUNT, STUDY_INSTANCE_COUNT, SERIES_INSTANCE_COUNT = 0x00201206, 0x00201208, 0x00201209
MODALITY, SERIES_DESCRIPTION, BODY_PART = 0x00080060, 0x0008103E, 0x00180015
SOP_CLASS_UID, SOP_INSTANCE_UID, INSTANCE_NUMBER = 0x00080016, 0x00080018, 0x00200013
ROWS, COLUMNS, NUMBER_OF_FRAMES = 0x00280010, 0x00280011, 0x00280008
AVAILABLE_TRANSFER_SYNTAX, RETRIEVE_URL = 0x00083002, 0x00081190

_STUDY_TAGS = frozenset(
    {
        PATIENT_NAME,
        PATIENT_ID,
        PATIENT_BIRTH_DATE,
        PATIENT_SEX,
        STUDY_DATE,
        STUDY_TIME,
        ACCESSION_NUMBER,
        MODALITIES_IN_STUDY,
        REFERRING_PHYSICIAN,
        STUDY_DESCRIPTION,
        STUDY_ID,
        STUDY_SERIES_COUNT,
        STUDY_INSTANCE_COUNT,
    }
)
_MATCHING = {
    # PS3.18 Table 10.6.1-5's required study keys, all of them.
    "study": frozenset(
        {
            PATIENT_ID,
            PATIENT_NAME,
            STUDY_DATE,
            STUDY_TIME,
            MODALITIES_IN_STUDY,
            ACCESSION_NUMBER,
            STUDY_UID,
            REFERRING_PHYSICIAN,
            STUDY_ID,
        }
    ),
    "series": frozenset({STUDY_UID, SERIES_UID, MODALITY, SERIES_NUMBER}),
    "instance": frozenset({STUDY_UID, SERIES_UID, SOP_INSTANCE_UID, SOP_CLASS_UID, INSTANCE_NUMBER}),
}
_RESERVED = frozenset({"limit", "offset", "includefield", "fuzzymatching"})
_MAX_LIMIT = 100_000


class Level(StrEnum):
    """The query/retrieve level of a search."""

    STUDY = "study"
    SERIES = "series"
    INSTANCE = "instance"


@dataclass(frozen=True)
class QidoRequest:
    """A parsed QIDO-RS query string.

    Attributes:
        filters: matching values by tag (patient data: kept out of the repr).
        include_all: ``includefield=all``.
        include: tags named by ``includefield``.
        limit: most results, or None for all.
        offset: results to skip.
        ignored: keywords of valid attributes this store cannot match on.
    """

    filters: dict[int, str] = field(repr=False)
    include_all: bool = False
    include: frozenset[int] = frozenset()
    limit: int | None = None
    offset: int = 0
    ignored: tuple[str, ...] = ()

    def wants(self, tags: Iterable[int]) -> bool:
        """Whether ``includefield`` asks for any of ``tags``."""
        return self.include_all or not self.include.isdisjoint(tags)


@dataclass(frozen=True)
class QidoResult:
    """Matches in DICOM JSON, and the attributes that were not used for matching."""

    matches: list[DicomJson] = field(repr=False)
    ignored: tuple[str, ...] = ()


def parse_qido(params: Sequence[tuple[str, str]], level: Level) -> QidoRequest:
    """Read a query string (name, value pairs in order) for a search at ``level``.

    Raises:
        UsageError: an unknown attribute, a ``limit``/``offset`` that is not a
            non-negative integer, or a malformed ``includefield``.
    """
    filters: dict[int, str] = {}
    include: set[int] = set()
    include_all, ignored = False, []
    limit: int | None = None
    offset = 0
    for name, value in params:
        key = name.strip()
        if key.lower() == "limit":
            limit = min(_count(value, "limit"), _MAX_LIMIT)
        elif key.lower() == "offset":
            offset = _count(value, "offset")
        elif key.lower() == "includefield":
            for item in (v.strip() for v in value.split(",")):
                if item.lower() == "all":
                    include_all = True
                elif item:
                    include.add(attribute_tag(item, parameter="includefield"))
        elif key.lower() in _RESERVED:
            continue
        else:
            tag = attribute_tag(key)
            if tag in _MATCHING[level.value]:
                filters[tag] = value
            elif keyword_for(tag) not in ignored:
                ignored.append(keyword_for(tag))
    return QidoRequest(filters, include_all, frozenset(include), limit, offset, tuple(ignored))


def _count(value: str, name: str) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        raise UsageError(f"{name}: a non-negative integer")
    return int(text)


def _integer(filters: dict[int, str], tag: int) -> int | None:
    value = filters.get(tag)
    if value is None or value.strip() in ("", "*"):
        return None
    text = value.strip()
    if not text.lstrip("-").isascii() or not text.lstrip("-").isdigit():
        raise UsageError(f"{keyword_for(tag)}: an integer")
    return int(text)


def _uids(value: str | None) -> tuple[str, ...]:
    """A list of UIDs (C.2.2.2.2): separated by ``\\`` in DICOM, by ``,`` in PS3.18 query strings."""
    if value is None:
        return ()
    return tuple(uid.strip() for uid in value.replace("\\", ",").split(",") if uid.strip())


def _single(filters: dict[int, str], tag: int) -> str | None:
    value = filters.get(tag)
    return value if value is not None and value.strip() else None


def search(
    store: Store,
    level: Level,
    request: QidoRequest,
    *,
    base_url: str,
    study: str | None = None,
    series: str | None = None,
) -> QidoResult:
    """Run a search at ``level`` (within ``study`` and ``series`` when given).

    Args:
        store: the study store.
        level: what to search for.
        request: the parsed query.
        base_url: the DICOMweb root (``http://host/dicomweb``) for RetrieveURL.
        study: the Study Instance UID of the path, for series and instance searches.
        series: the Series Instance UID of the path, for instance searches.
    """
    urls = _Urls(base_url)
    if level is Level.STUDY:
        studies = store.studies(_study_query(request))
        return QidoResult([_study_json(s, urls) for s in studies], request.ignored)
    if level is Level.SERIES:
        found = store.series(_series_query(request, study))
        context = _study_context(store, request, {s.study_instance_uid for s in found})
        matches = [_series_json(s, urls, context.get(s.study_instance_uid)) for s in found]
        return QidoResult(matches, request.ignored)
    instances = store.instances(_instance_query(request, study, series))
    context = _study_context(store, request, {i.study_instance_uid for i in instances})
    return QidoResult([_instance_json(i, urls, context.get(i.study_instance_uid)) for i in instances], request.ignored)


def _study_query(request: QidoRequest) -> StudyQuery:
    f = request.filters
    return StudyQuery(
        limit=request.limit,
        offset=request.offset,
        patient_id=_single(f, PATIENT_ID),
        patient_name=_single(f, PATIENT_NAME),
        study_date=_single(f, STUDY_DATE),
        study_time=_single(f, STUDY_TIME),
        modalities=_uids(f.get(MODALITIES_IN_STUDY)),
        accession_number=_single(f, ACCESSION_NUMBER),
        study_instance_uids=_uids(f.get(STUDY_UID)),
        referring_physician_name=_single(f, REFERRING_PHYSICIAN),
        study_id=_single(f, STUDY_ID),
    )


def _series_query(request: QidoRequest, study: str | None) -> SeriesQuery:
    f = request.filters
    study_uids = _uids(f.get(STUDY_UID))
    if study is None and len(study_uids) > 1:
        raise UsageError("StudyInstanceUID: one UID at the series level")
    return SeriesQuery(
        limit=request.limit,
        offset=request.offset,
        study_instance_uid=study or (study_uids[0] if study_uids else None),
        series_instance_uids=_uids(f.get(SERIES_UID)),
        modality=_single(f, MODALITY),
        series_number=_integer(f, SERIES_NUMBER),
    )


def _instance_query(request: QidoRequest, study: str | None, series: str | None) -> InstanceQuery:
    f = request.filters
    study_uids, series_uids = _uids(f.get(STUDY_UID)), _uids(f.get(SERIES_UID))
    if (study is None and len(study_uids) > 1) or (series is None and len(series_uids) > 1):
        raise UsageError("StudyInstanceUID, SeriesInstanceUID: one UID each at the instance level")
    return InstanceQuery(
        limit=request.limit,
        offset=request.offset,
        study_instance_uid=study or (study_uids[0] if study_uids else None),
        series_instance_uid=series or (series_uids[0] if series_uids else None),
        sop_instance_uids=_uids(f.get(SOP_INSTANCE_UID)),
        sop_class_uid=_single(f, SOP_CLASS_UID),
        instance_number=_integer(f, INSTANCE_NUMBER),
    )


def _study_context(store: Store, request: QidoRequest, uids: set[str]) -> dict[str, DicomJson]:
    """Study attributes for series or instance results, when ``includefield`` asks for them."""
    if not uids or not request.wants(_STUDY_TAGS):
        return {}
    studies = store.studies(StudyQuery(study_instance_uids=tuple(sorted(uids))))
    return {s.study_instance_uid: _study_attributes(s) for s in studies}


@dataclass(frozen=True)
class _Urls:
    base: str

    def study(self, study: str) -> str:
        return f"{self.base}/studies/{study}"

    def series(self, study: str, series: str) -> str:
        return f"{self.study(study)}/series/{series}"

    def instance(self, study: str, series: str, instance: str) -> str:
        return f"{self.series(study, series)}/instances/{instance}"


def _study_attributes(s: StudyResult) -> DicomJson:
    return {
        "00080020": element(STUDY_DATE, s.study_date),
        "00080030": element(STUDY_TIME, s.study_time),
        "00080050": element(ACCESSION_NUMBER, s.accession_number),
        "00080061": element(MODALITIES_IN_STUDY, s.modalities_in_study),
        "00080090": element(REFERRING_PHYSICIAN, s.referring_physician_name),
        "00081030": element(STUDY_DESCRIPTION, s.study_description),
        "00100010": element(PATIENT_NAME, s.patient_name),
        "00100020": element(PATIENT_ID, s.patient_id),
        "00100030": element(PATIENT_BIRTH_DATE, s.patient_birth_date),
        "00100040": element(PATIENT_SEX, s.patient_sex),
        "0020000D": element(STUDY_UID, s.study_instance_uid),
        "00200010": element(STUDY_ID, s.study_id),
        "00201206": element(STUDY_SERIES_COUNT, s.number_of_series),
        "00201208": element(STUDY_INSTANCE_COUNT, s.number_of_instances),
    }


def _study_json(s: StudyResult, urls: _Urls) -> DicomJson:
    return {**_study_attributes(s), "00081190": element(RETRIEVE_URL, urls.study(s.study_instance_uid))}


def _series_json(s: SeriesResult, urls: _Urls, study: DicomJson | None) -> DicomJson:
    found: DicomJson = dict(study or {})
    found.update(
        {
            "00080060": element(MODALITY, s.modality),
            "0008103E": element(SERIES_DESCRIPTION, s.series_description),
            "00180015": element(BODY_PART, s.body_part_examined),
            "0020000D": element(STUDY_UID, s.study_instance_uid),
            "0020000E": element(SERIES_UID, s.series_instance_uid),
            "00200011": element(SERIES_NUMBER, s.series_number),
            "00201209": element(SERIES_INSTANCE_COUNT, s.number_of_instances),
            "00081190": element(RETRIEVE_URL, urls.series(s.study_instance_uid, s.series_instance_uid)),
        }
    )
    return found


def _instance_json(i: InstanceResult, urls: _Urls, study: DicomJson | None) -> DicomJson:
    found: DicomJson = dict(study or {})
    found.update(
        {
            "00080016": element(SOP_CLASS_UID, i.sop_class_uid),
            "00080018": element(SOP_INSTANCE_UID, i.sop_instance_uid),
            "00083002": element(AVAILABLE_TRANSFER_SYNTAX, i.transfer_syntax_uid),
            "0020000D": element(STUDY_UID, i.study_instance_uid),
            "0020000E": element(SERIES_UID, i.series_instance_uid),
            "00200013": element(INSTANCE_NUMBER, i.instance_number),
            "00280008": element(NUMBER_OF_FRAMES, i.number_of_frames),
            "00280010": element(ROWS, i.rows),
            "00280011": element(COLUMNS, i.columns),
            "00081190": element(
                RETRIEVE_URL, urls.instance(i.study_instance_uid, i.series_instance_uid, i.sop_instance_uid)
            ),
        }
    )
    return found
