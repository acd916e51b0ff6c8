"""Use case: run one analysis job on stored images, keep its heatmap, file its report.

The job's inputs are the stored objects pinned at submission (by sha256, checked on
read). They are planned and decoded by :mod:`medsight.io` from memory, analysed by the
task's model through the same :class:`~medsight.inference.Analyzer` as ``medsight
analyze`` (same refusals, same JSON keys), and then:

* every image gets a record with the ``analyze`` keys, its ``path`` being the instance's
  WADO-RS path;
* the job's headline is the scored image with the highest probability (a finding in
  any view is a finding); a job whose images were all refused is ``refused``;
* the headline's Grad-CAM heatmap is kept as a PNG beside the database
  (``<data-dir>/analyses/<job>.png``, its sha256 in the job);
* a DICOM SR (TID 1500, :mod:`medsight.io.dicom.sr`) is stored into the study as a new
  series through :meth:`Store.ingest`. Its UIDs derive from the job id, so a job run
  twice (a crash after the report, before the result) replaces its report, never adds one.

A :class:`JobRunner` belongs to one worker thread and keeps each model it loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from medsight.errors import ModelError, NoImagesFoundError
from medsight.imaging import Image
from medsight.inference import Analysis, Analyzer
from medsight.io.dicom.sr import CodeItem, SrFinding, SrRequest, build_measurement_report, derived_uid
from medsight.io.dicom.stored import scan_objects
from medsight.services.analyze import write_heatmap
from medsight.services.findings import Coded, finding_code, procedure_code
from medsight.services.jobs import ANALYSES_PATH, JobService
from medsight.services.models import load_model
from medsight.services.workers import WorkerPool
from medsight.settings import ReadLimits
from medsight.store.blobs import sha256_hex
from medsight.store.jobs import JobInput, JobOutcome, JobRecord, JobStatus
from medsight.tasks import get_task

__all__ = ["JobRunner", "start_workers"]

_LABEL = 16  # hash characters that label an object in messages


@dataclass(frozen=True)
class _Scored:
    image: Image
    analysis: Analysis
    item: JobInput


def _wado_path(study: str, item: JobInput) -> str:
    return f"/dicomweb/studies/{study}/series/{item.series_instance_uid}/instances/{item.sop_instance_uid}"


def _code(coded: Coded) -> CodeItem:
    return CodeItem(coded.code, coded.scheme, coded.meaning)


class JobRunner:
    """Runs jobs for one worker, with the models it has loaded so far.

    Args:
        service: the job service (store, model choice, heatmap folder).
        limits: read limits for decoding.
        backend: predictor backend (``auto``: ONNX Runtime where the bundle ships it).
    """

    def __init__(self, service: JobService, limits: ReadLimits | None = None, backend: str = "auto") -> None:
        self.service = service
        self.limits = limits or ReadLimits()
        self.backend = backend
        self._analyzers: dict[tuple[str, str], Analyzer] = {}

    def analyzer(self, job: JobRecord) -> Analyzer:
        """The analyzer for the job's task and model (loaded once per runner).

        Raises:
            ModelError: the task's model is no longer the one the job was submitted for.
        """
        key = (job.task, job.model.sha256)
        if key not in self._analyzers:
            task = get_task(job.task)
            model = load_model(task, self.service.bundle(task).path, resolution=None, backend=self.backend)
            if model.bundle.sha256 != job.model.sha256:
                raise ModelError("the task's model changed since this job was submitted; submit it again")
            self._analyzers[key] = Analyzer(model, saliency=True)
        return self._analyzers[key]

    def run(self, job: JobRecord, heartbeat: Callable[[], bool]) -> JobOutcome:
        """Analyse the job's images and file its results.

        Raises:
            MedsightError: a stored object is missing or altered, nothing decodes, or a
                result cannot be written; the worker records it as the job's failure.
        """
        analyzer = self.analyzer(job)
        by_label = {item.sha256[:_LABEL]: item for item in job.inputs}
        objects = [(label, self.service.store.blobs.get(item.sha256)) for label, item in by_label.items()]
        images, failures = scan_objects(objects, self.limits).load(self.limits)
        if not images:
            if failures:
                return JobOutcome(JobStatus.FAILED, error_code=failures[0].code, error_message=failures[0].message)
            raise NoImagesFoundError("none of the stored objects is an image")
        analyses = analyzer.analyze_many(images)
        heartbeat()
        records, scored = self._records(job, images, analyses, by_label)
        for failure in failures:
            item = by_label.get(failure.label)
            path = _wado_path(job.study_instance_uid, item) if item is not None else None
            records.append({"path": path, "error": {"code": failure.code, "message": failure.message}})
        base = {
            "task": job.task,
            "model": analyzer.model.bundle.identity(),
            "threshold": round(analyzer.model.threshold, 6),
        }
        if not scored:
            first = next(r for r in records if "refused" in r or "error" in r)
            refused = first.get("refused") or {"code": first["error"]["code"], "check": "read", "reason": "unreadable"}
            result = {**base, "path": first.get("path"), "refused": refused, "images": records}
            return JobOutcome(JobStatus.REFUSED, result=result)
        return self._done(job, analyzer, max(scored, key=lambda s: s.analysis.probability or 0.0), base, records)

    def _done(
        self, job: JobRecord, analyzer: Analyzer, head: _Scored, base: dict[str, Any], records: list[dict[str, Any]]
    ) -> JobOutcome:
        heatmap_sha = self._heatmap(job, head.analysis)
        sr_series, sr_sop = self._report(job, head, analyzer)
        headline = {k: v for k, v in head.analysis.to_dict().items() if k not in base}
        result = {
            **base,
            **headline,
            "path": _wado_path(job.study_instance_uid, head.item),
            "heatmap": f"{ANALYSES_PATH}/{job.job_id}/heatmap" if heatmap_sha else None,
            "images": records,
        }
        return JobOutcome(
            JobStatus.DONE,
            result=result,
            heatmap_sha256=heatmap_sha,
            sr_series_instance_uid=sr_series,
            sr_sop_instance_uid=sr_sop,
        )

    def _records(
        self, job: JobRecord, images: list[Image], analyses: list[Analysis], by_label: dict[str, JobInput]
    ) -> tuple[list[dict[str, Any]], list[_Scored]]:
        by_uid = {item.sop_instance_uid: item for item in by_label.values()}
        records: list[dict[str, Any]] = []
        scored: list[_Scored] = []
        for image, analysis in zip(images, analyses, strict=True):
            uids = image.source.sop_instance_uids
            item = by_uid.get(uids[0]) if uids else None
            path = _wado_path(job.study_instance_uid, item) if item is not None else None
            records.append({"path": path, **analysis.to_dict()})
            if analysis.probability is not None and item is not None:
                scored.append(_Scored(image, analysis, item))
        return records, scored

    def _heatmap(self, job: JobRecord, analysis: Analysis) -> str | None:
        if analysis.saliency is None or analysis.prepared is None:
            return None
        path = write_heatmap(analysis, self.service.heatmap_path(job.job_id))
        return sha256_hex(path.read_bytes())

    def _report(self, job: JobRecord, head: _Scored, analyzer: Analyzer) -> tuple[str, str]:
        analysis = head.analysis
        assert analysis.probability is not None
        assert analysis.uncertainty is not None
        model = analyzer.model
        request = SrRequest(
            source=self.service.store.blobs.get(head.item.sha256),
            finding=SrFinding(
                finding=_code(finding_code(job.task)),
                present=analysis.label == model.task.positive_class,
                probability=analysis.probability,
                threshold=analysis.threshold,
                margin=analysis.uncertainty.margin,
                coverage=analysis.uncertainty.coverage,
                ambiguous=analysis.uncertainty.ambiguous,
            ),
            procedure=_code(procedure_code(job.task)),
            model_name=model.bundle.name,
            model_version=model.bundle.version,
            model_sha256=model.bundle.sha256,
            task=job.task,
            series_instance_uid=derived_uid(f"medsight-sr-series:{job.job_id}"),
            sop_instance_uid=derived_uid(f"medsight-sr:{job.job_id}"),
            tracking_id=job.job_id,
        )
        stored = self.service.store.ingest(build_measurement_report(request))
        return stored.series_instance_uid, stored.sop_instance_uid


def start_workers(service: JobService, *, workers: int, lease_s: float) -> WorkerPool:
    """Start ``workers`` threads running jobs with a :class:`JobRunner` each."""
    return WorkerPool(service, lambda: JobRunner(service), workers=workers, lease_s=lease_s).start()
