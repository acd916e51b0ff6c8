"""Running a job for real: model, heatmap, the SR stored back into the study, FHIR."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from tests.data.chest_dicom import kermany_chest, synthetic_chest_series

from medsight.access import Principal, Role
from medsight.errors import IntegrityError, NoImagesFoundError, StoredObjectCorruptError
from medsight.io.dicom.sr import read_sr_items
from medsight.services.accounts import AccessService
from medsight.services.analysis import JobRunner
from medsight.services.fhir import diagnostic_report
from medsight.services.jobs import AnalysisRequest, JobService
from medsight.settings import ServiceSettings
from medsight.store import InstanceQuery, Store, StudyQuery
from medsight.store.accounts import Accounts
from medsight.store.jobs import JobRecord, JobStatus

ADMIN = Principal("admin", Role.ADMIN, "t0")
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
ANALYZE_KEYS = {"task", "model", "threshold", "probability", "label", "uncertainty", "heatmap", "path"}


def _service(store: Store, tmp_path: Path, model: str | Path) -> JobService:
    settings = ServiceSettings(data_dir=tmp_path / "var")
    return JobService(store, AccessService(Accounts(store.sessions)), settings, model_for=lambda task: model)


def _run(service: JobService, study: str, runner: JobRunner) -> JobRecord:
    job, _ = service.submit(AnalysisRequest(study, None, "cxr-pneumonia"), ADMIN)
    claimed = service.jobs.claim("w", service.clock(), 30)
    assert claimed is not None
    assert claimed.job_id == job.job_id
    outcome = runner.run(claimed, lambda: True)
    assert service.jobs.finish(job.job_id, "w", outcome, service.clock())
    return service.jobs.get(job.job_id)


def test_a_done_job_keeps_its_heatmap_and_files_an_sr_in_the_study(
    store: Store, tmp_path: Path, tiny_bundle: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="medsight")
    service = _service(store, tmp_path, tiny_bundle)
    stored = [store.ingest(data) for data in synthetic_chest_series(tmp_path, 4)]
    study = stored[0].study_instance_uid
    runner = JobRunner(service)
    job = _run(service, study, runner)
    assert job.status is JobStatus.DONE, job.result
    result = job.result
    assert result is not None
    assert set(result) >= ANALYZE_KEYS
    assert len(result["images"]) == 4
    assert result["probability"] == max(r.get("probability", 0) for r in result["images"])
    assert result["path"].startswith(f"/dicomweb/studies/{study}/series/")
    # The heatmap: a PNG whose sha256 the job recorded, read back checked.
    png = service.heatmap(job.job_id, ADMIN)
    assert png.startswith(b"\x89PNG")
    tampered = service.heatmap_path(job.job_id)
    tampered.write_bytes(png[:-1] + bytes([png[-1] ^ 1]))
    with pytest.raises(IntegrityError, match="does not match"):
        service.heatmap(job.job_id, ADMIN)
    # The SR: in the same study, its own series, readable, with the finding and the model.
    assert job.sr_sop_instance_uid is not None
    sr = store.instance(job.sr_sop_instance_uid)
    assert sr.study_instance_uid == study
    assert sr.series_instance_uid not in {s.series_instance_uid for s in stored}
    assert sr.sop_class_uid == COMPREHENSIVE_3D_SR
    items = dict(read_sr_items(store.open_instance(job.sr_sop_instance_uid)))
    assert items["Probability"] == f"{result['probability']} 1"
    assert items["Decision threshold"].split()[0] == str(result["threshold"])
    assert items["Pneumonia"] in ("Present", "Absent")
    assert items["Algorithm Name"] == "tiny"
    assert items["Device Observer Name"] == "tiny"
    parameters = [value for name, value in read_sr_items(store.open_instance(sr.sop_instance_uid)) if "Param" in name]
    assert f"sha256={job.model.sha256}" in parameters
    # The report is not an input: the same request again is the same job.
    again, queued = service.submit(AnalysisRequest(study, None, "cxr-pneumonia"), ADMIN)
    assert not queued
    assert again.job_id == job.job_id
    # Running the job again (a crash after the report) replaces its report, never adds one.
    reruns = runner.run(service.jobs.get(job.job_id), lambda: True)
    assert reruns.sr_sop_instance_uid == job.sr_sop_instance_uid
    reports = store.instances(InstanceQuery(study_instance_uid=study, sop_class_uid=COMPREHENSIVE_3D_SR))
    assert len(reports) == 1
    # FHIR: a valid DiagnosticReport with the probability and the model.
    fhir = diagnostic_report(job, store.studies(StudyQuery(study_instance_uids=(study,)))[0])
    DiagnosticReport.model_validate(fhir)
    assert fhir["status"] == "preliminary"
    assert fhir["imagingStudy"][0]["identifier"]["value"] == f"urn:oid:{study}"
    assert fhir["subject"]["identifier"]["value"] == "FAKE-CXR-1"
    observation = next(r for r in fhir["contained"] if r["resourceType"] == "Observation")
    assert observation["valueQuantity"]["value"] == result["probability"]
    device = next(r for r in fhir["contained"] if r["resourceType"] == "Device")
    assert device["identifier"][0]["value"] == job.model.sha256
    # Nothing from the patient's record reached a log: no name, no ID, no UID.
    assert "FAKE" not in caplog.text
    assert study not in caplog.text
    assert job.job_id in caplog.text


def test_images_the_model_was_not_made_for_are_refused_without_a_report(
    store: Store, tmp_path: Path, tiny_bundle: Path, pydicom_test_files: Path
) -> None:
    service = _service(store, tmp_path, tiny_bundle)
    ct = store.ingest((pydicom_test_files / "CT_small.dcm").read_bytes())
    job = _run(service, ct.study_instance_uid, JobRunner(service))
    assert job.status is JobStatus.REFUSED
    assert job.result is not None
    assert job.result["refused"]["check"] == "modality"
    assert job.sr_sop_instance_uid is None
    assert job.heatmap_sha256 is None
    fhir = diagnostic_report(job, None)
    assert fhir["status"] == "cancelled"
    assert fhir["conclusion"].startswith("Not analysed")


def test_a_study_holding_only_reports_has_nothing_to_analyse(store: Store, tmp_path: Path, tiny_bundle: Path) -> None:
    service = _service(store, tmp_path, tiny_bundle)
    study = store.ingest(synthetic_chest_series(tmp_path, 1)[0]).study_instance_uid
    job = _run(service, study, JobRunner(service))
    assert job.sr_sop_instance_uid is not None
    sr_only = store.instance(job.sr_sop_instance_uid)
    with pytest.raises(NoImagesFoundError):
        service.submit(AnalysisRequest(study, sr_only.series_instance_uid, "cxr-pneumonia"), ADMIN)


def test_a_missing_object_fails_the_job_with_its_code(store: Store, tmp_path: Path, tiny_bundle: Path) -> None:
    service = _service(store, tmp_path, tiny_bundle)
    stored = store.ingest(synthetic_chest_series(tmp_path, 1)[0])
    service.submit(AnalysisRequest(stored.study_instance_uid, None, "cxr-pneumonia"), ADMIN)
    store.blobs.remove(stored.sha256)
    claimed = service.jobs.claim("w", service.clock(), 30)
    assert claimed is not None
    with pytest.raises(StoredObjectCorruptError):  # the worker records its code as the job's failure
        JobRunner(service).run(claimed, lambda: True)


@pytest.mark.shared
def test_the_shipped_model_scores_a_real_chest_x_ray(store: Store, tmp_path: Path) -> None:
    data = kermany_chest(tmp_path, label=1)
    if data is None:
        pytest.skip("../shared/datasets/chest_xray_pneumonia_224 is absent")
    service = _service(store, tmp_path, "cxr-pneumonia-224")
    study = store.ingest(data).study_instance_uid
    job = _run(service, study, JobRunner(service))
    assert job.status is JobStatus.DONE
    assert job.result is not None
    assert job.result["model"]["name"] == "cxr-pneumonia-224"
    assert job.result["label"] == "pneumonia"
