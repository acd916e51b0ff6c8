"""Use case: audit whether a classifier's saliency maps are faithful to it (``medsight audit saliency``).

The split is read and prepared as ``medsight evaluate`` reads it; the cases the model
calls positive (calibrated probability at or above its deployed threshold: the maps
explain the positive class, and on a case the model already calls negative there is no
evidence left to remove) are explained with the method that ``analyze --heatmap`` uses
(the bundle's ``saliency`` setting: Grad-CAM unless it names occlusion), or with a
candidate method to measure before setting it, and judged by
:mod:`medsight.audit.saliency`: deletion and insertion against random maps of the same
smoothness, and rank correlation with the maps of the same network with its output
layer, then every weight, re-initialised.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight import __version__
from medsight.audit.saliency import (
    SaliencyReport,
    blurred,
    donor_baselines,
    perturbation_curves,
    rank_correlations,
    saliency_report,
)
from medsight.data import load_dataset
from medsight.errors import UsageError
from medsight.inference import LoadedModel
from medsight.io.files import write_text
from medsight.models.bundle import SALIENCY_AUDIT_HTML, SALIENCY_AUDIT_JSON, Bundle, record_audit, resolve_bundle
from medsight.models.saliency import SaliencySpec
from medsight.services.models import load_model
from medsight.settings import ReadLimits
from medsight.tasks import get_task
from medsight.tasks.registry import TaskKind
from medsight.training.prepare_data import prepare_split

__all__ = [
    "BASELINES",
    "SaliencyAuditOptions",
    "SaliencyAuditResult",
    "audit_saliency",
    "record_saliency_in_bundle",
    "set_saliency",
    "write_saliency_html",
]

_SALIENCY_BATCH = 32
#: The baselines ``--baseline`` offers, in the words the report uses.
BASELINES = {
    "negative": "the same pixels of another case of the split that the model calls negative (a true negative "
    "where there is one), drawn per image",
    "blur": "the image blurred by a Gaussian of 1/8 of its side",
}


@dataclass(frozen=True)
class SaliencyAuditOptions:
    """What ``medsight audit saliency`` was asked.

    Attributes:
        task: a classification task.
        data: its dataset (any layout ``evaluate`` reads).
        split: ``train``, ``val``, ``test`` or ``all``.
        model: bundle folder or shipped name; None picks the task's shipped model.
        cases: most positive calls explained (a seeded sample when there are more).
        steps: fractions of pixels moved per curve (0, 1/steps, ..., 1).
        baseline: what moved pixels come from: ``negative`` (the same pixels of a case of the
            split the model calls negative, a true negative where there is one) or ``blur``.
        seed: sample, donors, random maps and re-initialised weights.
        bootstrap: resamples for the CIs.
        backend: scoring backend (the maps always come from torch).
        saliency: the method to audit; None: the bundle's own (the only one ``--record`` accepts).
        to_record: the audit is meant for :func:`record_saliency_in_bundle`: a candidate
            method is refused before the work, not after it.
    """

    task: str
    data: Path
    split: str = "val"
    model: str | None = None
    cases: int = 100
    steps: int = 16
    baseline: str = "negative"
    seed: int = 0
    bootstrap: int = 1000
    backend: str = "auto"
    limits: ReadLimits = field(default_factory=ReadLimits)
    saliency: SaliencySpec | None = None
    to_record: bool = False


@dataclass(frozen=True)
class SaliencyAuditResult:
    """The audit, its JSON document, and the model it audited."""

    report: SaliencyReport
    document: dict[str, Any]
    model: LoadedModel


def audit_saliency(
    options: SaliencyAuditOptions, *, on_stage: Callable[[str], None] = lambda stage: None
) -> SaliencyAuditResult:
    """Explain the split's positive calls and judge the maps.

    Raises:
        UsageError: not a classification task; options out of range; no positive call to explain.
        InvalidDatasetError: the data cannot be read or lacks the split.
        ModelNotFoundError, WeightsMismatchError: no such model, or its files do not match.
    """
    from medsight.explain import saliency_for
    from medsight.explain.sanity import RANDOMIZATIONS, map_grid, random_maps, randomized
    from medsight.inference.predictor import load_torch_classifier
    from medsight.models.networks import NetworkConfig

    task = get_task(options.task)
    if task.kind is not TaskKind.CLASSIFICATION:
        raise UsageError(f"{task.name} is a {task.kind.value} task; the saliency audit covers classifiers")
    if options.cases < 2 or not 2 <= options.steps <= 100:
        raise UsageError("--cases must be at least 2 and --steps between 2 and 100")
    if options.baseline not in BASELINES:
        raise UsageError(f"--baseline must be one of {', '.join(BASELINES)}, not {options.baseline!r}")
    data = load_dataset(options.data, task.label_of, options.limits, relabel=task.class_of_stored).split(options.split)
    model = load_model(task, options.model, resolution=None, backend=options.backend)
    if options.to_record and options.saliency is not None:
        _check_recordable(options.saliency, model.bundle)
    on_stage("reading and scoring the split")
    inputs, labels = prepare_split(data, model.preprocessing)
    probabilities = model.score(inputs).probabilities
    chosen = _positive_calls(probabilities, model.threshold, options.cases, options.seed)
    if chosen.size < 2:
        raise UsageError(
            f"the model calls {chosen.size} case(s) of this split {task.classes[1]}: too few to audit its maps"
        )
    x = inputs[chosen]
    network = load_torch_classifier(model.bundle)
    config = NetworkConfig.from_dict(model.bundle.metadata.medsight.network)
    method = options.saliency or model.bundle.saliency
    on_stage(f"explaining {chosen.size} positive calls")
    maps = _maps(saliency_for(lambda: network, method), x)
    size = x.shape[-1]
    grid = map_grid(network, method, size)
    on_stage("deletion and insertion curves")
    curves = perturbation_curves(
        lambda batch: model.score(batch).probabilities,
        x,
        maps,
        random_maps(len(x), grid, size, options.seed),
        _baselines(options, inputs, chosen, labels, probabilities < model.threshold),
        steps=options.steps,
    )
    on_stage("maps of randomised networks")
    correlations = {
        which: rank_correlations(
            maps, _maps(saliency_for(partial(randomized, network, config, which, options.seed), method), x)
        )
        for which in RANDOMIZATIONS
    }
    report = saliency_report(curves, correlations, n_boot=options.bootstrap, seed=options.seed)
    document: dict[str, Any] = {
        "task": task.name,
        "split": options.split,
        "data": {
            "path": str(options.data),
            "layout": data.layout,
            **{k: data.provenance[k] for k in ("file", "sha256", "listing_sha256") if k in data.provenance},
        },
        "model": model.bundle.identity(),
        "threshold": round(model.threshold, 4),
        "explained": {
            "class": task.classes[1],
            "positive_calls": int(np.sum(probabilities >= model.threshold)),
            "explained": int(chosen.size),
            "true_positives": int(np.sum(labels[chosen] == 1)),
            "split_n": len(labels),
        },
        "method": {
            "saliency": method.describe()
            + (" (what analyze --heatmap draws)" if method == model.bundle.saliency else " (a candidate)"),
            "setting": {"method": method.method, **method.to_dict()},
            "steps": options.steps,
            "baseline": BASELINES[options.baseline],
            "random_maps": f"uniform noise on the map's {grid[0]}x{grid[1]} grid, upsampled bilinearly",
            "seed": options.seed,
            "bootstrap": options.bootstrap,
        },
        **report.to_dict(),
    }
    return SaliencyAuditResult(report=report, document=document, model=model)


def _baselines(
    options: SaliencyAuditOptions,
    inputs: NDArray[np.float32],
    chosen: NDArray[np.intp],
    labels: NDArray[np.int64],
    called_negative: NDArray[np.bool_],
) -> NDArray[np.float32]:
    if options.baseline == "blur":
        return blurred(inputs[chosen])
    true_negatives = np.flatnonzero(called_negative & (labels == 0))
    donors = true_negatives if true_negatives.size else np.flatnonzero(called_negative)
    if donors.size == 0:
        raise UsageError("the model calls no case of this split negative: no donor baseline; use --baseline blur")
    return donor_baselines(inputs, chosen, donors, options.seed)


def _positive_calls(probabilities: NDArray[np.float64], threshold: float, most: int, seed: int) -> NDArray[np.intp]:
    """Indices of the cases called positive, a seeded sample of ``most`` when there are more, in order."""
    positive = np.flatnonzero(probabilities >= threshold)
    if positive.size > most:
        positive = np.sort(np.random.default_rng(seed).choice(positive, size=most, replace=False))
    return positive


def _maps(saliency: Any, inputs: NDArray[np.float32]) -> NDArray[np.float32]:
    parts = [saliency(inputs[s : s + _SALIENCY_BATCH]) for s in range(0, len(inputs), _SALIENCY_BATCH)]
    return np.concatenate(parts).astype(np.float32, copy=False)


def write_saliency_html(result: SaliencyAuditResult, path: Path) -> Path:
    """Write the self-contained HTML report at ``path``.

    Raises:
        OutputError: the file cannot be written.
    """
    return write_text(path, _html(result))


def record_saliency_in_bundle(result: SaliencyAuditResult, *, command: str = "") -> dict[str, Any]:
    """Record the audit in the audited bundle: a summary in its metadata (naming the weights'
    sha256), the JSON and HTML reports in ``docs/``, and the model card rewritten with it.

    Raises:
        UsageError: the audit judged another saliency method than the bundle's (a
            candidate's figures must not vouch for the heatmaps the model draws).
        OutputError: the bundle cannot be written.
    """
    from medsight.services.audit import record_with_reports

    bundle = result.model.bundle
    document = result.document
    _check_recordable(SaliencySpec.from_dict(document["method"]["setting"]), bundle)
    summary: dict[str, Any] = {
        "passed": document["passed"],
        "model_sha256": bundle.sha256,
        "task": document["task"],
        "split": document["split"],
        "data": {k: v for k, v in document["data"].items() if k != "path"},
        "explained": document["explained"],
        "baseline": document["method"]["baseline"],
        "saliency": document["method"]["setting"],
        "checks": document["checks"],
        "areas": document["areas"],
        "audited_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "medsight_version": __version__,
        "command": command,
        "report": str(SALIENCY_AUDIT_HTML),
    }
    reports = {SALIENCY_AUDIT_JSON: json.dumps(document, indent=2) + "\n", SALIENCY_AUDIT_HTML: _html(result)}
    record_with_reports(bundle, summary, field="saliency_audit", reports=reports)
    return summary


def _check_recordable(audited: SaliencySpec, bundle: Bundle) -> None:
    """Refuse to record an audit of maps the bundle does not draw."""
    if audited != bundle.saliency:
        raise UsageError(
            f"the audit judged {audited.method} maps but {bundle.name} draws {bundle.saliency.method} maps: "
            "set the method in the bundle first (medsight models set-saliency), then audit and record"
        )


def set_saliency(model: str | Path, spec: SaliencySpec) -> Bundle:
    """Make a classifier bundle draw its heatmaps with ``spec``; its weights are untouched.

    The method is one of the settings :attr:`~medsight.models.bundle.Bundle.config_sha256`
    covers, so a release or a fairness audit of the old settings no longer vouches for the
    bundle (record them again). A recorded saliency audit judged the old method's maps:
    it and its reports are removed, and the model card says that none is recorded.

    Raises:
        UsageError: not a classification bundle.
        ModelNotFoundError, WeightsMismatchError: no such bundle, or its files do not match.
        OutputError: the bundle cannot be written.
    """
    from medsight.services.audit import record_with_reports

    bundle = resolve_bundle(model)
    task = get_task(bundle.metadata.medsight.task)
    if task.kind is not TaskKind.CLASSIFICATION:
        raise UsageError(f"{task.name} is a {task.kind.value} task: heatmaps are drawn for classifiers")
    if spec == bundle.saliency:
        return bundle
    recorded = record_audit(bundle, spec.to_dict(), field="saliency")
    for name in (SALIENCY_AUDIT_JSON, SALIENCY_AUDIT_HTML):
        (recorded.path / name).unlink(missing_ok=True)
    record_with_reports(recorded, {}, field="saliency_audit", reports={})  # and the model card again
    return resolve_bundle(recorded.path)


def _html(result: SaliencyAuditResult) -> str:
    from medsight.audit.saliency_html import render_saliency_html  # matplotlib: only when asked for

    doc = result.document
    title = f"Saliency audit: {doc['model']['name']} {doc['model']['version']} on {doc['split']}"
    context = {
        "task": doc["task"],
        "model sha256": doc["model"]["sha256"],
        "data": f"{doc['data']['path']} ({doc['data']['layout']}), split {doc['split']}",
        "explained": f"{doc['explained']['explained']} of {doc['explained']['positive_calls']} positive calls "
        f"({doc['explained']['true_positives']} true positives), threshold {doc['threshold']}",
    }
    return render_saliency_html(result.report, title=title, context=context)
