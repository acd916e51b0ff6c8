"""The attributes a study store indexes, read from one DICOM object held in memory.

The store (:mod:`medsight.store`) never imports pydicom: it hands the bytes of an
uploaded object to :func:`index_record` and gets back plain values, the patient,
study, series and instance attributes that QIDO-RS matches on (PS3.18 10.6.1.2,
Table 10.6.1-5), parsed by the same header path as every other read
(:func:`~medsight.io.dicom.parse.parse_member`), with the same typed errors.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from medsight.errors import InvalidDicomError
from medsight.io.dicom import tags as t
from medsight.io.dicom.parse import parse_member
from medsight.io.dicom.values import HeaderValues
from medsight.io.sources import Member

__all__ = ["IndexRecord", "index_record"]

# Patient and study attributes by tag (PS3.6); tags.py holds those the readers use.
_PATIENT_NAME = 0x00100010
_PATIENT_ID = 0x00100020
_ISSUER_OF_PATIENT_ID = 0x00100021
_PATIENT_BIRTH_DATE = 0x00100030
_PATIENT_SEX = 0x00100040
_STUDY_DATE = 0x00080020
_STUDY_TIME = 0x00080030
_ACCESSION_NUMBER = 0x00080050
_REFERRING_PHYSICIAN_NAME = 0x00080090
_STUDY_DESCRIPTION = 0x00081030
_STUDY_ID = 0x00200010
_SERIES_DESCRIPTION = 0x0008103E

_UID_MAX = 64  # UI values are at most 64 characters (PS3.5 6.2)
_INT_MAX = 2**31 - 1  # IS and US values fit a signed 32-bit column
_LABEL = "uploaded object"  # never a file name or value from the object


@dataclass(frozen=True, slots=True)
class IndexRecord:
    """What the store indexes of one object; patient fields are kept out of the repr.

    Text values are stripped of padding, None when absent or empty. Person names keep
    DICOM's ``^`` component form (``FAMILY^GIVEN``).
    """

    sop_instance_uid: str = field(repr=False)
    series_instance_uid: str = field(repr=False)
    study_instance_uid: str = field(repr=False)
    sop_class_uid: str | None
    transfer_syntax_uid: str
    patient_id: str | None = field(default=None, repr=False)
    issuer_of_patient_id: str | None = field(default=None, repr=False)
    patient_name: str | None = field(default=None, repr=False)
    patient_birth_date: str | None = field(default=None, repr=False)
    patient_sex: str | None = field(default=None, repr=False)
    study_date: str | None = field(default=None, repr=False)
    study_time: str | None = field(default=None, repr=False)
    study_id: str | None = field(default=None, repr=False)
    accession_number: str | None = field(default=None, repr=False)
    study_description: str | None = field(default=None, repr=False)
    referring_physician_name: str | None = field(default=None, repr=False)
    modality: str | None = None
    series_number: int | None = None
    series_description: str | None = field(default=None, repr=False)
    body_part_examined: str | None = None
    instance_number: int | None = None
    rows: int | None = None
    columns: int | None = None
    number_of_frames: int | None = None


def index_record(data: bytes) -> IndexRecord:
    """Read the indexed attributes of one DICOM object (header only, no pixels decoded).

    Args:
        data: the whole object as a PS3.10 file (or a bare data set, as parse accepts).

    Raises:
        InvalidDicomError: the bytes are not DICOM, or the object lacks a SOP Instance,
            Series Instance or Study Instance UID (all three are Type 1 in the SOP
            Common and General Study/Series modules, PS3.3 C.12.1, C.7.2.1, C.7.3.1),
            or one of them is longer than a UID can be.
    """
    member = Member(label=_LABEL, size=len(data), path=None, opener=lambda: io.BytesIO(data))
    parsed = parse_member(member)
    v = parsed.values
    return IndexRecord(
        sop_instance_uid=_uid(v, t.SOP_INSTANCE_UID, "SOP Instance UID"),
        series_instance_uid=_uid(v, t.SERIES_INSTANCE_UID, "Series Instance UID"),
        study_instance_uid=_uid(v, t.STUDY_INSTANCE_UID, "Study Instance UID"),
        sop_class_uid=_text(v, t.SOP_CLASS_UID),
        transfer_syntax_uid=parsed.transfer_syntax,
        patient_id=_text(v, _PATIENT_ID),
        issuer_of_patient_id=_text(v, _ISSUER_OF_PATIENT_ID),
        patient_name=_text(v, _PATIENT_NAME),
        patient_birth_date=_text(v, _PATIENT_BIRTH_DATE),
        patient_sex=_text(v, _PATIENT_SEX),
        study_date=_text(v, _STUDY_DATE),
        study_time=_text(v, _STUDY_TIME),
        study_id=_text(v, _STUDY_ID),
        accession_number=_text(v, _ACCESSION_NUMBER),
        study_description=_text(v, _STUDY_DESCRIPTION),
        referring_physician_name=_text(v, _REFERRING_PHYSICIAN_NAME),
        modality=_text(v, t.MODALITY),
        series_number=_integer(v, t.SERIES_NUMBER),
        series_description=_text(v, _SERIES_DESCRIPTION),
        body_part_examined=_text(v, t.BODY_PART_EXAMINED),
        instance_number=_integer(v, t.INSTANCE_NUMBER),
        rows=_integer(v, t.ROWS),
        columns=_integer(v, t.COLUMNS),
        number_of_frames=_integer(v, t.NUMBER_OF_FRAMES),
    )


def _uid(v: HeaderValues, tag: int, name: str) -> str:
    value = _text(v, tag)
    if value is None:
        raise InvalidDicomError(f"{_LABEL}: no {name}")
    if len(value) > _UID_MAX:
        raise InvalidDicomError(f"{_LABEL}: {name} is longer than {_UID_MAX} characters")
    return value


def _text(v: HeaderValues, tag: int) -> str | None:
    value = v.text(tag)
    # NUL is padding in DICOM and refused by PostgreSQL's text type.
    value = value.replace("\x00", "").strip() if value is not None else None
    return value or None


def _integer(v: HeaderValues, tag: int) -> int | None:
    value = v.integer(tag)
    return value if value is not None and abs(value) <= _INT_MAX else None
