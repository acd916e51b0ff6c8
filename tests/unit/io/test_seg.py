"""The DICOM Segmentation and its volumes report: valid (dciodvfy), and read back (highdicom) unchanged."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from tests.data.dciodvfy import dciodvfy
from tests.data.synthetic import PLANTED
from tests.data.synthetic_mr import label_blobs, write_mr_series

from medsight.errors import OutputError
from medsight.imaging import Image, Layout
from medsight.imaging.labels import LabelVolume
from medsight.io import read_image
from medsight.io.dicom.seg import (
    SegmentSpec,
    SegRequest,
    build_segmentation,
    has_dicom_source,
    read_segmentation,
    source_headers,
)
from medsight.io.dicom.sr import CodeItem, SrVolume, VolumeSrRequest, build_volume_report, derived_uid, read_sr_items
from medsight.settings import ReadLimits

STRUCTURE = CodeItem("91723000", "SCT", "Anatomical Structure")
HIPPOCAMPUS = CodeItem("5366008", "SCT", "Hippocampus")
ANTERIOR = CodeItem("255549009", "SCT", "Anterior")
POSTERIOR = CodeItem("255551008", "SCT", "Posterior")
SPECS = (
    SegmentSpec("anterior", "Hippocampus, anterior", STRUCTURE, HIPPOCAMPUS, ANTERIOR, colour=(230, 25, 75)),
    SegmentSpec("posterior", "Hippocampus, posterior", STRUCTURE, HIPPOCAMPUS, POSTERIOR, colour=(60, 180, 75)),
)
PROCEDURE = CodeItem("363679005", "SCT", "Imaging procedure")


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Image:
    folder = tmp_path_factory.mktemp("mr")
    write_mr_series(folder, slices=6, rows=24, columns=20)
    return read_image(folder, ReadLimits())


def _request(labels: LabelVolume, sop: str = "seg:job1") -> SegRequest:
    return SegRequest(
        labels=labels,
        segments=SPECS,
        model_name="mri-hippocampus-3d",
        model_version="1.0.0",
        model_sha256="cd" * 32,
        task="mri-hippocampus",
        series_instance_uid=derived_uid("seg-series:job1"),
        sop_instance_uid=derived_uid(sop),
    )


def _volume_request(seg: bytes, labels: LabelVolume) -> VolumeSrRequest:
    volumes = labels.volumes_ml()
    return VolumeSrRequest(
        segmentation=seg,
        volumes=tuple(
            SrVolume(k, s.name, s.type, s.category, s.type, s.modifier, volumes[s.name], 0.9 if k == 1 else None)
            for k, s in enumerate(SPECS, start=1)
        ),
        procedure=PROCEDURE,
        model_name="mri-hippocampus-3d",
        model_version="1.0.0",
        model_sha256="cd" * 32,
        task="mri-hippocampus",
        series_instance_uid=derived_uid("sr-series:job1"),
        sop_instance_uid=derived_uid("sr:job1"),
        tracking_id="job1",
    )


def test_the_segmentation_is_valid_and_reads_back_onto_the_source_slices(series: Image) -> None:
    truth = label_blobs(series.shape)
    data = build_segmentation(_request(LabelVolume(truth, ("anterior", "posterior"), series)))
    check = dciodvfy(data)
    assert check.iod == "Segmentation"
    assert check.errors == (), check.output
    back = read_segmentation(data, series.source.sop_instance_uids)
    np.testing.assert_array_equal(back.labels, truth)
    assert back.segments == (
        (1, "Hippocampus, anterior", "Hippocampus", "Anterior", (230, 25, 75)),
        (2, "Hippocampus, posterior", "Hippocampus", "Posterior", (60, 180, 75)),
    )


def test_the_segmentation_is_binary_in_the_sources_study_with_the_algorithm(series: Image) -> None:
    data = build_segmentation(_request(LabelVolume(label_blobs(series.shape), ("anterior", "posterior"), series)))
    seg = hd.seg.segread(io.BytesIO(data))
    assert seg.SegmentationType == "BINARY"
    assert seg.Modality == "SEG"
    assert seg.StudyInstanceUID == series.source.study_uid
    assert seg.FrameOfReferenceUID == series.source.frame_of_reference_uid
    assert seg.PatientID == PLANTED["PatientID"]
    assert str(seg.PatientName) == PLANTED["PatientName"]
    assert seg.SOPInstanceUID == derived_uid("seg:job1")
    referenced = {uid for _, _, uid in seg.get_source_image_uids()}
    assert referenced == set(series.source.sop_instance_uids)
    segment = seg.get_segment_description(1)
    assert segment.algorithm_type.value == "AUTOMATIC"
    assert segment.algorithm_identification[0].AlgorithmName == "mri-hippocampus-3d"
    assert segment.algorithm_identification[0].AlgorithmVersion == "1.0.0"
    assert segment.segmented_property_category.value == "91723000"


def test_an_empty_result_is_still_a_valid_segmentation(series: Image) -> None:
    empty = np.zeros(series.shape, dtype=np.uint8)
    data = build_segmentation(_request(LabelVolume(empty, ("anterior", "posterior"), series), "seg:empty"))
    assert dciodvfy(data).errors == ()
    assert not read_segmentation(data, series.source.sop_instance_uids).labels.any()


def test_the_volume_report_is_valid_and_its_volumes_and_references_read_back(series: Image) -> None:
    labels = LabelVolume(label_blobs(series.shape), ("anterior", "posterior"), series)
    seg = build_segmentation(_request(labels))
    data = build_volume_report(_volume_request(seg, labels))
    check = dciodvfy(data)
    assert check.iod == "Comprehensive3DSR"
    assert check.errors == (), check.output
    report = hd.sr.srread(io.BytesIO(data))
    groups = report.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == 2
    expected = labels.volumes_ml()
    seg_uid = pydicom.dcmread(io.BytesIO(seg)).SOPInstanceUID
    for number, (group, spec) in enumerate(zip(groups, SPECS, strict=True), start=1):
        volume = group.get_measurements(name=pydicom.sr.coding.Code("118565006", "SCT", "Volume"))[0]
        assert volume.value == pytest.approx(expected[spec.name], abs=1e-4)
        assert volume.unit.value == "ml"
        reference = group.referenced_segment
        assert reference is not None
        assert reference.referenced_sop_instance_uid == seg_uid
        assert reference.referenced_segment_numbers == [number]
    items = read_sr_items(data)
    assert ("Mean calibrated probability", "0.9 1") in items
    assert ("Topographical modifier", "Posterior") in items
    assert items.count(("Hippocampus", "Present")) == 2
    assert min(expected.values()) > 0


def test_a_non_dicom_image_gets_no_segmentation() -> None:
    image = Image(np.zeros((4, 8, 8), np.float32), layout=Layout.VOLUME)
    assert not has_dicom_source(image)
    with pytest.raises(OutputError):
        source_headers(image)
    with pytest.raises(OutputError):
        build_segmentation(_request(LabelVolume(np.zeros((4, 8, 8), np.uint8), ("anterior", "posterior"), image)))


def test_segments_must_match_the_label_names(series: Image) -> None:
    labels = LabelVolume(np.zeros(series.shape, np.uint8), ("tumour",), series)
    with pytest.raises(OutputError, match="do not match"):
        build_segmentation(_request(labels))


def test_a_report_needs_a_segmentation_with_the_segments_it_measures(series: Image) -> None:
    labels = LabelVolume(label_blobs(series.shape), ("anterior", "posterior"), series)
    seg = build_segmentation(_request(labels))
    request = _volume_request(seg, labels)
    unknown = SrVolume(7, "other", HIPPOCAMPUS, STRUCTURE, None, None, 1.0)
    with pytest.raises(OutputError, match="segment"):
        build_volume_report(replace(request, volumes=(*request.volumes, unknown)))
    report = build_volume_report(request)
    with pytest.raises(OutputError, match="Segmentation"):
        build_volume_report(replace(request, segmentation=report))


def test_an_oblique_series_with_a_non_ascii_name_round_trips(tmp_path: Path) -> None:
    paths = write_mr_series(tmp_path / "mr", slices=5, rows=20, columns=16, orientation=(0.8, 0.6, 0, 0, 0, -1))
    for path in paths:
        dataset = pydicom.dcmread(path)
        dataset.PatientName = "Müller^Jürgen"
        dataset.save_as(path)
    image = read_image(tmp_path / "mr", ReadLimits())
    truth = label_blobs(image.shape)
    data = build_segmentation(_request(LabelVolume(truth, ("anterior", "posterior"), image), "seg:oblique"))
    assert dciodvfy(data).errors == ()
    assert str(hd.seg.segread(io.BytesIO(data)).PatientName) == "Müller^Jürgen"
    np.testing.assert_array_equal(read_segmentation(data, image.source.sop_instance_uids).labels, truth)
