"""The service workload: layout, UIDs, rendered bytes, the QIDO mix, multipart round trips."""

from __future__ import annotations

import io
from collections import Counter

import pydicom
import pytest
from benchmarks.service import multipart
from benchmarks.service.client import query_string
from benchmarks.service.workload import Layout, batches, load_template, plan_instances, qido_queries, render


def test_plan_lays_out_whole_studies_with_unique_uids() -> None:
    plan = plan_instances(100)
    assert len(plan) == 100
    assert len({i.sop_uid for i in plan}) == 100
    assert len({i.series_uid for i in plan}) == 10
    assert len({i.study_uid for i in plan}) == 5
    assert len({i.patient_id for i in plan}) == 3  # 2 studies per patient
    assert all(count == 20 for count in Counter(i.study_uid for i in plan).values())
    assert all(uid.startswith("2.25.") and len(uid) <= 64 for i in plan for uid in (i.sop_uid, i.study_uid))


def test_plan_is_stable_for_a_seed_and_fresh_for_another() -> None:
    assert plan_instances(30, seed=1) == plan_instances(30, seed=1)
    assert not {i.sop_uid for i in plan_instances(30, seed=1)} & {i.sop_uid for i in plan_instances(30, seed=2)}


def test_later_studies_never_repeat_uids() -> None:
    first = plan_instances(40)
    later = plan_instances(40, first_study=2)
    assert not {i.sop_uid for i in first} & {i.sop_uid for i in later}
    assert later[0].study_uid != first[0].study_uid


def test_a_partial_last_study_and_an_empty_plan() -> None:
    assert len(plan_instances(25)) == 25
    assert plan_instances(0) == []
    with pytest.raises(ValueError, match="count"):
        plan_instances(-1)


def test_series_of_a_study_have_the_modalities_in_turn() -> None:
    plan = plan_instances(80)
    by_study: dict[str, set[str]] = {}
    for item in plan:
        by_study.setdefault(item.study_uid, set()).add(item.modality)
    assert list(by_study.values()) == [{"CT", "MR"}, {"CT", "PT"}, {"MR", "CT"}, {"CT", "SR"}]


@pytest.mark.parametrize(
    "layout",
    [
        {"studies_per_patient": 0},
        {"instances_per_series": 0},
        {"series_per_study": 3},
    ],
)
def test_layout_refuses_impossible_counts(layout: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"series|count"):
        Layout(**layout)


def test_render_writes_the_planned_attributes() -> None:
    template = load_template()
    planned = plan_instances(21)
    blobs = [render(template, item) for item in planned]
    for item, blob in zip(planned[::10], blobs[::10], strict=True):
        ds = pydicom.dcmread(io.BytesIO(blob))
        assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID == item.sop_uid
        assert (ds.StudyInstanceUID, ds.SeriesInstanceUID) == (item.study_uid, item.series_uid)
        assert (ds.PatientID, str(ds.PatientName)) == (item.patient_id, item.patient_name)
        assert ds.StudyDate == item.study_date
        assert ds.Modality == item.modality
        assert ds.pixel_array.shape == (128, 128)


def test_batches() -> None:
    assert [len(b) for b in batches([b"x"] * 45, 20)] == [20, 20, 5]
    with pytest.raises(ValueError, match="batch size"):
        list(batches([b"x"], 0))


def test_queries_cycle_through_every_kind_on_values_from_the_plan() -> None:
    plan = plan_instances(400)
    queries = qido_queries(plan, 14, seed=3)
    assert queries == qido_queries(plan, 14, seed=3)
    kinds = Counter(q.kind for q in queries)
    assert len(kinds) == 7
    assert set(kinds.values()) == {2}
    patients = {i.patient_id for i in plan}
    studies = {i.study_uid for i in plan}
    for query in queries:
        params = dict(query.params)
        if "PatientID" in params:
            assert params["PatientID"] in patients
        if "PatientName" in params:
            assert params["PatientName"].startswith("DOE^P")
            assert params["PatientName"].endswith("*")
        if "StudyDate" in params:
            start, end = params["StudyDate"].split("-")
            assert len(start) == len(end) == 8
            assert start < end
        if query.path != "/studies":
            assert query.path.split("/")[2] in studies


def test_queries_need_instances() -> None:
    with pytest.raises(ValueError, match="no instances"):
        qido_queries([], 1)


def test_query_string_keeps_dicom_wildcards() -> None:
    assert query_string([]) == ""
    assert query_string([("PatientName", "DOE^P00012*"), ("limit", "20")]) == "?PatientName=DOE^P00012*&limit=20"
    assert query_string([("StudyDate", "20200101-20200131")]) == "?StudyDate=20200101-20200131"
    assert query_string([("PatientName", "A B&C")]) == "?PatientName=A%20B%26C"


def test_multipart_round_trip() -> None:
    parts = [b"\x00\x01DICM payload", b"", b"second\r\n\r\npart"]
    body, content_type = multipart.encode(parts, boundary="b0undary")
    assert content_type == 'multipart/related; type="application/dicom"; boundary=b0undary'
    assert multipart.split(body, content_type) == parts


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        ('multipart/related; type="application/dicom"; boundary=abc', "abc"),
        ('multipart/related; boundary="a b"; type="application/dicom"', "a b"),
        ("multipart/related;BOUNDARY=xyz", "xyz"),
    ],
)
def test_boundary_of(content_type: str, boundary: str) -> None:
    assert multipart.boundary_of(content_type) == boundary


def test_multipart_refuses_a_boundary_inside_a_part() -> None:
    with pytest.raises(ValueError, match="boundary"):
        multipart.encode([b"xx--b--xx"], boundary="b")
    with pytest.raises(ValueError, match="no boundary"):
        multipart.split(b"", "multipart/related")
