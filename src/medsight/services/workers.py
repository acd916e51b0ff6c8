"""The worker pool: threads that claim queued jobs, keep their lease alive, and record the end.

Each worker thread makes its :class:`Runner` once, on its first job, and keeps it: the
runner holds the loaded model, so a model is loaded once per worker, never per job.
While a job runs, a heartbeat thread extends its lease every third of the lease; a job
whose worker dies (a killed server) is re-queued when its lease expires, by whichever
worker's janitor pass sees it first, here or in another server on the same database.

Shutdown (:meth:`WorkerPool.stop`, from the server's lifespan on SIGTERM): no new claims;
running jobs get ``grace_s`` to finish; those still running are released back to the
queue, to be run by the next server. A released worker's late result is not written
(it no longer holds the lease).

This module imports no torch; the runner (:mod:`medsight.services.analysis`) does.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Protocol

from medsight.errors import MedsightError
from medsight.services.jobs import JobService
from medsight.store.jobs import JobOutcome, JobRecord, JobStatus

__all__ = ["MAX_ATTEMPTS", "Runner", "RunnerFactory", "WorkerPool"]

_log = logging.getLogger(__name__)

#: Runs a job may start before it is failed as abandoned (each crash of a worker counts).
MAX_ATTEMPTS = 3


class Runner(Protocol):
    """Runs one claimed job to its outcome; ``heartbeat`` says whether the lease is still held."""

    def run(self, job: JobRecord, heartbeat: Callable[[], bool]) -> JobOutcome:
        """Analyse ``job``'s inputs; raise :class:`MedsightError` for a failure to record."""
        ...


RunnerFactory = Callable[[], Runner]


class _Lease:
    """Extends a job's lease every third of its length until stopped."""

    def __init__(self, service: JobService, job_id: str, owner: str, lease_s: float) -> None:
        self.service, self.job_id, self.owner, self.lease_s = service, job_id, owner, lease_s
        self.held = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job_id[:8]}", daemon=True)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def beat(self) -> bool:
        """Extend the lease now; False once it has been lost."""
        if self.held:
            try:
                self.held = self.service.jobs.heartbeat(self.job_id, self.owner, self.service.clock(), self.lease_s)
            except MedsightError as exc:  # the database hiccupped: the next beat tries again
                _log.warning("job %s heartbeat failed (%s)", self.job_id, type(exc).__name__)
        return self.held

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            if not self.beat():
                _log.warning("job %s: lease lost; its result will not be recorded", self.job_id)
                return


class WorkerPool:
    """``workers`` threads running jobs of one :class:`JobService`.

    Args:
        service: where jobs come from and go back to.
        factory: makes one runner per worker thread.
        workers: number of threads (0: this process runs no jobs).
        lease_s: how long a claim lasts without a heartbeat.
        poll_s: longest idle wait between looks at the queue (a submission wakes workers at once).
        max_attempts: see :data:`MAX_ATTEMPTS`.
    """

    def __init__(
        self,
        service: JobService,
        factory: RunnerFactory,
        *,
        workers: int,
        lease_s: float,
        poll_s: float = 1.0,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.service = service
        self.factory = factory
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.max_attempts = max_attempts
        self._stopping = threading.Event()
        prefix = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._owners = [f"{prefix}:{i}" for i in range(workers)]
        self._threads = [
            threading.Thread(target=self._work, args=(owner,), name=f"analysis-worker-{i}", daemon=True)
            for i, owner in enumerate(self._owners)
        ]
        self._current: dict[str, str] = {}  # owner -> job id it is running
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def start(self) -> WorkerPool:
        """Start the threads (and re-queue jobs whose lease expired while no server ran)."""
        if self._threads:
            self.sweep()
        for thread in self._threads:
            thread.start()
        _log.info("analysis workers started: %d", len(self._threads))
        return self

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop claiming; wait up to ``grace_s`` for running jobs, then release the rest."""
        self._stopping.set()
        self.service.wake.set()
        deadline = time.monotonic() + grace_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            unfinished = dict(self._current)
        for owner, job_id in unfinished.items():
            try:
                released = self.service.jobs.release(job_id, owner)
            except MedsightError as exc:
                _log.warning("job %s not released (%s); its lease will expire", job_id, type(exc).__name__)
                continue
            _log.info("job %s %s at shutdown", job_id, "released to the queue" if released else "already gone")
        _log.info("analysis workers stopped (%d job(s) released)", len(unfinished))

    def sweep(self) -> None:
        """Re-queue (or fail) running jobs whose lease expired."""
        requeued, failed = self.service.jobs.requeue_expired(self.service.clock(), self.max_attempts)
        if requeued or failed:
            _log.warning("expired leases: %d job(s) re-queued, %d failed as abandoned", requeued, failed)

    def _work(self, owner: str) -> None:
        runner: Runner | None = None
        while not self._stopping.is_set():
            try:
                self._maybe_sweep()
                job = self.service.jobs.claim(owner, self.service.clock(), self.lease_s)
            except MedsightError as exc:
                _log.warning("claiming a job failed (%s); retrying", type(exc).__name__)
                self._stopping.wait(self.poll_s)
                continue
            if job is None:
                self.service.wake.wait(self.poll_s)
                self.service.wake.clear()
                continue
            if runner is None:
                runner = self.factory()
            self._run(runner, job, owner)

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + min(self.lease_s / 2, 5.0)
            self.sweep()

    def _run(self, runner: Runner, job: JobRecord, owner: str) -> None:
        with self._lock:
            self._current[owner] = job.job_id
        started = time.perf_counter()
        _log.info("job %s running (attempt %d)", job.job_id, job.attempts)
        try:
            with _Lease(self.service, job.job_id, owner, self.lease_s) as lease:
                outcome = _outcome(runner, job, lease.beat)
            recorded = self.service.finish(job.job_id, owner, outcome, self.service.clock())
            elapsed_ms = (time.perf_counter() - started) * 1000
            if recorded:
                _log.info("job %s %s in %.0f ms", job.job_id, outcome.status.value, elapsed_ms)
            else:
                _log.warning("job %s finished after losing its lease; result dropped", job.job_id)
        except MedsightError as exc:
            _log.error("job %s: recording the outcome failed (%s)", job.job_id, type(exc).__name__)
        finally:
            with self._lock:
                self._current.pop(owner, None)


def _outcome(runner: Runner, job: JobRecord, heartbeat: Callable[[], bool]) -> JobOutcome:
    """The runner's outcome, or a failed one for an error (its code and patient-free message)."""
    try:
        return runner.run(job, heartbeat)
    except MedsightError as exc:
        return JobOutcome(JobStatus.FAILED, error_code=exc.code, error_message=exc.message)
    except Exception as exc:  # a bug: fail the job, log the frames, never the message (it may quote data)
        frames = "".join(traceback.format_tb(exc.__traceback__))
        _log.error("job %s: internal error %s\n%s", job.job_id, type(exc).__name__, frames)
        return JobOutcome(
            JobStatus.FAILED, error_code="internal", error_message=f"internal error ({type(exc).__name__})"
        )
