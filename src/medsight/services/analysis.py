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

from medsight.errors import MedsightError, ModelError, NoImagesFoundError, StoredObjectCorruptError
from medsight.imaging import Image
from medsight.inference import Analysis, Analyzer
from medsight.inference.analyzer import MemberAgreement
from medsight.io.dicom.sr import CodeItem, SrFinding, SrRequest, build_measurement_report, derived_uid
from medsight.io.dicom.stored import StoredObject, scan_objects
from medsight.io.reader import ReadFailure
from medsight.services.analyze import heatmap_pngs
from medsight.services.findings import Coded, finding_code, procedure_code
from medsight.services.jobs import ANALYSES_PATH, HEAT_KEY, HeatmapKind, JobService
from medsight.services.models import load_model
from medsight.services.volume_jobs import VolumeJobRunner
from medsight.services.workers import WorkerPool
from medsight.settings import ReadLimits
from medsight.store.jobs import JobInput, JobOutcome, JobRecord, JobStatus
from medsight.tasks import get_task
from medsight.tasks.registry import TaskKind

__all__ = ["JobRunner", "start_workers"]

_LABEL = 16  # hash characters that label an object in messages
_CHUNK = 8  # images decoded and held at once (as medsight analyze does)


@dataclass(frozen=True)
class _Scored:
    image: Image
    analysis: Analysis
    item: JobInput


def _wado_path(study: str, item: JobInput) -> str:
    return f"/dicomweb/studies/{study}/series/{item.series_instance_uid}/instances/{item.sop_instance_uid}"


def _members(agreement: MemberAgreement | None) -> tuple[int, int] | None:
    """An ensemble's member count and how many are over the threshold, for the SR."""
    return None if agreement is None else (len(agreement.probabilities), agreement.positive)


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
        self._analyzers: dict[tuple[str, str], tuple[Analyzer, Analyzer]] = {}
        # Volume segmentation tasks file a SEG and an SR per volume instead (volume_jobs).
        self.volumes = VolumeJobRunner(service, self.limits)

    def analyzers(self, job: JobRecord) -> tuple[Analyzer, Analyzer]:
        """Two analyzers on the job's model (loaded once per runner): scoring, and with Grad-CAM.

        Every image is scored; only the headline gets a heatmap, so a study of several
        views pays for one Grad-CAM, not one per view.

        Raises:
            ModelError: the task's model is no longer the one the job was submitted for.
        """
        key = (job.task, job.model.sha256)
        if key not in self._analyzers:
            task = get_task(job.task)
            model = load_model(task, self.service.bundle(task).path, resolution=None, backend=self.backend)
            if model.bundle.sha256 != job.model.sha256:
                raise ModelError("the task's model changed since this job was submitted; submit it again")
            self._analyzers[key] = (Analyzer(model), Analyzer(model, saliency=True))
        return self._analyzers[key]

    def run(self, job: JobRecord, heartbeat: Callable[[], bool]) -> JobOutcome:
        """Analyse the job's images and file its results.

        Raises:
            MedsightError: a stored object is missing or altered, nothing decodes, or a
                result cannot be written; the worker records it as the job's failure.
        """
        if get_task(job.task).kind is TaskKind.VOLUME_SEGMENTATION:
            return self.volumes.run(job, heartbeat)
        analyzer, explainer = self.analyzers(job)
        by_label = {item.sha256[:_LABEL]: item for item in job.inputs}
        records, failures, head = self._analyse(job, analyzer, by_label, heartbeat)
        if not records:
            if failures:
                return JobOutcome(JobStatus.FAILED, error_code=failures[0].code, error_message=failures[0].message)
            raise NoImagesFoundError("none of the stored objects is an image")
        for failure in failures:
            item = by_label.get(failure.label)
            path = _wado_path(job.study_instance_uid, item) if item is not None else None
            records.append({"path": path, "error": {"code": failure.code, "message": failure.message}})
        base = {
            "task": job.task,
            "model": analyzer.model.bundle.identity(),
            "threshold": round(analyzer.model.threshold, 6),
        }
        if head is None:
            first = next(r for r in records if "refused" in r or "error" in r)
            refused = first.get("refused") or {"code": first["error"]["code"], "check": "read", "reason": "unreadable"}
            result = {**base, "path": first.get("path"), "refused": refused, "images": records}
            return JobOutcome(JobStatus.REFUSED, result=result)
        explained = explainer.analyze(head.image)  # the same model: the same score, plus its saliency
        return self._done(job, analyzer, _Scored(head.image, explained, head.item), base, records)

    def _done(
        self, job: JobRecord, analyzer: Analyzer, head: _Scored, base: dict[str, Any], records: list[dict[str, Any]]
    ) -> JobOutcome:
        shas = self._heatmap(job, head.analysis)
        heatmap_sha = shas[0] if shas else None
        link = f"{ANALYSES_PATH}/{job.job_id}/heatmap"
        sr_series, sr_sop = self._report(job, head, analyzer)
        headline = {k: v for k, v in head.analysis.to_dict().items() if k not in base}
        result = {
            **base,
            **headline,
            "path": _wado_path(job.study_instance_uid, head.item),
            "heatmap": link if shas else None,
            HEAT_KEY: {"href": f"{link}?kind={HeatmapKind.HEAT.value}", "sha256": shas[1]} if shas else None,
            "images": records,
        }
        return JobOutcome(
            JobStatus.DONE,
            result=result,
            heatmap_sha256=heatmap_sha,
            sr_series_instance_uid=sr_series,
            sr_sop_instance_uid=sr_sop,
        )

    def _analyse(
        self, job: JobRecord, analyzer: Analyzer, by_label: dict[str, JobInput], heartbeat: Callable[[], bool]
    ) -> tuple[list[dict[str, Any]], list[ReadFailure], _Scored | None]:
        """Score every image, a few decoded at a time; the records, the failures, the headline."""
        scan = scan_objects([self._stored(label, item) for label, item in by_label.items()], self.limits)
        records: list[dict[str, Any]] = []
        failures = list(scan.failures)
        head: _Scored | None = None
        for start in range(0, len(scan.planned), _CHUNK):
            images = []
            for plan in scan.planned[start : start + _CHUNK]:
                try:
                    images.append(plan.load(self.limits))
                except MedsightError as error:
                    failures.append(ReadFailure.of(plan.label, error))
            chunk_records, scored = self._records(job, images, analyzer.analyze_many(images), by_label)
            records += chunk_records
            for candidate in scored:
                if head is None or (candidate.analysis.probability or 0.0) > (head.analysis.probability or 0.0):
                    head = candidate
            heartbeat()
        return records, failures, head

    def _stored(self, label: str, item: JobInput) -> StoredObject:
        blobs = self.service.store.blobs
        try:
            size = blobs.path(item.sha256).stat().st_size
        except OSError as exc:
            raise StoredObjectCorruptError(f"stored object {label} is missing") from exc
        return StoredObject(label, size, lambda: blobs.get(item.sha256))

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

    def _heatmap(self, job: JobRecord, analysis: Analysis) -> tuple[str, str] | None:
        """Write the blended preview and the heat alone (one saliency); their sha256s."""
        if analysis.saliency is None or analysis.prepared is None:
            return None
        blended, heat = heatmap_pngs(analysis)
        return (
            self.service.keep_heatmap(job.job_id, HeatmapKind.BLENDED, blended),
            self.service.keep_heatmap(job.job_id, HeatmapKind.HEAT, heat),
        )

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
                members=_members(analysis.uncertainty.members),
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
