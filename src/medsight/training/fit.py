"""The whole recipe from a labelled dataset to a verified model bundle.

1. preprocess train and val with the task's shared preprocessing;
2. train (:mod:`~medsight.training.loop`), keeping the best epoch on val AUC; for an
   ensemble, each member in turn from its own seed (``seed``, ``seed + 1``...), each
   keeping its own best epoch;
3. on val only: temperature, threshold (Youden: prevalence-free), conformal sets;
4. on train only: the out-of-distribution detector, whose false-refusal rate is then
   measured on val;
5. val metrics with 95% bootstrap CIs;
6. the bundle (:mod:`~medsight.training.export`), written to a temporary folder and
   renamed into place, so a failed run leaves no half bundle.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from monai.utils.misc import set_determinism
from numpy.typing import NDArray

from medsight.calibration import apply_temperature, choose_threshold, fit_conformal, fit_temperature
from medsight.data import LabelledSet
from medsight.inference.ood import OodDetector
from medsight.metrics import binary_metrics, bootstrap_ci
from medsight.models.networks import Classifier, Ensemble, NetworkConfig
from medsight.tasks import TaskSpec
from medsight.training.loop import EpochLog, TrainOptions, TrainResult, predict_batches, train_classifier
from medsight.training.prepare_data import prepare_split

__all__ = ["FitOptions", "FitProgress", "FitResult", "fit_classifier"]


@dataclass(frozen=True)
class FitOptions:
    """Everything that decides what a training run produces.

    Attributes:
        resolution: model input side, px.
        train: the loop's options (epochs, seed...).
        network: the architecture; None picks the task's default for the resolution.
        coverage: per-class coverage of the conformal prediction sets.
        ood_quantile: training quantile of the distribution check's thresholds.
        ood_folds: folds the distribution check's thresholds are cross-fitted over (2: halves).
        threshold_rule: how the operating threshold is chosen on val.
        bootstrap: bootstrap resamples for the CIs.
        name: the bundle's model name; None gives ``<task>-<resolution>``.
        version: the bundle's version.
        threads: torch threads (fixed so that reruns on one machine match).
        members: networks trained and averaged (a deep ensemble); 1 trains one network.
    """

    resolution: int
    train: TrainOptions = field(default_factory=TrainOptions)
    network: NetworkConfig | None = None
    coverage: float = 0.95
    ood_quantile: float = 0.995
    ood_folds: int = 2
    threshold_rule: str = "youden"
    bootstrap: int = 2000
    name: str | None = None
    version: str = "1.0.0"
    threads: int = 2
    members: int = 1


@dataclass
class FitProgress:
    """Callbacks for a person watching (the CLI draws them with rich)."""

    on_stage: Callable[[str, int], None] = lambda stage, total: None
    on_step: Callable[[], None] = lambda: None
    on_epoch: Callable[[EpochLog], None] = lambda log: None


@dataclass
class FitResult:
    """What a run produced, in memory, before it is written as a bundle."""

    model: Any
    network: NetworkConfig
    logit_offset: float
    temperature: float
    threshold: float
    threshold_rule: str
    conformal: Any
    ood: OodDetector
    val_metrics: dict[str, Any]
    ood_val_false_refusal: float
    history: list[EpochLog]
    best_epoch: int
    stopped_early: bool
    seconds: float
    split_sizes: dict[str, int]
    class_counts: dict[str, dict[str, int]]
    val_probabilities: NDArray[np.float64]
    val_labels: NDArray[np.int64]
    members: list[dict[str, Any]] = field(default_factory=list)


def default_network(resolution: int) -> NetworkConfig:
    """The architecture chosen by measurement for each input size (see docs/models.md).

    At 28 px, widths 16-128 matched widths 32-256 on val AUC (within a CI width of 0.003)
    at a quarter of the size and twice the speed; 32-256 would not fit the 20 MB bundle.
    """
    if resolution <= 64:
        return NetworkConfig(widths=(16, 32, 64, 128), stem="small")
    return NetworkConfig(widths=(16, 32, 64, 128), stem="large")


def fit_classifier(task: TaskSpec, data: LabelledSet, options: FitOptions, progress: FitProgress) -> FitResult:
    """Run steps 1-5 of the module docstring on ``data``'s train and val splits."""
    started = time.perf_counter()
    torch.set_num_threads(options.threads)
    set_determinism(seed=options.train.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    preprocessing = task.preprocessing_for(options.resolution)
    splits = {name: data.split(name) for name in ("train", "val")}
    arrays = {}
    for name, part in splits.items():
        progress.on_stage(f"preprocess {name}", len(part))
        arrays[name] = prepare_split(part, preprocessing, on_case=progress.on_step)
    (x_train, y_train), (x_val, y_val) = arrays["train"], arrays["val"]
    base = options.network or default_network(options.resolution)
    normalised = {**base.to_dict(), "mean": float(x_train.mean()), "std": float(x_train.std())}
    network = NetworkConfig.from_dict({**normalised, "members": options.members})
    one = NetworkConfig.from_dict(normalised)
    runs, members = _train_members(one, (x_train, y_train), (x_val, y_val), options, progress)
    model = members[0] if len(members) == 1 else Ensemble(members)

    progress.on_stage("calibrate", 3)
    offset = runs[0].logit_offset  # the same for every member: it depends on the class balance only
    val_logits = predict_batches(model, x_val).astype(np.float64) + offset
    temperature = fit_temperature(val_logits, y_val)
    p_val = apply_temperature(val_logits, temperature)
    choice = choose_threshold(y_val, p_val, options.threshold_rule)
    conformal = fit_conformal(y_val, p_val, coverage=options.coverage)
    progress.on_step()

    with torch.inference_mode():
        train_features = _features(model, x_train)
        val_features = _features(model, x_val)
    ood = OodDetector.fit(
        x_train,
        train_features,
        quantile=options.ood_quantile,
        description=task.acceptance.description,
        folds=options.ood_folds,
        members=options.members,
    )
    false_refusal = float(np.mean(ood.scores(x_val, val_features).max(axis=1) > 1.0))
    progress.on_step()

    val_metrics = _metrics_with_ci(y_val, p_val, choice.threshold, options)
    by_site = _metrics_by_site(splits["val"], y_val, p_val, choice.threshold, options)
    if by_site:
        val_metrics["by_source"] = by_site
    progress.on_step()
    class_counts = {
        name: {task.classes[k]: int(v) for k, v in part.class_counts().items()} for name, part in splits.items()
    }
    return FitResult(
        model=model,
        network=network,
        logit_offset=offset,
        temperature=temperature,
        threshold=choice.threshold,
        threshold_rule=choice.rule,
        conformal=conformal,
        ood=ood,
        val_metrics=val_metrics,
        ood_val_false_refusal=false_refusal,
        history=runs[0].history,
        best_epoch=runs[0].best_epoch,
        stopped_early=runs[0].stopped_early,
        seconds=time.perf_counter() - started,
        split_sizes={name: len(part) for name, part in splits.items()},
        class_counts=class_counts,
        val_probabilities=p_val,
        val_labels=y_val,
        members=[
            {"seed": options.train.seed + i, "best_epoch": run.best_epoch, "val_auc": round(_best_auc(run), 4)}
            for i, run in enumerate(runs)
        ]
        if len(runs) > 1
        else [],
    )


def _train_members(
    network: NetworkConfig,
    train: tuple[NDArray[np.float32], NDArray[np.int64]],
    val: tuple[NDArray[np.float32], NDArray[np.int64]],
    options: FitOptions,
    progress: FitProgress,
) -> tuple[list[TrainResult], list[Classifier]]:
    """Train ``options.members`` networks, member ``i`` from seed ``seed + i``.

    The first member is trained exactly as a single network is (the seed was set by the
    caller), so a one-member run is the single-network run.
    """
    steps = max(1, len(train[0]) // options.train.batch_size)
    runs: list[TrainResult] = []
    for index in range(options.members):
        seed = options.train.seed + index
        if index:
            set_determinism(seed=seed)
        stage = "train" if options.members == 1 else f"train member {index + 1}/{options.members}"
        progress.on_stage(stage, options.train.epochs * steps)
        runs.append(
            train_classifier(
                Classifier(network),
                train,
                val,
                replace(options.train, seed=seed),
                on_batch=lambda epoch, batch: progress.on_step(),
                on_epoch=progress.on_epoch,
            )
        )
    return runs, [run.model for run in runs]


def _best_auc(run: TrainResult) -> float:
    return next(log.val_auc for log in run.history if log.epoch == run.best_epoch)


def _metrics_with_ci(
    y: NDArray[np.int64], probabilities: NDArray[np.float64], threshold: float, options: FitOptions
) -> dict[str, Any]:
    """Every binary metric at ``threshold``, rounded, each with its 95% bootstrap CI."""
    point = binary_metrics(y, probabilities, threshold)
    ci = bootstrap_ci(y, probabilities, threshold, n_boot=options.bootstrap, seed=options.train.seed)
    metrics: dict[str, Any] = {"n": len(y)}
    for key, value in point.items():
        if key == "n":
            continue
        metrics[key] = round(float(value), 4)
        if key in ci:
            metrics[f"{key}_ci"] = [round(float(v), 4) for v in ci[key]]
    return metrics


def _metrics_by_site(
    data: LabelledSet, y: NDArray[np.int64], probabilities: NDArray[np.float64], threshold: float, options: FitOptions
) -> list[dict[str, Any]]:
    """Val metrics per site where the data records one (``source``) and has several.

    A site whose val cases are all one class is left out: its AUC is undefined.
    """
    sites = np.asarray([case.groups.get("source", "") for case in data.cases], dtype=object)
    names = sorted({str(s) for s in sites if s and len(set(y[sites == s].tolist())) == 2})
    if len(names) < 2:
        return []
    return [
        {"source": name, **_metrics_with_ci(y[sites == name], probabilities[sites == name], threshold, options)}
        for name in names
    ]


def _features(model: Any, inputs: NDArray[np.float32], batch_size: int = 256) -> NDArray[np.float32]:
    model.eval()
    out = [model.features(torch.from_numpy(inputs[s : s + batch_size])) for s in range(0, len(inputs), batch_size)]
    return torch.cat(out).numpy()


def platform_summary() -> dict[str, str]:
    """Versions and machine, for the bundle's metadata."""
    import monai

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "monai": monai.__version__,
        "numpy": np.__version__,
        "machine": platform.machine(),
        "threads": str(torch.get_num_threads()),
    }
