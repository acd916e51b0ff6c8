"""Use case: train a task's model on a labelled dataset and write its bundle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medsight.data import load_dataset
from medsight.models.bundle import Bundle, load_bundle
from medsight.plots import reliability_plot_png, roc_plot_png
from medsight.settings import ReadLimits
from medsight.tasks import TaskSpec, get_task
from medsight.tasks.registry import TaskKind
from medsight.training import FitOptions, FitProgress, fit_classifier
from medsight.training.export import BundleSource, write_bundle

__all__ = ["TrainRequest", "train"]


@dataclass(frozen=True)
class TrainRequest:
    """What ``medsight train`` was asked (``options`` carries resolution, epochs, seed...)."""

    task: str
    data: Path
    out: Path
    options: FitOptions
    command: str = ""
    #: Train only on these cases (dataset keys): what consent still allows
    #: (:func:`medsight.services.training_data.train_consented`); None uses every case.
    keep: frozenset[str] | None = None
    #: More provenance for the model card (the consent check of a governed dataset).
    extra_provenance: Mapping[str, Any] = field(default_factory=dict)


def train(request: TrainRequest, progress: FitProgress | None = None, limits: ReadLimits | None = None) -> Bundle:
    """Train, calibrate and write the bundle; return it, loaded back and verified.

    Raises:
        InvalidDatasetError: the data lacks train or val cases, or a case cannot be read.
        OutputError: the bundle cannot be written.
    """
    task = get_task(request.task)
    if task.kind is TaskKind.SEGMENTATION:
        return _train_segmenter(task, request, progress or FitProgress(), limits)
    if task.kind is TaskKind.VOLUME_SEGMENTATION:
        return _train_volume_segmenter(task, request, progress or FitProgress(), limits)
    data = load_dataset(request.data, task.label_of, limits, relabel=task.class_of_stored)
    if request.keep is not None:
        data = data.subset(sorted(request.keep))
    result = fit_classifier(task, data, request.options, progress or FitProgress())
    name = request.options.name or f"{task.name}-{request.options.resolution}"
    auc_ci = result.val_metrics.get("auc_ci")
    plots = {
        "roc_val.png": roc_plot_png(
            result.val_labels,
            result.val_probabilities,
            title=f"ROC: {name}, validation",
            threshold=result.threshold,
            auc_ci=(auc_ci[0], auc_ci[1]) if auc_ci else None,
        ),
        "reliability_val.png": reliability_plot_png(
            result.val_labels,
            result.val_probabilities,
            title=f"Reliability: {name}, validation",
            ece=result.val_metrics.get("ece"),
        ),
    }
    provenance: dict[str, Any] = {**data.provenance, "path_name": request.data.name, **request.extra_provenance}
    write_bundle(request.out, BundleSource(task, result, request.options, provenance, request.command, plots))
    return load_bundle(request.out)


def _train_segmenter(task: TaskSpec, request: TrainRequest, progress: FitProgress, limits: ReadLimits | None) -> Bundle:
    """The segmentation path: an HC18-layout folder, a U-Net, a measured bundle."""
    from medsight.data.hc18 import load_hc18
    from medsight.training.export_segment import SegmentationSource, write_segmentation_bundle
    from medsight.training.segment import SegmentOptions, fit_segmenter

    fit = request.options
    options = SegmentOptions(
        resolution=fit.resolution,
        train=fit.train,
        ood_quantile=fit.ood_quantile,
        ood_folds=fit.ood_folds,
        name=fit.name,
        version=fit.version,
        threads=fit.threads,
    )
    data = load_hc18(request.data, limits)
    result = fit_segmenter(task, data, options, progress)
    progress.on_stage("validate", 1)
    write_segmentation_bundle(request.out, SegmentationSource(task, result, options, data, request.command))
    return load_bundle(request.out)


def _train_volume_segmenter(
    task: TaskSpec, request: TrainRequest, progress: FitProgress, limits: ReadLimits | None
) -> Bundle:
    """The MRI path: an LGG or MSD hippocampus folder, a 2.5-D or 3-D U-Net, a scored bundle."""
    from medsight.data.volumes import load_volumes
    from medsight.training.export_volume import VolumeSource, write_volume_bundle
    from medsight.training.segment_volume import VolumeOptions, fit_volume_segmenter

    fit = request.options
    options = VolumeOptions(
        train=fit.train,
        ood_quantile=fit.ood_quantile,
        ood_folds=fit.ood_folds,
        bootstrap=fit.bootstrap,
        name=fit.name,
        version=fit.version,
        threads=fit.threads,
        members=fit.members,
    )
    data = load_volumes(request.data, limits)
    result = fit_volume_segmenter(task, data, options, progress)
    progress.on_stage("validate", 1)
    write_volume_bundle(request.out, VolumeSource(task, result, options, data, request.command))
    return load_bundle(request.out)
