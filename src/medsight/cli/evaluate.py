"""``medsight evaluate``: a model's metrics on a labelled split, with 95% bootstrap CIs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from medsight.cli._options import TtaOption
from medsight.cli._progress import stdout_console
from medsight.settings import get_settings

__all__ = ["evaluate"]

_ROWS = ("auc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "f1", "ece", "brier")


def evaluate(
    task: Annotated[str, typer.Option("--task", "-t", help="Task to evaluate (see `medsight tasks`).")],
    data: Annotated[
        Path,
        typer.Option(
            "--data", "-d", help="Dataset: .npz, labels.csv, class folders, HC18, or an MRI folder with index.csv."
        ),
    ],
    split: Annotated[
        str, typer.Option("--split", help="train, val, test, or all (HC18 and MRI layouts: train, val, all).")
    ] = "test",
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Bundle folder or shipped name; default: the one matching the data's size."),
    ] = None,
    plots: Annotated[Path | None, typer.Option("--plots", help="Folder for roc.png and reliability.png.")] = None,
    backend: Annotated[str, typer.Option("--backend", help="auto, onnx or torch.")] = "auto",
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=100, help="Bootstrap resamples for the CIs.")] = 2000,
    by: Annotated[
        str,
        typer.Option("--by", help="Subgroup columns to report per value of, where recorded (comma-separated)."),
    ] = "source",
    tta: TtaOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Score a model on a labelled split, with 95% bootstrap CIs.

    Every case is scored; AUC, accuracy, sensitivity, specificity, PPV, NPV, F1, ECE and
    Brier score each come with a 95% stratified bootstrap CI, at the model's stored threshold.
    Where the data records a site (``source``) or another ``--by`` column, the same metrics
    are reported per value as well (``by`` in the JSON).
    """
    from medsight.cli._progress import progress_bar
    from medsight.services.evaluate import EvaluateOptions
    from medsight.services.evaluate import evaluate as run

    options = EvaluateOptions(
        task=task,
        data=data,
        split=split,
        model=model,
        backend=backend,
        plots=plots,
        bootstrap=bootstrap,
        limits=get_settings().limits,
        by=tuple(c.strip() for c in by.split(",") if c.strip()),
        tta=tta,
    )
    with progress_bar(not as_json) as bar:
        job = bar.add_task("score", total=None)
        report = run(options, on_start=lambda n: bar.update(job, total=n), on_case=lambda: bar.advance(job))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _render(report)


def _render(report: dict[str, Any]) -> None:
    from rich.table import Table

    if "dice" in report:
        _render_segmentation(report)
        return
    if "dice_mean" in report:
        _render_volumes(report)
        return
    console = stdout_console()
    m = report["model"]
    title = (
        f"{m['name']} {m['version']} on {report['data']['path']} [{report['split']}]: n={report['n']}, "
        f"prevalence {report['prevalence']:.1%}, threshold {report['threshold']:.3f}"
    )
    table = Table(title=title, title_justify="left")
    for column in ("metric", "value", "95% CI"):
        table.add_column(column, justify="right" if column != "metric" else "left")
    for key in _ROWS:
        value, ci = report[key], report[f"{key}_ci"]
        shown = "n/a" if value is None else f"{value:.4f}"
        interval = "" if None in ci else f"[{ci[0]:.4f}, {ci[1]:.4f}]"
        table.add_row(key, shown, interval)
    console.print(table)
    unc = report["uncertainty"]
    console.print(
        f"conformal sets at {unc['coverage_target']:.0%}: coverage {unc['coverage']}, "
        f"ambiguous {unc['ambiguous_rate']:.1%}",
        highlight=False,
    )
    agreement = unc.get("members")
    if agreement:
        console.print(
            f"ensemble of {agreement['n']}: members unanimous on {agreement['unanimous_rate']:.1%}; accuracy "
            f"{_rate(agreement, 'unanimous')} where unanimous, {_rate(agreement, 'split')} where they split",
            highlight=False,
        )
    refused = report["refused"]
    console.print(f"would be refused by analyze: {refused['n']} ({refused['rate']:.1%}) {refused['by_check']}")
    for name, file in report.get("plots", {}).items():
        console.print(escape(f"{name}: {file}"), highlight=False)
    for column, records in report.get("by", {}).items():
        _render_by(column, records)


def _render_by(column: str, records: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=f"by {column}", title_justify="left")
    table.add_column(column)
    for heading in ("n", "prevalence", "auc", "accuracy", "sensitivity", "specificity"):
        table.add_column(heading, justify="right")
    for record in records:
        cells = [str(record["n"]), f"{record['prevalence']:.1%}"]
        for key in ("auc", "accuracy", "sensitivity", "specificity"):
            value, ci = record[key], record[f"{key}_ci"]
            cells.append(
                "n/a" if value is None else f"{value:.3f}" + ("" if None in ci else f" [{ci[0]:.3f}, {ci[1]:.3f}]")
            )
        table.add_row(record["value"], *cells)
    stdout_console().print(table)


_SEGMENTATION_ROWS = ("dice", "hd95_mm", "hc_mae_mm", "hc_median_mm", "hc_p95_mm")
_VOLUME_ROWS = ("dice_mean", "hd95_mm", "volume_abs_error_ml", "false_positive_ml")


def _render_volumes(report: dict[str, Any]) -> None:
    """The MRI report: Dice per label and the aggregates, each with its CI; refusals."""
    from rich.table import Table

    console = stdout_console()
    m = report["model"]
    title = f"{m['name']} {m['version']} on {report['data']['path']} [{report['split']}]: n={report['n']} cases"
    table = Table(title=title, title_justify="left")
    for column in ("metric", "value", "95% CI"):
        table.add_column(column, justify="right" if column != "metric" else "left")
    rows = [(f"dice {name}", v, report["dice_per_label_ci"][name]) for name, v in report["dice_per_label"].items()]
    rows += [(key, report[key], report[f"{key}_ci"]) for key in _VOLUME_ROWS if key in report]
    for name, value, ci in rows:
        interval = "" if None in ci else f"[{ci[0]:.4f}, {ci[1]:.4f}]"
        table.add_row(name, "n/a" if value is None else f"{value:.4f}", interval)
    console.print(table)
    console.print(_confidence_line(report.get("confidence")), highlight=False)
    refused = report["refused"]
    console.print(f"would be refused by analyze: {refused['n']} ({refused['rate']:.1%}) {refused['by_check']}")


def _confidence_line(tracking: dict[str, Any] | None) -> str:
    """How the model's per-case confidence (its expected Dice) tracks the real Dice, in words."""
    if not tracking or tracking.get("mean_dice") is None:
        return "confidence (expected Dice): not compared (fewer than 3 cases)"
    expected, real, rho = tracking["mean_expected_dice"], tracking["mean_dice"], tracking["spearman"]
    gap = expected - real
    leaning = "optimistic" if gap > 0 else "pessimistic" if gap < 0 else "level"
    ranking = "n/a" if rho is None else f"{rho:.2f}"
    return (
        f"confidence (expected Dice): mean {expected:.4f} against a real mean of {real:.4f}"
        f" ({leaning} by {abs(gap):.4f}); Spearman {ranking} between them per case"
    )


def _render_segmentation(report: dict[str, Any]) -> None:
    from rich.table import Table

    console = stdout_console()
    m = report["model"]
    title = f"{m['name']} {m['version']} on {report['data']['path']} [{report['split']}]: n={report['n']}"
    table = Table(title=title, title_justify="left")
    for column in ("metric", "value", "95% CI"):
        table.add_column(column, justify="right" if column != "metric" else "left")
    for key in _SEGMENTATION_ROWS:
        value, ci = report[key], report[f"{key}_ci"]
        interval = "" if None in ci else f"[{ci[0]:.4f}, {ci[1]:.4f}]"
        table.add_row(key, "n/a" if value is None else f"{value:.4f}", interval)
    console.print(table)
    console.print(f"no head found: {report['failed']}", highlight=False)
    console.print(_confidence_line(report.get("confidence")), highlight=False)
    refused = report["refused"]
    console.print(f"would be refused by analyze: {refused['n']} ({refused['rate']:.1%}) {refused['by_check']}")


def _rate(agreement: dict[str, Any], subset: str) -> str:
    """``0.912 [0.85, 0.95] (n 110)``, or ``n/a (n 0)``."""
    value, ci, n = agreement[f"accuracy_{subset}"], agreement[f"accuracy_{subset}_ci"], agreement[f"n_{subset}"]
    if value is None:
        return f"n/a (n {n})"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] (n {n})"
