"""What the segmentation exporters write alike (:mod:`.export_segment`, :mod:`.export_volume`).

The fetal head's and the MRI volumes' bundles differ in their weights, metadata sections
and card bodies; their training record, ``ood`` summary, metadata envelope and the last
step (validation figures into the metadata, the card written) are the same, and are
here; the cards' shared lines are in :mod:`.model_card`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from medsight import __version__
from medsight.models.bundle import BundleMetadata, MedsightSection, write_metadata
from medsight.tasks import TaskSpec
from medsight.training.loop import TrainOptions

__all__ = [
    "Fitted",
    "bundle_metadata",
    "finish_bundle",
    "ood_summary",
    "training_record",
]


class Fitted(Protocol):
    """What a fitted segmenter tells the training record."""

    @property
    def best_epoch(self) -> int: ...
    @property
    def stopped_early(self) -> bool: ...
    @property
    def seconds(self) -> float: ...
    @property
    def split_sizes(self) -> dict[str, int]: ...
    @property
    def history(self) -> list[dict[str, float]]: ...
    @property
    def ood_val_false_refusal(self) -> float: ...


class _Data(Protocol):
    @property
    def provenance(self) -> dict[str, Any]: ...
    @property
    def root(self) -> Path: ...


class _Ood(Protocol):
    @property
    def quantile(self) -> float: ...


def training_record(
    command: str,
    train: TrainOptions,
    fit: Fitted,
    data: _Data,
    versions: dict[str, Any],
    inputs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The bundle's ``training`` section (``inputs``, where given, after the split sizes)."""
    record: dict[str, Any] = {
        "command": command,
        "seed": train.seed,
        "epochs_max": train.epochs,
        "best_epoch": fit.best_epoch,
        "stopped_early": fit.stopped_early,
        "batch_size": train.batch_size,
        "lr": train.lr,
        "seconds": round(fit.seconds, 1),
        "data": {**data.provenance, "path_name": data.root.name},
        "split_sizes": fit.split_sizes,
    }
    if inputs is not None:
        record["inputs"] = inputs
    record["history"] = fit.history
    record["platform"] = versions
    return record


def ood_summary(ood: _Ood, fit: Fitted, method: str, folds: int = 2) -> dict[str, Any]:
    """The bundle's ``ood`` section: quantile, cross-fitting folds (left out when 2, the halves
    every earlier bundle used), false-refusal rate on validation, method."""
    return {
        "quantile": ood.quantile,
        **({"folds": folds} if folds != 2 else {}),
        "val_false_refusal_rate": round(fit.ood_val_false_refusal, 4),
        "method": method,
    }


def bundle_metadata(
    task: TaskSpec,
    *,
    name: str,
    version: str,
    versions: dict[str, Any],
    description: str,
    data: _Data,
    data_type: str,
    network_data_format: dict[str, Any],
    section: MedsightSection,
) -> BundleMetadata:
    """The MONAI metadata around a segmentation bundle's ``medsight`` section."""
    return BundleMetadata(
        name=name,
        version=version,
        changelog={version: "trained by medsight train"},
        monai_version=versions["monai"],
        pytorch_version=versions["torch"],
        numpy_version=versions["numpy"],
        required_packages_version={"medsight": __version__},
        task=task.title,
        description=description,
        data_source=str(data.provenance.get("file", "")),
        data_type=data_type,
        intended_use=task.intended_use,
        network_data_format=network_data_format,
        medsight=section,
    )


def finish_bundle(
    staging: Path, metadata: BundleMetadata, val: dict[str, Any], card: Callable[[BundleMetadata], str]
) -> None:
    """Record the validation figures in the metadata and write the model card from it."""
    metadata.medsight.metrics = {"val": val}
    write_metadata(staging, metadata)
    (staging / "docs").mkdir(exist_ok=True)
    (staging / "docs" / "model_card.md").write_text(card(metadata), encoding="utf-8")
