"""The TID 1500 report: valid DICOM, the content items a reader needs, the model's identity."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from tests.data.synthetic_cxr import chest_like, write_dx_dicom

from medsight.errors import InvalidDicomError
from medsight.io.dicom.index import index_record
from medsight.io.dicom.sr import CodeItem, SrFinding, SrRequest, build_measurement_report, derived_uid, read_sr_items

PNEUMONIA = CodeItem("233604007", "SCT", "Pneumonia")
RADIOGRAPHY = CodeItem("168537006", "SCT", "Plain radiography")


def _request(source: bytes, *, present: bool = True) -> SrRequest:
    return SrRequest(
        source=source,
        finding=SrFinding(PNEUMONIA, present, 0.87, 0.42, 0.45, 0.9, ambiguous=False),
        procedure=RADIOGRAPHY,
        model_name="cxr-pneumonia-224",
        model_version="1.2.0",
        model_sha256="ab" * 32,
        task="cxr-pneumonia",
        series_instance_uid=derived_uid("series:job1"),
        sop_instance_uid=derived_uid("sr:job1"),
        tracking_id="job1",
    )


@pytest.fixture
def source(tmp_path: Path) -> bytes:
    return write_dx_dicom(tmp_path / "cxr.dcm", chest_like(32, True, np.random.default_rng(0))).read_bytes()


def test_the_report_is_a_comprehensive_3d_sr_in_the_sources_study(source: bytes) -> None:
    data = build_measurement_report(_request(source))
    report = pydicom.dcmread(io.BytesIO(data))
    original = pydicom.dcmread(io.BytesIO(source))
    assert report.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"
    assert report.StudyInstanceUID == original.StudyInstanceUID
    assert report.PatientID == original.PatientID
    assert report.SeriesInstanceUID == derived_uid("series:job1")
    assert report.SOPInstanceUID == derived_uid("sr:job1")
    assert report.Modality == "SR"
    assert report.CompletionFlag == "COMPLETE"
    assert report.VerificationFlag == "UNVERIFIED"
    assert report.ConceptNameCodeSequence[0].CodeValue == "126000"  # Imaging Measurement Report
    evidence = report.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == original.SOPInstanceUID
    record = index_record(data)  # the store can index it
    assert record.rows is None


def test_the_content_items_carry_finding_probability_threshold_uncertainty_and_model(source: bytes) -> None:
    items = read_sr_items(build_measurement_report(_request(source)))
    values = dict(items)
    assert values["Procedure reported"] == "Plain radiography"
    assert values["Observer Type"] == "Device"
    assert values["Finding"] == "Pneumonia"
    assert values["Pneumonia"] == "Present"
    assert values["Probability"] == "0.87 1"
    assert values["Decision threshold"] == "0.42 1"
    assert values["Distance from threshold"] == "0.45 1"
    assert values["Conformal coverage"] == "0.9 1"
    assert values["Prediction set ambiguous"] == "No"
    assert values["Algorithm Name"] == "cxr-pneumonia-224"
    assert values["Algorithm Version"] == "1.2.0"
    assert ("Algorithm Parameters", "sha256=" + "ab" * 32) in items
    absent = dict(read_sr_items(build_measurement_report(_request(source, present=False))))
    assert absent["Pneumonia"] == "Absent"
    assert "Ensemble members" not in values  # one network


def test_an_ensembles_report_counts_its_members_over_the_threshold(source: bytes) -> None:
    request = _request(source)
    finding = SrFinding(PNEUMONIA, True, 0.87, 0.42, 0.45, 0.9, ambiguous=False, members=(3, 2))
    values = dict(read_sr_items(build_measurement_report(replace(request, finding=finding))))
    assert values["Ensemble members"] == "3.0 1"
    assert values["Ensemble members at or above threshold"] == "2.0 1"


def test_uids_are_derived_and_stable() -> None:
    assert derived_uid("x") == derived_uid("x") != derived_uid("y")
    assert derived_uid("x").startswith("2.25.")
    assert len(derived_uid("x")) <= 64


def test_a_source_that_is_not_dicom_is_an_input_error() -> None:
    with pytest.raises(InvalidDicomError):
        build_measurement_report(_request(b"not dicom at all" * 20))
