"""Use case: submit analysis jobs and read them back (no model here: workers run them).

A job names a study (and optionally one series), a task and the task's model; its input
is pinned at submission to the stored images of that study or series, by sha256. The
same images, task, model version, input gate and settings give the same job
(:func:`medsight.store.jobs.job_key`), so a repeated request, a re-sent study or a
routing rule firing twice returns the job that exists. Workers (:mod:`medsight.services.workers`) run what is queued.

This module imports no torch: the CLI's ``tokens`` and ``users`` open the same
:class:`~medsight.services.context.ServiceContext` and must stay fast.

Logs carry job ids, statuses and counts, never a UID.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from medsight.access import Principal
from medsight.errors import (
    IntegrityError,
    MedsightError,
    NoImagesFoundError,
    ResourceLimitError,
    StoredInstanceNotFoundError,
    UnknownResourceError,
    UnreleasedModelError,
)
from medsight.io.jsonl import read_json_lines
from medsight.models.bundle import Bundle, resolve_bundle
from medsight.models.saliency import SaliencySpec
from medsight.services.accounts import AccessService
from medsight.services.release import RELEASES_FILE
from medsight.services.triage import triage
from medsight.settings import ServiceSettings
from medsight.store import InstanceQuery, Store
from medsight.store.blobs import read_file, sha256_hex, write_file
from medsight.store.jobs import FINISHED, JobInput, JobOutcome, JobRecord, Jobs, ModelRef, NewJob
from medsight.tasks import TaskSpec, get_task

__all__ = ["ANALYSES_PATH", "HEATMAP_FOLDER", "HEAT_KEY", "AnalysisRequest", "HeatmapKind", "JobService", "job_json"]

_log = logging.getLogger(__name__)

#: Where the API serves jobs (links in job JSON).
ANALYSES_PATH = "/api/v1/analyses"
#: The folder under the data dir where job heatmaps are kept (sealed like the objects).
HEATMAP_FOLDER = "analyses"
#: The result's key for the heat-only PNG: ``{"href", "sha256"}``.
HEAT_KEY = "heat"


class HeatmapKind(StrEnum):
    """A job's two heatmap PNGs: the model's saliency map blended over the image, or the heat alone (RGBA)."""

    BLENDED = "blended"
    HEAT = "heat"


_SUFFIXES = {HeatmapKind.BLENDED: ".png", HeatmapKind.HEAT: ".heat.png"}
#: Segmentation Storage and Label Map Segmentation Storage (PS3.4 B.5).
_SEGMENTATIONS = frozenset({"1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7"})
_MAX_INPUTS = 4000  # instances one job may pin (a whole large CT study is a few thousand)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AnalysisRequest:
    """What to analyse: a stored study, optionally one of its series, with a task."""

    study_instance_uid: str = field(repr=False)
    series_instance_uid: str | None = field(repr=False)
    task: str


def _default_model(task: TaskSpec) -> str | Path | None:
    # The task's largest shipped model (services.models.shipped_for imports torch-side code).
    return task.shipped_models[max(task.shipped_models)] if task.shipped_models else None


class JobService:
    """Submit jobs, read them, and hand workers what they need.

    Args:
        store: the study store (instances, and the job table in its database).
        access: who may read which study (referrers: only studies they sent).
        settings: the service's settings (data folder, lease).
        clock: the current UTC time.
        model_for: the model (shipped name or bundle folder) to run for a task; the
            task's largest shipped model by default. Tests pass a small bundle.
    """

    def __init__(
        self,
        store: Store,
        access: AccessService,
        settings: ServiceSettings,
        *,
        clock: Callable[[], datetime] = _utcnow,
        model_for: Callable[[TaskSpec], str | Path | None] = _default_model,
    ) -> None:
        self.store = store
        self.access = access
        self.settings = settings
        self.clock = clock
        self.jobs = Jobs(store.sessions)
        self.model_for = model_for
        #: Set when a job is queued, so idle workers start at once instead of at their next poll.
        self.wake = threading.Event()
        self._bundles: dict[str, Bundle] = {}
        self._lock = threading.Lock()
        # The registry's releases as (name, weights, gate, settings), and without the settings.
        self._released: frozenset[tuple[str, str, str | None, str | None]] = frozenset()
        self._released_weights: frozenset[tuple[str, str, str | None]] = frozenset()
        self._releases_stamp: tuple[int, int] | None = None

    def released(self, model: ModelRef) -> bool:
        """Whether ``model`` (its name, weights, input gate and, where known, settings) was
        released through the fairness gate (``medsight models promote``): a model given an
        input gate since its release refuses other inputs than the one released, and one
        whose threshold or calibration moved since decides otherwise: each must be released
        again. A release recorded before settings were pinned names none, and so releases no
        model whose settings are known; the model of a job queued before jobs kept them is
        judged on its weights and gate.

        The registry is re-read only when it changes (its size and modification time), so
        a promotion made while the service runs counts from the next analysis on.
        """
        registry = Path(self.settings.data_dir) / RELEASES_FILE
        try:
            stat = registry.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._releases_stamp:
                records = read_json_lines(registry) if stamp is not None else []
                refs = [ModelRef.from_identity(record) for record in records]
                self._released = frozenset((r.name, r.sha256, r.input_gate_sha256, r.config_sha256) for r in refs)
                self._released_weights = frozenset((r.name, r.sha256, r.input_gate_sha256) for r in refs)
                self._releases_stamp = stamp
            pinned = (model.name, model.sha256, model.input_gate_sha256)
            if model.config_sha256 is None:
                return pinned in self._released_weights
            return (*pinned, model.config_sha256) in self._released

    def heatmap_audit(self, record: JobRecord) -> dict[str, Any] | None:
        """The saliency audit recorded for the weights that ran ``record`` (``passed``, the
        ``failed`` checks, ``audited_at``, the ``method``), or None: none recorded, the installed
        bundle's weights are others, or the audit judged another saliency method than the bundle
        draws with (an audit of other weights or other maps says nothing about these heatmaps)."""
        try:
            bundle = self.bundle(get_task(record.task))
        except MedsightError:  # the task's model is gone or broken: nothing to vouch with
            return None
        from medsight.audit.saliency import failed_checks  # scipy: only when asked

        audit = bundle.metadata.medsight.saliency_audit
        if bundle.sha256 != record.model.sha256 or audit.get("model_sha256") != record.model.sha256:
            return None
        # Audits recorded before the method was a setting judged Grad-CAM, the only method then.
        if SaliencySpec.from_dict(audit.get("saliency") or {}) != bundle.saliency:
            return None
        ran_with = record.model.config_sha256
        if ran_with is not None and ran_with != bundle.config_sha256:
            return None  # the job ran under other settings, perhaps another saliency method
        return {
            "passed": bool(audit.get("passed")),
            "failed": failed_checks(audit),
            "audited_at": audit.get("audited_at"),
            "method": bundle.saliency.method,
        }

    def model_facts(self, record: JobRecord) -> dict[str, Any]:
        """What the API says about a job's model beside its identity (:func:`job_json`)."""
        return {"released": self.released(record.model), "saliency_audit": self.heatmap_audit(record)}

    def bundle(self, task: TaskSpec) -> Bundle:
        """The (verified) bundle that runs ``task``, resolved once per process."""
        with self._lock:
            if task.name not in self._bundles:
                self._bundles[task.name] = resolve_bundle(self.model_for(task))
            return self._bundles[task.name]

    def submit(self, request: AnalysisRequest, principal: Principal) -> tuple[JobRecord, bool]:
        """Queue an analysis for a caller (referrers: only of studies they sent).

        Returns:
            The job, and whether it was queued by this call (False: it existed).

        Raises:
            PermissionDeniedError: a referrer asking about a study it did not send.
            UsageError: an unknown task.
            StoredInstanceNotFoundError: no such study or series in the store.
            NoImagesFoundError: it holds no image (only reports, say).
        """
        self.access.require_study(principal, request.study_instance_uid)
        return self.submit_as(request, principal.actor)

    def submit_as(self, request: AnalysisRequest, actor: str) -> tuple[JobRecord, bool]:
        """Queue an analysis on behalf of ``actor`` (routing rules: the sender), no access check."""
        task = get_task(request.task)
        inputs = self._inputs(request)
        bundle = self.bundle(task)
        model = ModelRef.from_identity(bundle.identity())
        if self.settings.release_policy == "require" and not self.released(model):
            raise UnreleasedModelError(
                f"{bundle.name} {bundle.version} has not been released (medsight models promote);"
                " this service runs released models only (MEDSIGHT_RELEASE_POLICY=require)"
            )
        new = NewJob(
            task=task.name,
            model=model,
            study_instance_uid=request.study_instance_uid,
            series_instance_uid=request.series_instance_uid,
            inputs=inputs,
            requested_by=actor,
        )
        record, queued = self.jobs.enqueue(new, uuid.uuid4().hex, self.clock())
        if queued:
            self.wake.set()
            _log.info("job %s queued: %s, %d instance(s)", record.job_id, task.name, len(inputs))
        return record, queued

    def _inputs(self, request: AnalysisRequest) -> tuple[JobInput, ...]:
        query = InstanceQuery(
            study_instance_uid=request.study_instance_uid, series_instance_uid=request.series_instance_uid
        )
        found = self.store.instances(query)
        if not found:
            raise StoredInstanceNotFoundError("no stored instance in that study or series")
        # Images only: reports (ours included) have no rows, and must not change the key;
        # segmentations (ours included) have rows but are results, not images to analyse.
        images = [item for item in found if item.rows is not None and item.sop_class_uid not in _SEGMENTATIONS]
        if not images:
            raise NoImagesFoundError("the study or series holds no image to analyse")
        if len(images) > _MAX_INPUTS:
            raise ResourceLimitError(f"{len(images)} images, more than the {_MAX_INPUTS} one analysis may take")
        return tuple(JobInput(item.series_instance_uid, item.sop_instance_uid, item.sha256) for item in images)

    def finish(self, job_id: str, owner: str, outcome: JobOutcome, now: datetime) -> bool:
        """Record how ``owner``'s run of a job ended, with the result's triage flags
        (:mod:`medsight.services.triage`); False (nothing written) when it lost the lease."""
        flags = triage(outcome.status, outcome.result)
        flagged = replace(outcome, positive=flags.positive, uncertain=flags.uncertain)
        return self.jobs.finish(job_id, owner, flagged, now)

    def get(self, job_id: str, principal: Principal) -> JobRecord:
        """One job, if ``principal`` may read its study.

        Raises:
            UnknownResourceError: no such job.
            PermissionDeniedError: a referrer asking about a study it did not send.
        """
        record = self.jobs.get(job_id)
        self.access.require_study(principal, record.study_instance_uid)
        return record

    def search(
        self, principal: Principal, study_instance_uid: str | None, *, limit: int = 100, offset: int = 0
    ) -> list[JobRecord]:
        """Jobs newest first: of one study, or all a caller may read (referrers: studies they sent)."""
        if study_instance_uid is not None:
            self.access.require_study(principal, study_instance_uid)
            return self.jobs.search(study_instance_uids=[study_instance_uid], limit=limit, offset=offset)
        if principal.own_studies_only:
            studies = self.access.accounts.studies_submitted_by(principal.actor)
            return self.jobs.search(study_instance_uids=studies, limit=limit, offset=offset)
        return self.jobs.search(limit=limit, offset=offset)

    def heatmap_path(self, job_id: str, kind: HeatmapKind = HeatmapKind.BLENDED) -> Path:
        """Where a job's heatmap PNG of ``kind`` is kept (the folder is made, owner only)."""
        folder = Path(self.settings.data_dir) / HEATMAP_FOLDER
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder / f"{job_id}{_SUFFIXES[kind]}"

    def keep_heatmap(self, job_id: str, kind: HeatmapKind, png: bytes) -> str:
        """Keep a job's heatmap PNG, sealed like the stored objects; return its sha256."""
        path = self.heatmap_path(job_id, kind)
        write_file(path, png, path.name, self.store.blobs.keys)
        return sha256_hex(png)

    def heatmap(self, job_id: str, principal: Principal, kind: HeatmapKind = HeatmapKind.BLENDED) -> bytes:
        """A finished job's heatmap PNG of ``kind``, checked against the sha256 recorded with it.

        Raises:
            UnknownResourceError: no such job, or it has no heatmap of that kind (not done,
                refused, or, for the heat alone, finished before it was kept).
            IntegrityError: the file is missing or altered.
        """
        record = self.get(job_id, principal)
        expected = _recorded_sha256(record, kind)
        if expected is None:
            what = "heatmap" if kind is HeatmapKind.BLENDED else "heat-only heatmap"
            raise UnknownResourceError(f"this analysis has no {what} (not finished, or not scored)")
        path = self.heatmap_path(job_id, kind)
        try:
            data = read_file(path, path.name, self.store.blobs.keys)
        except OSError as exc:
            raise IntegrityError("the heatmap of this analysis is missing") from exc
        if sha256_hex(data) != expected:
            raise IntegrityError("the heatmap of this analysis does not match its recorded sha256")
        return data


def _recorded_sha256(record: JobRecord, kind: HeatmapKind) -> str | None:
    """The blended preview's sha256 is a column; the heat alone's is kept in the result."""
    if kind is HeatmapKind.BLENDED:
        return record.heatmap_sha256
    heat = (record.result or {}).get(HEAT_KEY)
    sha = heat.get("sha256") if isinstance(heat, dict) else None
    return sha if isinstance(sha, str) else None


def job_json(record: JobRecord, *, model_facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API's JSON form of a job: its state, its model, its result or error, and links.

    ``model_facts`` (:meth:`JobService.model_facts`) join the model's identity: whether it
    was released through the gate, and its heatmaps' recorded saliency audit (None: none).
    """
    link = f"{ANALYSES_PATH}/{record.job_id}"
    finished = record.status in FINISHED
    model: dict[str, Any] = {
        "name": record.model.name,
        "version": record.model.version,
        "sha256": record.model.sha256,
        **({"input_gate": {"sha256": record.model.input_gate_sha256}} if record.model.input_gate_sha256 else {}),
        **({"config_sha256": record.model.config_sha256} if record.model.config_sha256 else {}),
        **(model_facts or {}),
    }
    return {
        "id": record.job_id,
        "status": record.status.value,
        "task": record.task,
        "study_uid": record.study_instance_uid,
        "series_uid": record.series_instance_uid,
        "model": model,
        "instances": len(record.inputs),
        "requested_by": record.requested_by,
        "attempts": record.attempts,
        "created_at": record.created_at.isoformat(),
        "started_at": record.started_at.isoformat() if record.started_at else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "result": record.result,
        "error": {"code": record.error_code, "message": record.error_message} if record.error_code else None,
        "report": (
            {"series_uid": record.sr_series_instance_uid, "sop_instance_uid": record.sr_sop_instance_uid}
            if record.sr_sop_instance_uid
            else None
        ),
        "links": {
            "self": link,
            "heatmap": f"{link}/heatmap" if record.heatmap_sha256 else None,
            "heat": f"{link}/heatmap?kind=heat" if _recorded_sha256(record, HeatmapKind.HEAT) else None,
            "fhir": f"/fhir/DiagnosticReport/{record.job_id}" if finished else None,
        },
    }
