"""medsight.io.dicom.index: the attributes the store indexes, with typed errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.data.synthetic import PLANTED

from medsight.errors import InvalidDicomError
from medsight.io.dicom.index import index_record


@pytest.mark.parametrize(
    ("name", "modality", "syntax"),
    [
        ("CT_small.dcm", "CT", "1.2.840.10008.1.2.1"),
        ("MR_small_bigendian.dcm", "MR", "1.2.840.10008.1.2.2"),
        ("JPEG2000.dcm", "NM", "1.2.840.10008.1.2.4.91"),
        ("image_dfl.dcm", None, "1.2.840.10008.1.2.1.99"),  # deflated: pydicom's path, not the walker's
        ("rtplan.dcm", "RTPLAN", "1.2.840.10008.1.2"),  # no pixels: still stored
    ],
)
def test_pydicom_files_are_indexed(pydicom_test_files: Path, name: str, modality: str | None, syntax: str) -> None:
    record = index_record((pydicom_test_files / name).read_bytes())
    assert record.transfer_syntax_uid == syntax
    assert record.modality == modality or modality is None
    assert record.sop_instance_uid
    assert record.series_instance_uid
    assert record.study_instance_uid


def test_synthetic_ct_fields(ct_series: list[bytes]) -> None:
    record = index_record(ct_series[0])
    assert (record.patient_name, record.patient_id) == (PLANTED["PatientName"], PLANTED["PatientID"])
    assert (record.accession_number, record.study_date, record.study_time) == (
        PLANTED["AccessionNumber"],
        "20240102",
        "120000",
    )
    assert (record.modality, record.series_number, record.body_part_examined) == ("CT", 2, "CHEST")
    assert (record.rows, record.columns, record.number_of_frames, record.instance_number) == (8, 8, None, 1)
    assert record.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"
    assert not any(value in repr(record) for value in PLANTED.values())


@pytest.mark.parametrize("data", [b"", b"\0" * 200, b"DICM" * 100, b"x" * 128 + b"DICM" + b"\xff" * 64])
def test_non_dicom_bytes_are_invalid_dicom(data: bytes) -> None:
    with pytest.raises(InvalidDicomError):
        index_record(data)


def test_an_overlong_uid_is_invalid(ct_series: list[bytes], variant: object) -> None:
    assert callable(variant)
    with pytest.raises(InvalidDicomError, match="longer than 64"):
        index_record(variant(ct_series[0], SOPInstanceUID="1." * 40 + "1"))
