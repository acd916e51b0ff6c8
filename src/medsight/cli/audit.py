"""``medsight audit fairness``: a model's subgroup performance and gaps, judged by the release gate."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from medsight.audit import DEFAULT_GATE, AgeBands, FairnessGate, parse_attributes
from medsight.cli._options import OcclusionPatchOption, OcclusionStrideOption, saliency_spec
from medsight.cli._progress import stderr_console, stdout_console
from medsight.errors import UsageError
from medsight.settings import get_settings

__all__ = [
    "DEFAULT_GATE_ATTRIBUTES",
    "GateAttributesOption",
    "MaxEodOption",
    "MinGroupOption",
    "audit_app",
    "make_gate",
]

audit_app = typer.Typer(
    help="Audit models before release (subgroup fairness; faithfulness of saliency maps).", no_args_is_help=True
)

DEFAULT_GATE_ATTRIBUTES = ",".join(DEFAULT_GATE.attributes)
GateAttributesOption = Annotated[
    str, typer.Option("--gate-attributes", help="Attributes the release gate judges (comma-separated).")
]
MaxEodOption = Annotated[
    float,
    typer.Option("--max-eod", min=0.0, max=1.0, help="Largest equalized-odds difference the gate allows."),
]
MinGroupOption = Annotated[
    int, typer.Option("--min-group-n", min=1, help="Groups smaller than this are reported as too small, not judged.")
]


def make_gate(attributes: str, max_eod: float, min_group_n: int) -> FairnessGate:
    """The gate from the command-line options."""
    return FairnessGate(parse_attributes(attributes), max_eod, min_group_n)


def fairness(
    task: Annotated[str, typer.Option("--task", "-t", help="Task of the model (see `medsight tasks`).")],
    data: Annotated[Path, typer.Option("--data", "-d", help="labels.csv layout with subgroup columns.")],
    split: Annotated[str, typer.Option("--split", help="train, val, test or all.")] = "val",
    groups: Annotated[
        str,
        typer.Option(
            "--groups",
            help="Attributes to audit: columns of the data, age_band (from age), a*b for an intersection. "
            "sex*age_band is added when both are named.",
        ),
    ] = "sex,age_band,source",
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Bundle folder or shipped name; default: the task's.")
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write the self-contained HTML report here.")] = None,
    record: Annotated[
        bool, typer.Option("--record", help="Record the audit in the model's bundle (what the release gate reads).")
    ] = False,
    gate_attributes: GateAttributesOption = DEFAULT_GATE_ATTRIBUTES,
    max_eod: MaxEodOption = DEFAULT_GATE.max_equalized_odds_difference,
    min_group_n: MinGroupOption = DEFAULT_GATE.min_group_n,
    age_bands: Annotated[
        str, typer.Option("--age-bands", help="Lower edges of the age bands after the first, years.")
    ] = "18,40,60",
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=100, help="Bootstrap resamples for the CIs.")] = 1000,
    backend: Annotated[str, typer.Option("--backend", help="auto, onnx or torch.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Audit a classifier's fairness across subgroups of a labelled split.

    Per group and for sex x age band: n, prevalence, AUC, sensitivity, specificity, PPV,
    false-negative rate and ECE at the model's deployed threshold, with 95% bootstrap CIs;
    the TPR, FPR, equalized-odds and AUC gaps between groups with CIs; groups under
    --min-group-n reported as too small, never judged; and the release gate's verdict
    (default: equalized-odds difference across sex <= 0.10). A failed gate is a result
    ("passed": false), not an error; `medsight models promote` is where it refuses.
    """
    from medsight.cli._progress import progress_bar
    from medsight.services.audit import FairnessAuditOptions, audit_fairness, record_in_bundle, write_html

    try:
        bands = AgeBands(tuple(int(v) for v in age_bands.split(",") if v.strip()))
    except ValueError:
        raise UsageError("--age-bands takes whole years separated by commas, e.g. 18,40,60") from None
    options = FairnessAuditOptions(
        task=task,
        data=data,
        split=split,
        attributes=parse_attributes(groups),
        model=model,
        backend=backend,
        gate=make_gate(gate_attributes, max_eod, min_group_n),
        bootstrap=bootstrap,
        age_bands=bands,
        limits=get_settings().limits,
    )
    with progress_bar(not as_json) as bar:
        job = bar.add_task("score", total=None)
        result = audit_fairness(options, on_start=lambda n: bar.update(job, total=n), on_case=lambda: bar.advance(job))
    report_path = None if report is None else write_html(result, report)
    if record:
        record_in_bundle(result, command=_command_line())
    _emit(result.document, report_path, result.model.bundle.path if record else None, as_json, _render)


audit_app.command("fairness")(fairness)


def _command_line() -> str:
    """The command as typed, recorded with an audit in the bundle."""
    return "medsight " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _emit(
    document: dict[str, Any],
    report: Path | None,
    recorded_in: Path | None,
    as_json: bool,
    render: Callable[[dict[str, Any]], None],
) -> None:
    """An audit's document, with where its report went and where it was recorded, as JSON or rendered."""
    if report is not None:
        document["report"] = str(report)
    if recorded_in is not None:
        document["recorded_in"] = str(recorded_in)
    if as_json:
        typer.echo(json.dumps(document, indent=2))
    else:
        render(document)


def saliency(
    task: Annotated[str, typer.Option("--task", "-t", help="A classification task (see `medsight tasks`).")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Its dataset, in any layout `evaluate` reads.")],
    split: Annotated[str, typer.Option("--split", help="train, val, test or all.")] = "val",
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Bundle folder or shipped name; default: the task's.")
    ] = None,
    cases: Annotated[
        int, typer.Option("--cases", min=2, help="Most positive calls to explain (a seeded sample when more).")
    ] = 100,
    steps: Annotated[int, typer.Option("--steps", min=2, max=100, help="Fractions of pixels moved per curve.")] = 16,
    baseline: Annotated[
        str,
        typer.Option(
            "--baseline",
            help="Where moved pixels come from: negative (a case the model calls negative) or blur.",
        ),
    ] = "negative",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample, random maps and random weights.")] = 0,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=100, help="Bootstrap resamples for the CIs.")] = 1000,
    report: Annotated[Path | None, typer.Option("--report", help="Write the self-contained HTML report here.")] = None,
    record: Annotated[
        bool, typer.Option("--record", help="Record the audit in the model's bundle and its model card.")
    ] = False,
    backend: Annotated[str, typer.Option("--backend", help="Scoring backend: auto, onnx or torch.")] = "auto",
    method: Annotated[
        str | None,
        typer.Option("--method", help="Audit a candidate method (gradcam or occlusion); default: the model's own."),
    ] = None,
    patch: OcclusionPatchOption = 0,
    stride: OcclusionStrideOption = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Audit whether a classifier's saliency maps (by its own method, as `analyze --heatmap`
    draws them, or by a candidate `--method`) are faithful to it, on the cases of a split it
    calls positive.

    Deletion and insertion (Petsiuk et al. 2018): replacing the pixels the map ranks
    highest by a negative case's must lower the probability faster, and restoring them
    first must raise it faster, than in a random smooth map's order. Model randomization (Adebayo et al.
    2018): the maps must change when the output layer, or every weight, is
    re-initialised (rank correlation below 0.5). Each with a 95% bootstrap CI; a failed
    check is a result ("passed": false), not an error.
    """
    from medsight.cli._progress import progress_bar
    from medsight.services.saliency_audit import (
        SaliencyAuditOptions,
        audit_saliency,
        record_saliency_in_bundle,
        write_saliency_html,
    )

    options = SaliencyAuditOptions(
        task=task,
        data=data,
        split=split,
        model=model,
        cases=cases,
        steps=steps,
        baseline=baseline,
        seed=seed,
        bootstrap=bootstrap,
        backend=backend,
        limits=get_settings().limits,
        saliency=None if method is None else saliency_spec(method, patch, stride),
        to_record=record,
    )
    with progress_bar(not as_json) as bar:
        job = bar.add_task("loading", total=None)
        result = audit_saliency(options, on_stage=lambda stage: bar.update(job, description=stage))
    report_path = None if report is None else write_saliency_html(result, report)
    if record:
        record_saliency_in_bundle(result, command=_command_line())
    _emit(result.document, report_path, result.model.bundle.path if record else None, as_json, _render_saliency)


audit_app.command("saliency")(saliency)


def _render_saliency(document: dict[str, Any]) -> None:
    from rich.table import Table

    console = stdout_console()
    m, explained = document["model"], document["explained"]
    console.print(
        escape(
            f"{m['name']} {m['version']} on {document['data']['path']} [{document['split']}]: "
            f"{explained['explained']} of {explained['positive_calls']} {explained['class']} calls explained "
            f"({explained['true_positives']} true positives)"
        ),
        highlight=False,
    )
    table = Table(title="saliency checks", title_justify="left")
    for heading in ("check", "mean [95% CI]", "verdict"):
        table.add_column(heading, justify="left")
    for name, check in document["checks"].items():
        verdict = "[green]passed[/green]" if check["passed"] else "[red]failed[/red]"
        table.add_row(name.replace("_", " "), _cell(check, "mean", "ci"), verdict)
    console.print(table)
    areas = document["areas"]
    console.print(
        f"  areas: deletion {_num(areas['deletion'])} (random {_num(areas['deletion_random'])}), "
        f"insertion {_num(areas['insertion'])} (random {_num(areas['insertion_random'])})",
        highlight=False,
    )
    verdict = "[green]PASSED[/green]" if document["passed"] else "[red]FAILED[/red]"
    console.print(f"saliency audit: {verdict}")
    for key in ("report", "recorded_in"):
        if key in document:
            stderr_console().print(escape(f"{key.replace('_', ' ')}: {document[key]}"), highlight=False)


def _render(document: dict[str, Any]) -> None:
    from rich.table import Table

    console = stdout_console()
    m = document["model"]
    console.print(
        escape(
            f"{m['name']} {m['version']} on {document['data']['path']} [{document['split']}], "
            f"threshold {document['threshold']:.3f}, n={document['overall']['n']}"
        ),
        highlight=False,
    )
    for attribute, records in document["groups"].items():
        table = Table(title=f"by {attribute}", title_justify="left")
        for heading in ("group", "n", "prev.", "AUC", "sens.", "spec.", "PPV", "FNR", "ECE", "status"):
            table.add_column(heading, justify="left" if heading in ("group", "status") else "right")
        for r in records:
            cells = [_cell(r, k) for k in ("auc", "sensitivity", "specificity", "ppv", "fnr", "ece")]
            table.add_row(r["value"], str(r["n"]), _num(r["prevalence"]), *cells, r["status"].replace("_", " "))
        console.print(table)
        gap = document["gaps"][attribute]
        console.print(
            f"  gaps over {', '.join(gap['compared']) or 'fewer than two groups'}: "
            f"TPR {_cell(gap, 'tpr_difference')}, FPR {_cell(gap, 'fpr_difference')}, "
            f"equalized odds {_cell(gap, 'equalized_odds_difference')}, AUC {_cell(gap, 'auc_difference')}",
            highlight=False,
        )
    verdict = "[green]PASSED[/green]" if document["passed"] else "[red]FAILED[/red]"
    console.print(f"release gate: {verdict}")
    for check in document["gate"]["checks"]:
        console.print(escape(f"  {check['attribute']}: {check['verdict']} ({check['reason']})"), highlight=False)
    for key in ("report", "recorded_in"):
        if key in document:
            stderr_console().print(escape(f"{key.replace('_', ' ')}: {document[key]}"), highlight=False)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _cell(record: dict[str, Any], key: str, ci_key: str | None = None) -> str:
    ci = record.get(ci_key or f"{key}_ci") or [None, None]
    interval = "" if None in ci else f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    return _num(record[key]) + interval
