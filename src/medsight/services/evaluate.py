"""Use case: score a model on a labelled split, with 95% bootstrap CIs and plots.

Every case is scored, including those the distribution check would refuse in
``analyze``: the metrics describe the model on the whole split, and the refusals are
reported beside them (``refused``), so neither hides the other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medsight.data import LabelledSet, load_dataset
from medsight.errors import InvalidDatasetError, MedsightError, UsageError
from medsight.inference import Analyzer, LoadedModel
from medsight.io.files import write_bytes
from medsight.metrics import BINARY_METRICS, binary_metrics, bootstrap_ci, wilson_interval
from medsight.plots import reliability_plot_png, roc_plot_png
from medsight.services.models import load_model
from medsight.settings import ReadLimits
from medsight.tasks import get_task, prepare
from medsight.tasks.registry import TaskKind

__all__ = ["EvaluateOptions", "SplitScores", "evaluate", "score_split"]

_BATCH = 256


@dataclass(frozen=True)
class EvaluateOptions:
    """What ``medsight evaluate`` was asked.

    Attributes:
        task: task name.
        data: dataset path (any layout of :mod:`medsight.data.layouts`).
        split: ``train``, ``val``, ``test`` or ``all``.
        model: bundle folder or shipped name; None picks the shipped model nearest the data's resolution.
        backend: ``auto``, ``onnx`` or ``torch``.
        plots: folder for ``roc.png`` and ``reliability.png``, or None.
        bootstrap: resamples for the CIs.
        seed: bootstrap seed.
        by: subgroup columns to report the metrics per value of, where the data records
            them (``source``: the site); each value gets ``n``, prevalence and every metric with its CI.
        tta: volume tasks: ``none`` or ``flip`` test-time augmentation; None keeps the
            model's default (:class:`~medsight.tasks.volume.Tta`).
    """

    task: str
    data: Path
    split: str = "test"
    model: str | None = None
    backend: str = "auto"
    plots: Path | None = None
    bootstrap: int = 2000
    seed: int = 0
    limits: ReadLimits = field(default_factory=ReadLimits)
    by: tuple[str, ...] = ("source",)
    tta: str | None = None


def evaluate(
    options: EvaluateOptions,
    *,
    on_start: Callable[[int], None] = lambda total: None,
    on_case: Callable[[], None] = lambda: None,
    model: LoadedModel | None = None,
) -> dict[str, Any]:
    """Evaluate and return the report (the JSON of ``medsight evaluate --json``).

    Raises:
        InvalidDatasetError: the data cannot be read, lacks the split, or holds one class only
            (metrics would be undefined) — single-class data still gets accuracy and friends.
    """
    task = get_task(options.task)
    if options.tta is not None and task.kind is not TaskKind.VOLUME_SEGMENTATION:
        raise UsageError(f"--tta is for volume segmentation tasks, not {task.name}")
    if task.kind is TaskKind.SEGMENTATION:
        return _evaluate_segmentation(options, on_start, on_case)
    if task.kind is TaskKind.VOLUME_SEGMENTATION:
        return _evaluate_volumes(options, on_start, on_case)
    data = load_dataset(options.data, task.label_of, options.limits, relabel=task.class_of_stored).split(options.split)
    model = model or load_model(task, options.model, resolution=_resolution(data), backend=options.backend)
    on_start(len(data))
    scores = score_split(data, model, on_case)
    probabilities, refusals = scores.probabilities, scores.refusals
    y = np.asarray(data.labels, dtype=np.int64)
    report: dict[str, Any] = {
        "task": task.name,
        "split": options.split,
        "data": {"path": str(options.data), "layout": data.layout},
        "model": model.bundle.identity(),
        "threshold": round(model.threshold, 6),
        "n": len(y),
        "prevalence": round(float(y.mean()), 4) if len(y) else None,
    }
    point = binary_metrics(y, probabilities, model.threshold)
    ci = bootstrap_ci(y, probabilities, model.threshold, n_boot=options.bootstrap, seed=options.seed)
    for key in BINARY_METRICS:
        report[key] = _round(point[key])
        report[f"{key}_ci"] = [_round(v) for v in ci[key]]
    by_check = Counter(check for check in refusals if check)
    report["refused"] = {
        "n": sum(by_check.values()),
        "rate": round(sum(by_check.values()) / max(1, len(y)), 4),
        "by_check": dict(sorted(by_check.items())),
    }
    report["uncertainty"] = _uncertainty(model, y, probabilities)
    if scores.member_probabilities is not None:
        report["uncertainty"]["members"] = _member_agreement(y, probabilities, scores.member_probabilities, model)
    by_group = _by_group(data, y, probabilities, model.threshold, options)
    if by_group:
        report["by"] = by_group
    if options.plots is not None:
        report["plots"] = _write_plots(options.plots, y, probabilities, model, report)
    return report


def _evaluate_segmentation(
    options: EvaluateOptions, on_start: Callable[[int], None], on_case: Callable[[], None]
) -> dict[str, Any]:
    """The segmentation report: ``n``, Dice, HD95, HC errors with 95% CIs (``measure_eval``)."""
    from medsight.data.hc18 import load_hc18
    from medsight.inference.measure_eval import score_measured
    from medsight.inference.segmentation import LoadedSegmenter
    from medsight.models.bundle import resolve_bundle
    from medsight.services.models import shipped_for

    task = get_task(options.task)
    data = load_hc18(options.data, options.limits).split(options.split)
    bundle = resolve_bundle(options.model, default=shipped_for(task, None))
    model = LoadedSegmenter.load(bundle, options.backend)
    on_start(len(data))
    scores = score_measured(model, data, bootstrap=options.bootstrap, seed=options.seed, on_case=on_case)
    return {
        "task": task.name,
        "split": options.split,
        "data": {"path": str(options.data), "layout": "hc18"},
        "model": bundle.identity(),
        **scores,
    }


def _evaluate_volumes(
    options: EvaluateOptions, on_start: Callable[[int], None], on_case: Callable[[], None]
) -> dict[str, Any]:
    """The MRI report: ``n``, ``dice_mean``, ``dice_per_label``, ``hd95_mm``,
    ``volume_abs_error_ml`` with 95% CIs, ``confidence`` and ``cases`` (``volume_eval``)."""
    from medsight.data.volumes import load_volumes
    from medsight.inference.volume_eval import score_volumes
    from medsight.inference.volume_segmentation import LoadedVolumeSegmenter
    from medsight.models.bundle import resolve_bundle
    from medsight.services.models import shipped_for
    from medsight.tasks.volume import parse_tta

    task = get_task(options.task)
    data = load_volumes(options.data, options.limits)
    if data.label_names != task.classes[1:]:
        raise UsageError(f"{options.data.name} holds {data.layout} labels, not those of {task.name}")
    data = data.split(options.split)
    bundle = resolve_bundle(options.model, default=shipped_for(task, None))
    if bundle.metadata.medsight.task != task.name:
        raise UsageError(f"model {bundle.name} is for task {bundle.metadata.medsight.task}, not {task.name}")
    model = LoadedVolumeSegmenter.load(bundle, tta=parse_tta(options.tta))
    on_start(len(data))
    scores = score_volumes(model, data, bootstrap=options.bootstrap, seed=options.seed, on_case=on_case)
    return {
        "task": task.name,
        "split": options.split,
        "data": {"path": str(options.data), "layout": data.layout},
        "model": bundle.identity(),
        **scores,
    }


def _uncertainty(model: LoadedModel, y: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """How the conformal sets behaved: coverage per class (target: ``coverage``), ambiguity."""
    sets = model.conformal.prediction_sets(probabilities)
    singleton = sets.sum(axis=1) == 1
    coverage = {}
    for label, name in enumerate(model.task.classes):
        members = y == label
        coverage[name] = round(float(sets[members, label].mean()), 4) if members.any() else None
    return {
        "method": "conformal",
        "coverage_target": model.conformal.coverage,
        "coverage": coverage,
        "ambiguous_rate": round(float(1.0 - singleton.mean()), 4) if len(y) else None,
    }


def _member_agreement(
    y: np.ndarray, probabilities: np.ndarray, members: np.ndarray, model: LoadedModel
) -> dict[str, Any]:
    """An ensemble's members against the truth: is their disagreement worth showing a reader?

    Accuracy of the ensemble's label where every member is on the same side of the
    threshold, and where they split, each with a 95% Wilson interval: if the split cases
    are not markedly less accurate, the agreement line adds nothing to the conformal set.
    """
    positive = members >= model.threshold
    unanimous = positive.all(axis=1) | ~positive.any(axis=1)
    correct = (probabilities >= model.threshold).astype(np.int64) == y
    out: dict[str, Any] = {
        "n": int(members.shape[1]),
        "unanimous_rate": round(float(unanimous.mean()), 4) if len(y) else None,
        "mean_spread": round(float(np.ptp(members, axis=1).mean()), 4) if len(y) else None,
    }
    for name, subset in (("unanimous", unanimous), ("split", ~unanimous)):
        hits, n = int(correct[subset].sum()), int(subset.sum())
        out[f"n_{name}"] = n
        out[f"accuracy_{name}"] = round(hits / n, 4) if n else None
        out[f"accuracy_{name}_ci"] = [round(v, 4) for v in wilson_interval(hits, n)] if n else [None, None]
    return out


def _resolution(data: LabelledSet) -> int:
    if not data.cases:
        raise InvalidDatasetError("the split holds no cases")
    try:
        image = data.image(data.cases[0])
    except MedsightError as exc:
        raise InvalidDatasetError(f"case {data.cases[0].key}: {exc.message}") from exc
    return int(min(image.pixels.shape[:2]))


@dataclass(frozen=True)
class SplitScores:
    """A split scored case by case.

    Attributes:
        probabilities: each case's calibrated probability ``(n,)``.
        refusals: the check ``analyze`` would refuse each case by, or None.
        member_probabilities: an ensemble's members' probabilities ``(n, members)``; None
            for one network.
    """

    probabilities: np.ndarray
    refusals: list[str | None]
    member_probabilities: np.ndarray | None = None


def score_split(data: LabelledSet, model: LoadedModel, on_case: Callable[[], None] = lambda: None) -> SplitScores:
    """Score every case of ``data`` as ``analyze`` would, refusals noted beside the scores.

    Raises:
        InvalidDatasetError: a case's image cannot be read.
    """
    analyzer = Analyzer(model)
    probabilities = np.empty(len(data), dtype=np.float64)
    members: list[np.ndarray] = []
    refusals: list[str | None] = []
    cases = list(data)
    for start in range(0, len(cases), _BATCH):
        batch = cases[start : start + _BATCH]
        inputs, gate_inputs, checks = [], [], []
        for case in batch:
            try:
                image = data.image(case)
            except MedsightError as exc:
                raise InvalidDatasetError(f"case {case.key}: {exc.message}") from exc
            refusal = analyzer.check(image)
            checks.append(refusal.check if refusal else None)
            prepared = prepare(image, model.preprocessing)
            inputs.append(prepared.input)
            gate_inputs.append(model.gate_input(prepared))
            on_case()
        x = np.stack(inputs)
        scores = model.score(x)
        probabilities[start : start + len(batch)] = scores.probabilities
        if scores.member_probabilities is not None:
            members.append(scores.member_probabilities)
        later = model.refusals(x, scores, gate_inputs)
        refusals += [check or (r.check if r else None) for check, r in zip(checks, later, strict=True)]
    return SplitScores(probabilities, refusals, np.concatenate(members) if members else None)


def _by_group(
    data: LabelledSet, y: np.ndarray, p: np.ndarray, threshold: float, options: EvaluateOptions
) -> dict[str, list[dict[str, Any]]]:
    """The metrics per value of each ``options.by`` column the data records (empty values apart)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for column in options.by:
        values = np.asarray([case.groups.get(column, "") for case in data.cases], dtype=object)
        records = []
        for value in sorted({str(v) for v in values if v}):
            members = values == value
            yg, pg = y[members], p[members]
            point = binary_metrics(yg, pg, threshold)
            ci = bootstrap_ci(yg, pg, threshold, n_boot=options.bootstrap, seed=options.seed)
            record: dict[str, Any] = {"value": value, "n": int(members.sum()), "prevalence": round(float(yg.mean()), 4)}
            for key in BINARY_METRICS:
                record[key] = _round(point[key])
                record[f"{key}_ci"] = [_round(v) for v in ci[key]]
            records.append(record)
        if records:
            found[column] = records
    return found


def _write_plots(
    folder: Path, y: np.ndarray, p: np.ndarray, model: LoadedModel, report: dict[str, Any]
) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{model.bundle.name} {model.bundle.version}, {report['split']} (n={report['n']})"
    auc_ci = report["auc_ci"]
    roc = roc_plot_png(
        y,
        p,
        title=f"ROC: {name}",
        threshold=model.threshold,
        auc_ci=(auc_ci[0], auc_ci[1]) if None not in auc_ci else None,
    )
    reliability = reliability_plot_png(y, p, title=f"Reliability: {name}", ece=report["ece"])
    return {
        "roc": str(write_bytes(folder / "roc.png", roc)),
        "reliability": str(write_bytes(folder / "reliability.png", reliability)),
    }


def _round(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)
