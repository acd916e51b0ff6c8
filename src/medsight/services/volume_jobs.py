"""Use case: run one volume segmentation job on stored images, and file its SEG and SR into the study.

A job of a ``volume-segmentation`` task pins a study's (or one series') images like any
job (:mod:`medsight.services.jobs`). Its runner

1. plans the pinned objects into volumes (:func:`~medsight.io.dicom.stored.scan_objects`:
   one per series, the same planning as ``medsight analyze``), decoding one at a time;
2. segments each volume with the task's model (refusals are results, as everywhere);
3. for each segmented volume, builds the DICOM Segmentation and the TID 1500 report of
   its volumes (:func:`~medsight.services.label_outputs.build_label_objects`) and stores
   both into the study through :meth:`Store.ingest`, the path every STOW-RS object
   takes, so QIDO-RS finds them, WADO-RS serves them, and the viewer draws the SEG over
   the series it references. UIDs derive from the job id and the volume's place in the
   job, so a job run twice replaces its objects, never adds a second set.

The job's result has the ``analyze`` record of each volume under ``images`` (with the
``segmentation`` and ``report`` UIDs it filed), and the headline, the first volume with
a SEG filed (else the first segmented), at the top: its record, ``path`` (its first
instance's WADO-RS path), and ``segmentation``. The headline's SR is the job's report
(``sr_*`` of the outcome). A series whose missing slices were filled in is measured but
gets no SEG or SR (``segmentation`` None and a ``note``): they must not reference
invented slices.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from medsight.errors import MedsightError, ModelError, NoImagesFoundError, StoredObjectCorruptError
from medsight.imaging import Image
from medsight.inference.volume_segmentation import VolumeSegmentation
from medsight.io.dicom.stored import StoredObject, scan_objects
from medsight.io.reader import ReadFailure
from medsight.services.jobs import JobService
from medsight.services.label_outputs import NO_DICOM_SOURCE, build_label_objects
from medsight.settings import ReadLimits
from medsight.store.jobs import JobInput, JobOutcome, JobRecord, JobStatus

__all__ = ["Segmenter", "VolumeJobRunner"]

_LABEL = 16  # hash characters that label an object in messages


@dataclass(frozen=True)
class Segmenter:
    """A loaded model: how to segment one volume, and the model's identity."""

    segment: Callable[[Image], VolumeSegmentation]
    identity: Mapping[str, str]


def _wado_path(study: str, item: JobInput) -> str:
    return f"/dicomweb/studies/{study}/series/{item.series_instance_uid}/instances/{item.sop_instance_uid}"


def load_segmenter(service: JobService, job: JobRecord, backend: str = "auto") -> Segmenter:
    """The task's volume segmentation model (torch: sliding windows need it)."""
    from medsight.inference.volume_segmentation import LoadedVolumeSegmenter, segment_volume
    from medsight.tasks import get_task

    model = LoadedVolumeSegmenter.load(service.bundle(get_task(job.task)))
    return Segmenter(lambda image: segment_volume(model, image), model.bundle.identity())


class VolumeJobRunner:
    """Runs volume segmentation jobs for one worker, keeping each model it loaded.

    Args:
        service: the job service (store, model choice).
        limits: read limits for decoding.
        loader: loads a job's model (tests pass a fake one).
    """

    def __init__(
        self,
        service: JobService,
        limits: ReadLimits | None = None,
        loader: Callable[[JobService, JobRecord], Segmenter] = load_segmenter,
    ) -> None:
        self.service = service
        self.limits = limits or ReadLimits()
        self.loader = loader
        self._models: dict[tuple[str, str], Segmenter] = {}

    def segmenter(self, job: JobRecord) -> Segmenter:
        """The job's model, loaded once per runner.

        Raises:
            ModelError: the task's model is no longer the one the job was submitted for.
        """
        key = (job.task, job.model.sha256)
        if key not in self._models:
            loaded = self.loader(self.service, job)
            if loaded.identity.get("sha256") != job.model.sha256:
                raise ModelError("the task's model changed since this job was submitted; submit it again")
            self._models[key] = loaded
        return self._models[key]

    def run(self, job: JobRecord, heartbeat: Callable[[], bool]) -> JobOutcome:
        """Segment the job's volumes, file a SEG and an SR for each, and say how it went.

        Raises:
            MedsightError: nothing decodes, or an object cannot be built or stored; the
                worker records it as the job's failure.
        """
        model = self.segmenter(job)
        by_label = {item.sha256[:_LABEL]: item for item in job.inputs}
        by_uid = {item.sop_instance_uid: item for item in job.inputs}
        scan = scan_objects([self._stored(label, item) for label, item in by_label.items()], self.limits)
        failures = list(scan.failures)
        records: list[dict[str, Any]] = []
        segmented: list[dict[str, Any]] = []
        for index, plan in enumerate(scan.planned):
            try:
                image = plan.load(self.limits)
            except MedsightError as error:
                failures.append(ReadFailure.of(plan.label, error))
                continue
            segmentation = model.segment(image)
            record = self._volume(job, index, image, segmentation, by_uid)
            records.append(record)
            if segmentation.labels is not None:
                segmented.append(record)
            heartbeat()
        # The headline: the first volume with a SEG filed, else the first segmented at all.
        head = next((r for r in segmented if r.get("segmentation")), segmented[0] if segmented else None)
        for failure in failures:
            item = by_label.get(failure.label)
            path = _wado_path(job.study_instance_uid, item) if item is not None else None
            records.append({"path": path, "error": {"code": failure.code, "message": failure.message}})
        base = {"task": job.task, "model": dict(model.identity)}
        if head is not None:
            report = head.get("report") or {}
            result = {**head, **base, "images": records}
            return JobOutcome(
                JobStatus.DONE,
                result=result,
                sr_series_instance_uid=report.get("series_uid"),
                sr_sop_instance_uid=report.get("sop_instance_uid"),
            )
        refused = next((r for r in records if "refused" in r), None)
        if refused is not None:
            return JobOutcome(JobStatus.REFUSED, result={**refused, **base, "images": records})
        if failures:
            return JobOutcome(JobStatus.FAILED, error_code=failures[0].code, error_message=failures[0].message)
        raise NoImagesFoundError("none of the stored objects is an image")

    def _volume(
        self, job: JobRecord, index: int, image: Image, result: VolumeSegmentation, by_uid: Mapping[str, JobInput]
    ) -> dict[str, Any]:
        uids = image.source.sop_instance_uids
        item = by_uid.get(uids[0]) if uids else None
        record: dict[str, Any] = {
            "path": _wado_path(job.study_instance_uid, item) if item else None,
            **result.to_dict(),
        }
        if result.labels is None:
            return record
        objects = build_label_objects(result, seed=f"{job.job_id}:{index}", tracking_id=job.job_id)
        if objects is None:  # a series with invented slices: measured, but no SEG may point at it
            record["segmentation"] = record["report"] = None
            record["note"] = NO_DICOM_SOURCE
            return record
        seg = self.service.store.ingest(objects.seg)
        sr = self.service.store.ingest(objects.sr)
        record["segmentation"] = {"series_uid": seg.series_instance_uid, "sop_instance_uid": seg.sop_instance_uid}
        record["report"] = {"series_uid": sr.series_instance_uid, "sop_instance_uid": sr.sop_instance_uid}
        return record

    def _stored(self, label: str, item: JobInput) -> StoredObject:
        blobs = self.service.store.blobs
        try:
            size = blobs.path(item.sha256).stat().st_size
        except OSError as exc:
            raise StoredObjectCorruptError(f"stored object {label} is missing") from exc
        return StoredObject(label, size, lambda: blobs.get(item.sha256))
