"""Use case: train a task's model on a labelled dataset and write its bundle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medsight.data import load_dataset
from medsight.models.bundle import Bundle, load_bundle
from medsight.plots import reliability_plot_png, roc_plot_png
from medsight.settings import ReadLimits
from medsight.tasks import get_task
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


def train(request: TrainRequest, progress: FitProgress | None = None, limits: ReadLimits | None = None) -> Bundle:
    """Train, calibrate and write the bundle; return it, loaded back and verified.

    Raises:
        InvalidDatasetError: the data lacks train or val cases, or a case cannot be read.
        OutputError: the bundle cannot be written.
    """
    task = get_task(request.task)
    data = load_dataset(request.data, task.label_of, limits)
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
    provenance: dict[str, Any] = {**data.provenance, "path_name": request.data.name}
    write_bundle(request.out, BundleSource(task, result, request.options, provenance, request.command, plots))
    return load_bundle(request.out)
