"""Submitting and reading jobs (both backends), the worker pool with a fake runner."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.data.chest_dicom import synthetic_chest_series

from medsight.access import Principal, Role
from medsight.errors import (
    NoImagesFoundError,
    PermissionDeniedError,
    StoredInstanceNotFoundError,
    UnknownResourceError,
    UsageError,
)
from medsight.services.accounts import AccessService
from medsight.services.jobs import AnalysisRequest, JobService, job_json
from medsight.services.workers import WorkerPool
from medsight.settings import ServiceSettings
from medsight.store import Store
from medsight.store.accounts import Accounts
from medsight.store.jobs import JobOutcome, JobRecord, JobStatus

RADIOLOGIST = Principal("dr.ada", Role.RADIOLOGIST, "t1")
REFERRER = Principal("clinic", Role.REFERRER, "t2")
TASK = "cxr-pneumonia"


@pytest.fixture
def service(store: Store, tmp_path: Path) -> JobService:
    settings = ServiceSettings(data_dir=tmp_path / "var")
    return JobService(
        store, AccessService(Accounts(store.sessions)), settings, model_for=lambda task: "cxr-pneumonia-28"
    )


def _study(service: JobService, tmp_path: Path, count: int = 2, seed: int = 5) -> tuple[str, str]:
    results = [service.store.ingest(data) for data in synthetic_chest_series(tmp_path, count, seed=seed)]
    return results[0].study_instance_uid, results[0].series_instance_uid


def test_submit_is_idempotent_per_images_task_and_model(service: JobService, tmp_path: Path) -> None:
    study, series = _study(service, tmp_path)
    first, queued = service.submit(AnalysisRequest(study, None, TASK), RADIOLOGIST)
    again, queued_again = service.submit(AnalysisRequest(study, series, TASK), RADIOLOGIST)
    assert queued
    assert not queued_again
    assert again.job_id == first.job_id  # the same images: the series is the whole study here
    assert first.status is JobStatus.QUEUED
    assert len(first.inputs) == 2
    assert first.model.name == "cxr-pneumonia-28"
    assert service.wake.is_set()
    shown = job_json(first)
    assert {"id", "status", "task", "model", "result", "error", "links"} <= set(shown)
    assert shown["links"]["self"] == f"/api/v1/analyses/{first.job_id}"
    assert shown["links"]["fhir"] is None  # not finished


def test_submit_refuses_unknown_tasks_and_studies(service: JobService, tmp_path: Path) -> None:
    study, _ = _study(service, tmp_path, count=1)
    with pytest.raises(UsageError, match="unknown task"):
        service.submit(AnalysisRequest(study, None, "knee-oa"), RADIOLOGIST)
    with pytest.raises(StoredInstanceNotFoundError):
        service.submit(AnalysisRequest("1.2.3.999", None, TASK), RADIOLOGIST)


def test_referrers_reach_only_studies_they_sent(service: JobService, tmp_path: Path) -> None:
    study, _ = _study(service, tmp_path)
    with pytest.raises(PermissionDeniedError):
        service.submit(AnalysisRequest(study, None, TASK), REFERRER)
    job, _ = service.submit(AnalysisRequest(study, None, TASK), RADIOLOGIST)
    with pytest.raises(PermissionDeniedError):
        service.get(job.job_id, REFERRER)
    assert service.search(REFERRER, None) == []
    service.access.accounts.record_submitter(study, REFERRER.actor)
    assert service.get(job.job_id, REFERRER).job_id == job.job_id
    assert [j.job_id for j in service.search(REFERRER, None)] == [job.job_id]
    assert [j.job_id for j in service.search(RADIOLOGIST, study)] == [job.job_id]
    with pytest.raises(UnknownResourceError):
        service.get("0" * 32, RADIOLOGIST)
    with pytest.raises(UnknownResourceError, match="no heatmap"):
        service.heatmap(job.job_id, RADIOLOGIST)


class FakeRunner:
    """Scores nothing: answers what the test asks for, optionally after a gate opens."""

    def __init__(self, answer: Callable[[JobRecord], JobOutcome], gate: threading.Event | None = None) -> None:
        self.answer = answer
        self.gate = gate
        self.started = threading.Event()

    def run(self, job: JobRecord, heartbeat: Callable[[], bool]) -> JobOutcome:
        self.started.set()
        if self.gate is not None:
            self.gate.wait(10)
        return self.answer(job)


def _wait_for(service: JobService, job_id: str, statuses: set[JobStatus], timeout_s: float = 10) -> JobRecord:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = service.jobs.get(job_id)
        if record.status in statuses:
            return record
        time.sleep(0.02)
    raise AssertionError(f"job stayed {service.jobs.get(job_id).status}")


def test_the_pool_runs_jobs_and_records_outcomes_and_errors(service: JobService, tmp_path: Path) -> None:
    study, _ = _study(service, tmp_path)
    answers = iter(
        [
            lambda job: JobOutcome(JobStatus.DONE, result={"probability": 0.5}),
            lambda job: (_ for _ in ()).throw(NoImagesFoundError("none of the stored objects is an image")),
            lambda job: (_ for _ in ()).throw(RuntimeError("DOE^JANE")),
        ]
    )
    made: list[FakeRunner] = []

    def factory() -> FakeRunner:
        made.append(FakeRunner(lambda job: next(answers)(job)))
        return made[-1]

    pool = WorkerPool(service, factory, workers=1, lease_s=5, poll_s=0.05).start()
    try:
        done, _ = service.submit(AnalysisRequest(study, None, TASK), RADIOLOGIST)
        assert _wait_for(service, done.job_id, {JobStatus.DONE}).result == {"probability": 0.5}
        failed, _ = service.submit(AnalysisRequest(_study(service, tmp_path, seed=6)[0], None, TASK), RADIOLOGIST)
        record = _wait_for(service, failed.job_id, {JobStatus.FAILED})
        assert record.error_code == "input.no_images"
        third, _ = service.submit(AnalysisRequest(_study(service, tmp_path, seed=7)[0], None, TASK), RADIOLOGIST)
        crashed = _wait_for(service, third.job_id, {JobStatus.FAILED})
        assert crashed.error_code == "internal"
        assert "DOE" not in (crashed.error_message or "")
    finally:
        pool.stop(grace_s=1)
    assert len(made) == 1  # one runner (one loaded model) per worker, for every job


def test_stop_releases_a_job_that_does_not_finish_in_the_grace_period(service: JobService, tmp_path: Path) -> None:
    study, _ = _study(service, tmp_path)
    gate = threading.Event()
    runner = FakeRunner(lambda job: JobOutcome(JobStatus.DONE, result={}), gate)
    pool = WorkerPool(service, lambda: runner, workers=1, lease_s=5, poll_s=0.05).start()
    job, _ = service.submit(AnalysisRequest(study, None, TASK), RADIOLOGIST)
    assert runner.started.wait(10)
    pool.stop(grace_s=0.2)
    released = service.jobs.get(job.job_id)
    assert released.status is JobStatus.QUEUED
    assert released.attempts == 0
    gate.set()  # the late result finds the lease gone and is dropped
    time.sleep(0.2)
    assert service.jobs.get(job.job_id).status is JobStatus.QUEUED


def test_a_dead_workers_job_is_taken_over_after_its_lease(service: JobService, tmp_path: Path) -> None:
    study, _ = _study(service, tmp_path)
    job, _ = service.submit(AnalysisRequest(study, None, TASK), RADIOLOGIST)
    assert service.jobs.claim("crashed-server", service.clock(), 0.3) is not None
    runner = FakeRunner(lambda job: JobOutcome(JobStatus.DONE, result={"ok": True}))
    pool = WorkerPool(service, lambda: runner, workers=1, lease_s=0.3, poll_s=0.05).start()
    try:
        record = _wait_for(service, job.job_id, {JobStatus.DONE})
    finally:
        pool.stop(grace_s=1)
    assert record.attempts == 2
