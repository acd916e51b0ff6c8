"""A volume segmentation job: its SEG and SR stored into the study (QIDO finds them), valid, rerun-safe."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from tests.data.dciodvfy import dciodvfy
from tests.data.synthetic_mr import label_blobs, write_mr_series

from medsight.imaging import Image
from medsight.imaging.labels import LabelVolume
from medsight.inference.volume_segmentation import VolumeSegmentation
from medsight.io.dicom.seg import read_segmentation
from medsight.io.dicom.sr import read_sr_items
from medsight.services.accounts import AccessService
from medsight.services.analysis import JobRunner
from medsight.services.fhir import diagnostic_report
from medsight.services.jobs import AnalysisRequest, JobService
from medsight.services.label_outputs import NO_DICOM_SOURCE
from medsight.services.volume_jobs import Segmenter, VolumeJobRunner
from medsight.settings import ServiceSettings
from medsight.store import InstanceQuery, SeriesQuery, Store, StudyQuery
from medsight.store.accounts import Accounts
from medsight.store.jobs import JobInput, JobRecord, JobStatus, ModelRef, NewJob
from medsight.tasks import Refusal

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
MODEL = {"name": "mri-hippocampus-48", "version": "0.1.0", "sha256": "34" * 32}


def _segment(image: Image) -> VolumeSegmentation:
    labels = LabelVolume(label_blobs(image.shape), ("anterior", "posterior"), image)
    return VolumeSegmentation("mri-hippocampus", MODEL, labels=labels, confidence=0.9)


def _refuse(image: Image) -> VolumeSegmentation:
    return VolumeSegmentation("mri-hippocampus", MODEL, refused=Refusal("modality", "not a brain MRI"))


def _job(service: JobService, study: str) -> JobRecord:
    found = service.store.instances(InstanceQuery(study_instance_uid=study))
    inputs = tuple(JobInput(i.series_instance_uid, i.sop_instance_uid, i.sha256) for i in found)
    new = NewJob(
        "mri-hippocampus", ModelRef(MODEL["name"], MODEL["version"], MODEL["sha256"]), study, None, inputs, "t"
    )
    service.jobs.enqueue(new, uuid.uuid4().hex, service.clock())
    claimed = service.jobs.claim("w", service.clock(), 30)
    assert claimed is not None
    return claimed


def _run(store: Store, tmp_path: Path, segment: Any) -> tuple[JobService, JobRecord, str]:
    paths = write_mr_series(tmp_path / "mr", slices=4, rows=16, columns=16)
    stored = [store.ingest(p.read_bytes()) for p in paths]
    study = stored[0].study_instance_uid
    service = JobService(store, AccessService(Accounts(store.sessions)), ServiceSettings(data_dir=tmp_path / "var"))
    runner = VolumeJobRunner(service, loader=lambda s, j: Segmenter(segment, MODEL))
    job = _job(service, study)
    outcome = runner.run(job, lambda: True)
    assert service.jobs.finish(job.job_id, "w", outcome, service.clock())
    return service, service.jobs.get(job.job_id), study


def test_a_volume_job_stores_its_seg_and_sr_in_the_study(store: Store, tmp_path: Path) -> None:
    _, job, study = _run(store, tmp_path, _segment)
    assert job.status is JobStatus.DONE, job.result
    result = job.result
    assert result is not None
    assert result["volumes_ml"]["anterior"] > 0
    assert result["path"].startswith(f"/dicomweb/studies/{study}/series/")
    seg_uid = result["segmentation"]["sop_instance_uid"]
    seg = store.instance(seg_uid)
    assert seg.study_instance_uid == study
    assert seg.sop_class_uid == SEGMENTATION_STORAGE
    sr = store.instance(job.sr_sop_instance_uid or "")
    assert sr.sop_class_uid == COMPREHENSIVE_3D_SR
    modalities = {s.modality for s in store.series(SeriesQuery(study_instance_uid=study))}
    assert modalities == {"MR", "SEG", "SR"}
    seg_bytes, sr_bytes = store.open_instance(seg_uid), store.open_instance(sr.sop_instance_uid)
    assert dciodvfy(seg_bytes).errors == ()
    assert dciodvfy(sr_bytes).errors == ()
    sources = [
        i.sop_instance_uid
        for i in store.instances(InstanceQuery(study_instance_uid=study))
        if i.rows and i.sop_class_uid != SEGMENTATION_STORAGE
    ]
    back = read_segmentation(seg_bytes)
    assert set(back.source_uids) == set(sources)
    assert int(np.count_nonzero(back.labels)) > 0
    volumes = [v for name, v in read_sr_items(sr_bytes) if name == "Volume"]
    assert float(volumes[0].split()[0]) == pytest.approx(result["volumes_ml"]["anterior"], abs=1e-4)


def test_a_job_run_again_replaces_its_objects(store: Store, tmp_path: Path) -> None:
    service, job, study = _run(store, tmp_path, _segment)
    runner = VolumeJobRunner(service, loader=lambda s, j: Segmenter(_segment, MODEL))
    again = runner.run(job, lambda: True)
    assert again.sr_sop_instance_uid == job.sr_sop_instance_uid
    series = store.series(SeriesQuery(study_instance_uid=study))
    assert sorted(s.modality for s in series) == ["MR", "SEG", "SR"]


def test_a_refused_volume_files_nothing(store: Store, tmp_path: Path) -> None:
    _, job, study = _run(store, tmp_path, _refuse)
    assert job.status is JobStatus.REFUSED
    assert job.sr_sop_instance_uid is None
    assert {s.modality for s in store.series(SeriesQuery(study_instance_uid=study))} == {"MR"}


def test_the_job_runner_hands_volume_tasks_to_the_volume_runner(store: Store, tmp_path: Path) -> None:
    paths = write_mr_series(tmp_path / "mr", slices=4, rows=16, columns=16)
    study = [store.ingest(p.read_bytes()) for p in paths].pop().study_instance_uid
    service = JobService(store, AccessService(Accounts(store.sessions)), ServiceSettings(data_dir=tmp_path / "var"))
    runner = JobRunner(service)
    runner.volumes = VolumeJobRunner(service, loader=lambda s, j: Segmenter(_segment, MODEL))
    outcome = runner.run(_job(service, study), lambda: True)
    assert outcome.status is JobStatus.DONE
    assert outcome.result is not None
    assert "segmentation" in outcome.result
    # The SEG now in the study is a result, not an image: the next job's inputs leave it out.
    pinned = service._inputs(AnalysisRequest(study, None, "mri-hippocampus"))
    assert {item.sop_instance_uid for item in pinned} == {p.sop_instance_uid for p in _sources(store, study)}


def _sources(store: Store, study: str) -> list[Any]:
    return [i for i in store.instances(InstanceQuery(study_instance_uid=study)) if i.sop_class_uid == MR_IMAGE]


def test_a_series_with_a_filled_gap_is_measured_but_gets_no_seg(store: Store, tmp_path: Path) -> None:
    paths = write_mr_series(tmp_path / "mr", slices=5, rows=16, columns=16)
    del paths[2]  # one slice missing: the reader interpolates it, so no SEG may point at it
    study = [store.ingest(p.read_bytes()) for p in paths].pop().study_instance_uid
    service = JobService(store, AccessService(Accounts(store.sessions)), ServiceSettings(data_dir=tmp_path / "var"))
    runner = VolumeJobRunner(service, loader=lambda s, j: Segmenter(_segment, MODEL))
    outcome = runner.run(_job(service, study), lambda: True)
    assert outcome.status is JobStatus.DONE
    assert outcome.result is not None
    assert outcome.result["segmentation"] is None
    assert outcome.result["note"] == NO_DICOM_SOURCE
    assert outcome.result["volumes_ml"]["anterior"] > 0
    assert outcome.sr_sop_instance_uid is None
    assert {s.modality for s in store.series(SeriesQuery(study_instance_uid=study))} == {"MR"}


def test_the_fhir_report_of_a_volume_job_carries_the_volumes_the_sr_holds(store: Store, tmp_path: Path) -> None:
    _, job, study = _run(store, tmp_path, _segment)
    report = diagnostic_report(job, store.studies(StudyQuery(study_instance_uids=(study,)))[0])
    DiagnosticReport.model_validate(report)
    observations = {r["id"]: r for r in report["contained"] if r["resourceType"] == "Observation"}
    assert [ref["reference"] for ref in report["result"]] == ["#volume-anterior", "#volume-posterior"]
    sr_volumes = [
        float(v.split()[0])
        for name, v in read_sr_items(store.open_instance(job.sr_sop_instance_uid or ""))
        if name == "Volume"
    ]
    fhir_volumes = [observations[f"volume-{label}"]["valueQuantity"] for label in ("anterior", "posterior")]
    assert [q["value"] for q in fhir_volumes] == pytest.approx(sr_volumes, abs=1e-4)
    assert {(q["system"], q["code"]) for q in fhir_volumes} == {("http://unitsofmeasure.org", "mL")}
    assert report["subject"] == observations["volume-anterior"]["subject"]
