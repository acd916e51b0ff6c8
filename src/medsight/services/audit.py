"""Use case: audit a model's fairness across subgroups of a labelled split, and record it.

The model scores every case of the split exactly as ``medsight evaluate`` does (the same
preprocessing, calibration and deployed threshold); :func:`medsight.audit.fairness_audit`
then computes per-group metrics and gaps and judges the release gate. The result can be
written as a self-contained HTML report, and recorded in the model's bundle, where the
release step (:mod:`medsight.services.release`) reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from medsight import __version__
from medsight.audit import (
    DEFAULT_AGE_BANDS,
    DEFAULT_GATE,
    INTERSECTION,
    AgeBands,
    FairnessGate,
    attribute_values,
)
from medsight.audit.fairness import AuditOptions
from medsight.audit.report import FairnessReport, fairness_audit
from medsight.data import load_dataset
from medsight.errors import UsageError
from medsight.inference import LoadedModel
from medsight.io.files import write_text
from medsight.models.bundle import AUDIT_HTML, AUDIT_JSON, Bundle, record_audit
from medsight.services.evaluate import score_split
from medsight.services.models import load_model
from medsight.settings import ReadLimits
from medsight.tasks import get_task
from medsight.tasks.registry import TaskKind

__all__ = [
    "FairnessAuditOptions",
    "FairnessAuditResult",
    "audit_fairness",
    "record_in_bundle",
    "record_with_reports",
    "write_html",
]

# Added to the attributes when both halves are audited: the intersection.
_DEFAULT_INTERSECTIONS = (("sex", "age_band"),)


@dataclass(frozen=True)
class FairnessAuditOptions:
    """What ``medsight audit fairness`` was asked.

    Attributes:
        task: task name.
        data: dataset path (a ``labels.csv`` layout with subgroup columns).
        split: ``train``, ``val``, ``test`` or ``all``.
        attributes: attributes to audit (``sex``, ``age_band``, ``source``, ``a*b``);
            ``sex*age_band`` is added when both are named.
        model: bundle folder or shipped name; None picks the task's shipped model.
        backend: ``auto``, ``onnx`` or ``torch``.
        gate: the release gate to judge.
        bootstrap: resamples for the CIs.
        seed: bootstrap seed.
        age_bands: the bands of ``age_band``.
    """

    task: str
    data: Path
    split: str = "val"
    attributes: tuple[str, ...] = ("sex", "age_band", "source")
    model: str | None = None
    backend: str = "auto"
    gate: FairnessGate = DEFAULT_GATE
    bootstrap: int = 1000
    seed: int = 0
    age_bands: AgeBands = DEFAULT_AGE_BANDS
    limits: ReadLimits = field(default_factory=ReadLimits)


@dataclass(frozen=True)
class FairnessAuditResult:
    """The audit, its JSON document, and the model it audited."""

    report: FairnessReport
    document: dict[str, Any]
    model: LoadedModel


def audit_fairness(
    options: FairnessAuditOptions,
    *,
    on_start: Callable[[int], None] = lambda total: None,
    on_case: Callable[[], None] = lambda: None,
    model: LoadedModel | None = None,
) -> FairnessAuditResult:
    """Score the split and audit it (the JSON of ``medsight audit fairness --json`` is ``document``).

    Raises:
        UsageError: a segmentation task, or an attribute the data does not record.
        InvalidDatasetError: the data cannot be read or lacks the split.
    """
    task = get_task(options.task)
    if task.kind is not TaskKind.CLASSIFICATION:
        raise UsageError(f"{task.name} is a {task.kind.value} task; the fairness audit covers classifiers")
    data = load_dataset(options.data, task.label_of, options.limits, relabel=task.class_of_stored).split(options.split)
    groups = [case.groups for case in data.cases]
    names = _with_intersections(options.attributes)
    attributes = {name: attribute_values(name, groups, options.age_bands) for name in names}
    model = model or load_model(task, options.model, resolution=None, backend=options.backend)
    on_start(len(data))
    probabilities = score_split(data, model, on_case).probabilities
    y = np.asarray(data.labels, dtype=np.int64)
    audit_options = AuditOptions(
        threshold=model.threshold, min_group_n=options.gate.min_group_n, n_boot=options.bootstrap, seed=options.seed
    )
    report = fairness_audit(y, probabilities, attributes, audit_options, options.gate, options.age_bands)
    document: dict[str, Any] = {
        "task": task.name,
        "split": options.split,
        "data": {"path": str(options.data), "layout": data.layout, **_identity(data.provenance)},
        "model": model.bundle.identity(),
        "attributes": list(names),
        "age_bands": list(options.age_bands.labels()),
        **report.to_dict(),
    }
    return FairnessAuditResult(report=report, document=document, model=model)


def write_html(result: FairnessAuditResult, path: Path) -> Path:
    """Write the self-contained HTML report at ``path``.

    Raises:
        OutputError: the file cannot be written.
    """
    from medsight.audit.html import render_html  # matplotlib: only when a report is asked for

    return write_text(path, render_html(result.report, title=_title(result), context=_context(result)))


def record_in_bundle(result: FairnessAuditResult, *, command: str = "") -> dict[str, Any]:
    """Record the audit in the audited bundle: a summary in its metadata, the report in ``docs/``.

    The summary names the weights it was computed on (their sha256), the data, the gate
    and every gap, so the release step can judge it again without rescoring. The weights
    and their recorded sha256 are untouched.

    Raises:
        OutputError: the bundle cannot be written.
    """
    from medsight.audit.html import render_html

    bundle = result.model.bundle
    document = result.document
    summary: dict[str, Any] = {
        "passed": document["passed"],
        "gate": document["gate"],
        "model_sha256": bundle.sha256,
        "config_sha256": bundle.config_sha256,
        "task": document["task"],
        "split": document["split"],
        "data": {k: v for k, v in document["data"].items() if k != "path"},
        "attributes": document["attributes"],
        "overall": {k: document["overall"][k] for k in ("n", "prevalence", "auc", "auc_ci")},
        "gaps": document["gaps"],
        "audited_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "medsight_version": __version__,
        "command": command,
        "report": str(AUDIT_HTML),
    }
    html = render_html(result.report, title=_title(result), context=_context(result))
    record_with_reports(bundle, summary, field="audit", reports={AUDIT_JSON: _json(document), AUDIT_HTML: html})
    return summary


def record_with_reports(bundle: Bundle, summary: dict[str, Any], *, field: str, reports: dict[Path, str]) -> None:
    """Write an audit's reports into the bundle (paths relative to it), record its
    ``summary`` in the metadata's ``field``, and render the model card again with it.

    Raises:
        OutputError: the bundle cannot be written.
    """
    from medsight.training.model_card import bundle_model_card

    for name, text in reports.items():
        write_text(bundle.path / name, text).chmod(0o644)  # a bundle is shared; the reports hold no patient data
    recorded = record_audit(bundle, summary, field=field)
    card = bundle_model_card(recorded.path, recorded.metadata)
    write_text(recorded.path / "docs" / "model_card.md", card).chmod(0o644)


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def _with_intersections(attributes: tuple[str, ...]) -> tuple[str, ...]:
    names = list(attributes)
    for left, right in _DEFAULT_INTERSECTIONS:
        joined = f"{left}{INTERSECTION}{right}"
        if left in names and right in names and joined not in names:
            names.append(joined)
    return tuple(names)


def _identity(provenance: Any) -> dict[str, Any]:
    return {k: provenance[k] for k in ("file", "sha256", "listing_sha256") if k in provenance}


def _title(result: FairnessAuditResult) -> str:
    m = result.document["model"]
    return f"Fairness audit: {m['name']} {m['version']} on {result.document['split']}"


def _context(result: FairnessAuditResult) -> dict[str, Any]:
    doc = result.document
    return {
        "task": doc["task"],
        "model sha256": doc["model"]["sha256"],
        "data": f"{doc['data'].get('file', '')} ({doc['data']['layout']}), split {doc['split']}",
        "cases": doc["overall"]["n"],
        "age bands": ", ".join(doc["age_bands"]),
    }
