"""What the segmentation exporters write alike (:mod:`.export_segment`, :mod:`.export_volume`).

The fetal head's and the MRI volumes' bundles differ in their weights, metadata sections
and card bodies; their training record, metadata envelope, validation step and the card's
opening, distribution-check, training-run and table lines are the same, and are here.
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
    "card_check_and_weights",
    "card_opening",
    "card_run",
    "card_table",
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


def ood_summary(ood: _Ood, fit: Fitted, method: str) -> dict[str, Any]:
    """The bundle's ``ood`` section: quantile, false-refusal rate on validation, method."""
    return {
        "quantile": ood.quantile,
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


def card_opening(metadata: BundleMetadata, task: TaskSpec, verb: str) -> list[str]:
    """Title, description, intended use, what it is not for (inputs refused, never ``verb``), ``## Model``."""
    return [
        f"# {metadata.name} {metadata.version}",
        "",
        metadata.description,
        "",
        "## Intended use",
        "",
        task.intended_use,
        "",
        "## Not for",
        "",
        *[f"- {limit}" for limit in task.limitations],
        f"- Anything but {task.acceptance.description}: such inputs are refused with a reason, never {verb}.",
        "",
        "## Model",
        "",
    ]


def card_check_and_weights(metadata: BundleMetadata) -> list[str]:
    """The distribution check with its false-refusal rate, and the weights' sha256."""
    section = metadata.medsight
    return [
        f"- Distribution check: {section.ood.get('method')}; false-refusal rate on validation "
        f"{section.ood.get('val_false_refusal_rate', 0):.1%}.",
        f"- Weights: `models/model.pt` sha256 `{section.weights.get('model.pt', '')}`.",
    ]


def card_run(training: dict[str, Any]) -> list[str]:
    """Seed, best epoch, minutes on how many threads, and the command."""
    return [
        f"- Seed {training.get('seed')}, best epoch {training.get('best_epoch')} of at most "
        f"{training.get('epochs_max')}, {training.get('seconds', 0) / 60:.1f} min on "
        f"{training.get('platform', {}).get('threads', '?')} CPU threads.",
        f"- Command: `{training.get('command', '')}`",
    ]


def card_table(heading: str, rows: list[str]) -> list[str]:
    """A ``## Validation ...`` heading and its metric / value / 95% CI table."""
    return [heading, "", "| metric | value | 95% CI |", "|---|---:|---|", *rows]
