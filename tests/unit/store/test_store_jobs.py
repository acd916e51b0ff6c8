"""The job queue on both backends: idempotent enqueue, exclusive claims, leases, requeue."""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from medsight.errors import UnknownResourceError
from medsight.store import Store
from medsight.store.jobs import ABANDONED, JobInput, JobOutcome, Jobs, JobStatus, ModelRef, NewJob, job_key

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MODEL = ModelRef("cxr-pneumonia-224", "1.0.0", "ab" * 32)


def _new(study: str = "1.2.3", hashes: tuple[str, ...] = ("a" * 64,), task: str = "cxr-pneumonia") -> NewJob:
    inputs = tuple(JobInput("1.2.3.4", f"1.2.3.4.{i}", sha) for i, sha in enumerate(hashes))
    return NewJob(task, MODEL, study, None, inputs, requested_by="dr.ada")


def _id() -> str:
    return uuid.uuid4().hex


def test_the_key_ignores_input_order_and_names_task_and_model_version() -> None:
    assert job_key(["b", "a"], "t", "m", "1") == job_key(["a", "b"], "t", "m", "1")
    assert job_key(["a"], "t", "m", "1") != job_key(["a"], "t", "m", "2")
    assert job_key(["a"], "t", "m", "1") != job_key(["a"], "u", "m", "1")


def test_the_key_names_the_input_gate_and_keeps_gateless_keys() -> None:
    # A key from before gates existed (sha256 of the parts, one per line) is unchanged.
    old = hashlib.sha256(b"".join(f"{part}\n".encode() for part in ("a", "task", "t", "model", "m", "1"))).hexdigest()
    assert job_key(["a"], "t", "m", "1") == old == job_key(["a"], "t", "m", "1", None)
    assert job_key(["a"], "t", "m", "1", "cd" * 32) not in (old, job_key(["a"], "t", "m", "1", "ef" * 32))


def test_a_job_records_its_models_input_gate_and_a_gate_makes_a_new_job(store: Store) -> None:
    jobs = Jobs(store.sessions)
    plain, _ = jobs.enqueue(_new(), _id(), NOW)
    gated_model = ModelRef(MODEL.name, MODEL.version, MODEL.sha256, "cd" * 32)
    gated, created = jobs.enqueue(replace(_new(), model=gated_model), _id(), NOW)
    assert created
    assert gated.job_id != plain.job_id
    assert jobs.get(gated.job_id).model == gated_model
    assert jobs.get(plain.job_id).model.input_gate_sha256 is None


def test_the_key_names_the_settings_and_keeps_keys_without_them() -> None:
    gated = job_key(["a"], "t", "m", "1", "cd" * 32)
    assert job_key(["a"], "t", "m", "1", "cd" * 32, None) == gated
    configured = job_key(["a"], "t", "m", "1", "cd" * 32, "01" * 32)
    assert configured not in (gated, job_key(["a"], "t", "m", "1", "cd" * 32, "02" * 32))


def test_a_job_records_its_models_settings_and_other_settings_make_a_new_job(store: Store) -> None:
    # A threshold moved by hand keeps the weights, the gate and the version: without the
    # settings in the key the same study would get the old answer back.
    jobs = Jobs(store.sessions)
    before = replace(MODEL, config_sha256="01" * 32)
    first, _ = jobs.enqueue(replace(_new(), model=before), _id(), NOW)
    moved, created = jobs.enqueue(replace(_new(), model=replace(MODEL, config_sha256="02" * 32)), _id(), NOW)
    assert created
    assert moved.job_id != first.job_id
    assert jobs.get(first.job_id).model == before
    same, created_again = jobs.enqueue(replace(_new(), model=before), _id(), NOW)
    assert (same.job_id, created_again) == (first.job_id, False)


def test_enqueue_is_idempotent_per_key(store: Store) -> None:
    jobs = Jobs(store.sessions)
    first, created = jobs.enqueue(_new(), _id(), NOW)
    again, created_again = jobs.enqueue(_new(), _id(), NOW)
    other, _ = jobs.enqueue(_new(hashes=("c" * 64,)), _id(), NOW)
    assert created
    assert not created_again
    assert again.job_id == first.job_id
    assert other.job_id != first.job_id
    assert first.status is JobStatus.QUEUED
    assert first.inputs[0].sha256 == "a" * 64
    assert jobs.get(first.job_id).model == MODEL
    with pytest.raises(UnknownResourceError):
        jobs.get("nope")


def test_claim_heartbeat_finish(store: Store) -> None:
    jobs = Jobs(store.sessions)
    queued, _ = jobs.enqueue(_new(), _id(), NOW)
    claimed = jobs.claim("w1", NOW, 30)
    assert claimed is not None
    assert claimed.job_id == queued.job_id
    assert claimed.status is JobStatus.RUNNING
    assert claimed.attempts == 1
    assert claimed.lease_expires_at == NOW + timedelta(seconds=30)
    assert jobs.claim("w2", NOW, 30) is None
    assert jobs.heartbeat(queued.job_id, "w1", NOW + timedelta(seconds=20), 30)
    assert not jobs.heartbeat(queued.job_id, "w2", NOW, 30)
    assert jobs.get(queued.job_id).lease_expires_at == NOW + timedelta(seconds=50)
    outcome = JobOutcome(JobStatus.DONE, result={"probability": 0.7})
    assert not jobs.finish(queued.job_id, "w2", outcome, NOW)
    assert jobs.finish(queued.job_id, "w1", outcome, NOW)
    done = jobs.get(queued.job_id)
    assert done.status is JobStatus.DONE
    assert done.result == {"probability": 0.7}
    assert done.lease_owner is None
    assert jobs.counts()[JobStatus.DONE] == 1


def test_an_expired_lease_goes_back_to_the_queue_then_fails_when_out_of_attempts(store: Store) -> None:
    jobs = Jobs(store.sessions)
    queued, _ = jobs.enqueue(_new(), _id(), NOW)
    assert jobs.claim("dead", NOW, 5) is not None
    assert jobs.requeue_expired(NOW + timedelta(seconds=4), max_attempts=2) == (0, 0)
    assert jobs.requeue_expired(NOW + timedelta(seconds=6), max_attempts=2) == (1, 0)
    assert jobs.get(queued.job_id).status is JobStatus.QUEUED
    again = jobs.claim("w2", NOW + timedelta(seconds=7), 5)
    assert again is not None
    assert again.attempts == 2
    # The first owner's late result is not written: the job is someone else's now.
    assert not jobs.finish(queued.job_id, "dead", JobOutcome(JobStatus.DONE), NOW)
    assert jobs.requeue_expired(NOW + timedelta(seconds=20), max_attempts=2) == (0, 1)
    failed = jobs.get(queued.job_id)
    assert failed.status is JobStatus.FAILED
    assert failed.error_code == ABANDONED


def test_a_failed_job_submitted_again_is_queued_again_under_its_id(store: Store) -> None:
    jobs = Jobs(store.sessions)
    queued, _ = jobs.enqueue(_new(), _id(), NOW)
    jobs.claim("w", NOW, 5)
    jobs.finish(queued.job_id, "w", JobOutcome(JobStatus.FAILED, error_code="output.error", error_message="x"), NOW)
    again, requeued = jobs.enqueue(_new(), _id(), NOW)
    assert requeued
    assert again.job_id == queued.job_id
    assert again.status is JobStatus.QUEUED
    assert again.attempts == 0
    assert again.error_code is None


def test_release_returns_the_job_without_counting_the_attempt(store: Store) -> None:
    jobs = Jobs(store.sessions)
    queued, _ = jobs.enqueue(_new(), _id(), NOW)
    jobs.claim("w", NOW, 5)
    assert jobs.release(queued.job_id, "w")
    released = jobs.get(queued.job_id)
    assert released.status is JobStatus.QUEUED
    assert released.attempts == 0


def test_concurrent_claims_never_take_the_same_job(store: Store) -> None:
    jobs = Jobs(store.sessions)
    ids = {jobs.enqueue(_new(hashes=(f"{i:064x}",)), _id(), NOW)[0].job_id for i in range(12)}
    taken: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (job := jobs.claim(name, NOW, 30)) is not None:
            with lock:
                taken.append(job.job_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(ids)


def test_search_by_study_newest_first(store: Store) -> None:
    jobs = Jobs(store.sessions)
    a, _ = jobs.enqueue(_new(study="1.1", hashes=("a" * 64,)), _id(), NOW)
    b, _ = jobs.enqueue(_new(study="1.1", hashes=("b" * 64,)), _id(), NOW)
    jobs.enqueue(_new(study="2.2", hashes=("c" * 64,)), _id(), NOW)
    assert [job.job_id for job in jobs.search(study_instance_uids=["1.1"])] == [b.job_id, a.job_id]
    assert len(jobs.search()) == 3
    assert "1.1" not in repr(a)
