"""Use case: ``medsight analyze`` for an MRI volume task: segment each volume, measure its labels.

Every input (a NIfTI file, a DICOM series, each series or NIfTI file of a folder or zip)
becomes one record: ``path``, ``task``, ``model``, then ``refused``, or ``found`` (any
labelled voxel), ``labels``, ``shape``, ``spacing_mm``, ``spacing_known``, ``volumes_ml``
(by label name), ``measurements`` (per label: presence, volume, largest in-plane
diameter, slice span) and ``confidence``. A volume the distribution check refuses keeps
no labels.

Writers hook in through ``on_result``: it receives each record with its
:class:`~medsight.inference.volume_segmentation.VolumeSegmentation` (the
:class:`~medsight.imaging.labels.LabelVolume` on the source grid, with the source image's
geometry and DICOM references) and may add keys to the record (paths of the files it
wrote) before the record is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from medsight.errors import UsageError
from medsight.inference.volume_segmentation import LoadedVolumeSegmenter, VolumeSegmentation, segment_volume
from medsight.models.bundle import resolve_bundle
from medsight.services.analyze import AnalyzeOptions, AnalyzeReport, ScannedInputs
from medsight.services.models import shipped_for
from medsight.tasks import get_task
from medsight.tasks.volume import parse_tta

__all__ = ["OnResult", "load_volume_model", "segment_volumes_path"]

#: Called with ``(record, result)`` for each segmented volume; may add keys to ``record``.
OnResult = Callable[[dict[str, Any], VolumeSegmentation], None]


def load_volume_model(task_name: str, model: str | None, tta: str | None = None) -> LoadedVolumeSegmenter:
    """The named bundle, or the task's shipped one, checked to be for ``task_name``, with
    ``tta`` (``none``, ``flip``; None: the model's default).

    Raises:
        ModelNotFoundError: no such model. UsageError: the model is for another task, or
            ``tta`` is not a mode.
        WeightsMismatchError: its weights do not match their recorded sha256.
    """
    task = get_task(task_name)
    bundle = resolve_bundle(model, default=shipped_for(task, None))
    if bundle.metadata.medsight.task != task.name:
        raise UsageError(f"model {bundle.name} is for task {bundle.metadata.medsight.task}, not {task.name}")
    return LoadedVolumeSegmenter.load(bundle, tta=parse_tta(tta))


def segment_volumes_path(
    path: Path,
    options: AnalyzeOptions,
    *,
    on_start: Callable[[int], None] = lambda total: None,
    on_record: Callable[[dict[str, Any]], None] = lambda record: None,
    on_result: OnResult | None = None,
    model: LoadedVolumeSegmenter | None = None,
) -> AnalyzeReport:
    """Segment and measure every volume under ``path`` (the module docstring).

    Raises:
        UsageError: ``--heatmap`` was given (volume tasks draw no heatmap).
        InputError: ``path`` is a single file that cannot be read.
    """
    if options.heatmap is not None:
        raise UsageError(f"{options.task} draws no heatmap; its labels are the output")
    model = model or load_volume_model(options.task, options.model, options.tta)
    inputs = ScannedInputs.of(path, options.limits)
    records: list[dict[str, Any]] = []
    on_start(inputs.total)
    for loaded in inputs.load_in_chunks(options.limits, records, on_record):
        for label, image in loaded:
            result = segment_volume(model, image)
            record = {"path": label, **result.to_dict()}
            if result.labels is not None:
                record["found"] = bool(result.labels.labels.any())
                if on_result is not None:
                    on_result(record, result)
            records.append(record)
            on_record(record)
    return AnalyzeReport(records=records, model=model.bundle.identity())
