"""``medsight train``: train, calibrate and bundle a task's model from a labelled dataset."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from medsight.settings import get_settings

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from medsight.models.bundle import Bundle
    from medsight.services.train import TrainRequest
    from medsight.training import EpochLog, FitProgress

__all__ = ["train"]

# The threshold rules a training run can apply without more parameters (min_sensitivity
# needs its sensitivity, which the fit does not take).
_THRESHOLD_RULES = ("youden", "prevalence")


class _Stages:
    """One progress bar per stage (preprocess, train, calibrate) and a line per epoch."""

    def __init__(self, bar: Progress, *, show_epochs: bool, metric: str = "val AUC") -> None:
        self.bar, self.show_epochs, self.metric = bar, show_epochs, metric
        self.current: TaskID | None = None

    def start(self, stage: str, total: int) -> None:
        if self.current is not None:
            self.bar.update(self.current, completed=self.bar.tasks[self.current].total)
        self.current = self.bar.add_task(stage, total=total)

    def step(self) -> None:
        if self.current is not None:
            self.bar.advance(self.current)

    def epoch(self, log: EpochLog) -> None:
        if self.show_epochs:
            mark = " *" if log.best else ""
            val_loss = f"val loss {log.val_loss:.4f}  " if self.metric == "val AUC" else ""
            self.bar.console.print(
                f"epoch {log.epoch:3d}  train loss {log.train_loss:.4f}  {val_loss}"
                f"{self.metric} {log.val_auc:.4f}  {log.seconds:.0f}s{mark}",
                highlight=False,
            )


def train(
    task: Annotated[str, typer.Option("--task", "-t", help="Task to train (see `medsight tasks`).")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Dataset with train and val splits.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle folder to write (replaced if it is a bundle).")],
    resolution: Annotated[
        int | None, typer.Option("--resolution", min=8, max=1024, help="Model input size, px (default: the task's).")
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Most epochs (early stopping may end sooner).")] = 30,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", min=2, help="Images per step.")] = 64,
    lr: Annotated[float, typer.Option("--lr", min=1e-6, help="Peak learning rate.")] = 3e-3,
    patience: Annotated[int, typer.Option("--patience", min=1, help="Epochs without a better val AUC.")] = 8,
    widths: Annotated[
        str | None, typer.Option("--widths", help="Channels of the 4 ResNet stages, e.g. 16,32,64,128.")
    ] = None,
    members: Annotated[
        int,
        typer.Option(
            "--members",
            min=1,
            max=16,
            help="Networks to train from consecutive seeds and average (a deep ensemble; classification and "
            "volume segmentation tasks).",
        ),
    ] = 1,
    threshold_rule: Annotated[
        str,
        typer.Option(
            "--threshold-rule",
            help="How the operating threshold is chosen on val (classification tasks): youden (the highest "
            "sensitivity + specificity on val) or prevalence (val's share of positives, where a calibrated "
            "probability means a likelihood ratio of 1; steadier on a small val split).",
        ),
    ] = "youden",
    blur_max: Annotated[
        float,
        typer.Option(
            "--blur-max",
            min=0.0,
            max=64.0,
            help="Classification tasks: also blur --blur-prob of the training images by a Gaussian of sigma up to "
            "this many px at the model input (0: none; cxr-pneumonia-224 2.0.0 uses 4).",
        ),
    ] = 0.0,
    blur_prob: Annotated[
        float, typer.Option("--blur-prob", min=0.0, max=1.0, help="Share of training images --blur-max blurs.")
    ] = 0.3,
    name: Annotated[str | None, typer.Option("--name", help="Model name (default <task>-<resolution>).")] = None,
    version: Annotated[str, typer.Option("--version", help="Model version.")] = "1.0.0",
    threads: Annotated[int, typer.Option("--threads", min=1, help="torch threads (fixed for reproducibility).")] = 2,
    ood_quantile: Annotated[
        float,
        typer.Option(
            "--ood-quantile", min=0.5, max=0.9999, help="Training quantile of the distribution check's thresholds."
        ),
    ] = 0.995,
    ood_folds: Annotated[
        int,
        typer.Option(
            "--ood-folds",
            min=2,
            max=50,
            help="Folds the distribution check's thresholds are cross-fitted over (more: tighter with few images).",
        ),
    ] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the bundle's metadata as JSON.")] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="MEDSIGHT_DATA_DIR",
            help="The store whose consent registry governs a dataset built by `medsight dataset build` "
            "(consent is checked again, and the run recorded) (default: ./var).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Train, calibrate and bundle a model for a task.

    MONAI augmentation, early stopping on val AUC; calibration on val (temperature, Youden
    threshold, conformal sets); the distribution check fitted on train; a MONAI-layout
    bundle with ONNX export, model card and val metrics with 95% bootstrap CIs.
    """
    from medsight.cli._progress import progress_bar, stderr_console
    from medsight.errors import UsageError
    from medsight.models.networks import NetworkConfig
    from medsight.services.train import TrainRequest
    from medsight.services.train import train as run
    from medsight.services.training_data import is_consent_governed
    from medsight.tasks import get_task
    from medsight.training import FitOptions, FitProgress, TrainOptions
    from medsight.training.fit import default_network

    spec = get_task(task)
    resolution = resolution or min(spec.preprocessing)
    network = None
    if widths:
        try:
            parts = tuple(int(w) for w in widths.split(","))
        except ValueError:
            raise UsageError("--widths takes 4 integers separated by commas") from None
        if len(parts) != 4 or min(parts) < 4:
            raise UsageError("--widths takes 4 integers >= 4 separated by commas")
        base = default_network(resolution)
        network = NetworkConfig.from_dict({**base.to_dict(), "widths": list(parts)})
    options = FitOptions(
        resolution=resolution,
        train=TrainOptions(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            patience=patience,
            seed=seed,
            blur_max=blur_max,
            blur_prob=blur_prob,
        ),
        network=network,
        name=name,
        version=version,
        threads=threads,
        ood_quantile=ood_quantile,
        ood_folds=ood_folds,
        members=members,
        threshold_rule=threshold_rule,
    )
    if members > 1 and spec.kind.value not in ("classification", "volume-segmentation"):
        raise UsageError(
            f"--members applies to classification and volume segmentation tasks; {task} is {spec.kind.value}"
        )
    if blur_max and spec.kind.value != "classification":
        raise UsageError(f"--blur-max applies to classification tasks; {task} is {spec.kind.value}")
    if threshold_rule not in _THRESHOLD_RULES:
        raise UsageError(f"--threshold-rule is one of {', '.join(_THRESHOLD_RULES)}, not {threshold_rule!r}")
    if threshold_rule != "youden" and spec.kind.value != "classification":
        raise UsageError(f"--threshold-rule applies to classification tasks; {task} is {spec.kind.value}")
    command = "medsight " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    console = stderr_console()
    with progress_bar(not as_json) as bar:
        metric = "val Dice" if spec.kind.value in ("segmentation", "volume-segmentation") else "val AUC"
        stages = _Stages(bar, show_epochs=not as_json, metric=metric)
        progress = FitProgress(on_stage=stages.start, on_step=stages.step, on_epoch=stages.epoch)
        request = TrainRequest(task, data, out, options, command)
        if is_consent_governed(data):
            bundle = _train_governed(request, data_dir, progress, console)
        else:
            bundle = run(request, progress, get_settings().limits)
    metadata = bundle.metadata.model_dump(by_alias=True, mode="json")
    if as_json:
        typer.echo(json.dumps(metadata, indent=2))
        return
    val = bundle.metadata.medsight.metrics["val"]
    if bundle.metadata.medsight.kind == "volume-segmentation":
        per_label = ", ".join(f"{k} {v} {val['dice_per_label_ci'][k]}" for k, v in val["dice_per_label"].items())
        console.print(
            f"wrote {out}: {bundle.name} {bundle.version}, val Dice {val['dice_mean']} {val.get('dice_mean_ci')} "
            f"({per_label}), HD95 {val['hd95_mm']} mm, volume error {val['volume_abs_error_ml']} mL",
            highlight=False,
        )
        return
    if bundle.metadata.medsight.kind == "segmentation":
        console.print(
            f"wrote {out}: {bundle.name} {bundle.version}, val Dice {val['dice']} {val.get('dice_ci')}, "
            f"HC MAE {val['hc_mae_mm']} mm {val.get('hc_mae_mm_ci')}, HD95 {val['hd95_mm']} mm",
            highlight=False,
        )
        return
    console.print(
        f"wrote {out}: {bundle.name} {bundle.version}, val AUC {val['auc']:.4f} {val.get('auc_ci')}, "
        f"accuracy {val['accuracy']:.4f}, ECE {val['ece']:.4f}, threshold {bundle.metadata.medsight.threshold:.3f}",
        highlight=False,
    )


def _train_governed(request: TrainRequest, data_dir: Path | None, progress: FitProgress, console: Console) -> Bundle:
    """A dataset built from the store: train on what consent allows now, and record the run there."""
    import getpass

    from medsight.cli._service import service_settings
    from medsight.services.consented_training import train_consented
    from medsight.store import Store

    store = Store.open(service_settings(data_dir))
    try:
        bundle, record = train_consented(
            request, store, actor=f"cli:{getpass.getuser()}", progress=progress, limits=get_settings().limits
        )
    finally:
        store.close()
    console.print(
        f"consent to model training checked at {record.consent_checked_at:%Y-%m-%d %H:%M} UTC: "
        f"{record.instances} images of {record.patients} patients used, {record.withdrawn_dropped} left out "
        f"(withdrawn); run {record.run_id} recorded",
        highlight=False,
    )
    return bundle
