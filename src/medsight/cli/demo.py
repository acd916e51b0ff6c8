"""``medsight demo``: analyse a mixed demo set with the shipped models (what ``make run`` shows)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from medsight.cli._progress import stdout_console

__all__ = ["demo"]


def demo(
    work: Annotated[Path, typer.Option("--work", help="Folder for the demo inputs and heatmaps.")] = Path("var/demo"),
    shared: Annotated[
        Path | None, typer.Option("--shared", help="The shared data folder (val chest X-rays come from it).")
    ] = Path("../shared"),
    offline: Annotated[bool, typer.Option("--offline", help="Never try to download chest X-rays.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Score validation chest X-rays with heatmaps, and show non-chest inputs refused with reasons."""

    from medsight.cli.analyze import _render
    from medsight.services.demo import TASK, run_demo
    from medsight.tasks import get_task

    models = list(get_task(TASK).shipped_models.values())
    inputs, reports = run_demo(work, shared if shared and shared.is_dir() else None, models=models, online=not offline)
    if as_json:
        out = {
            "inputs": str(inputs.folder),
            "chest_source": inputs.chest_source,
            "models": {m: {"counts": r.counts, "results": r.records} for m, r in reports.items()},
        }
        typer.echo(json.dumps(out, indent=2))
        return
    console = stdout_console()
    where = escape(f"inputs in {inputs.folder}; chest X-rays from {inputs.chest_source}")
    console.print(f"[bold]medsight demo[/]: {where}")
    for model, report in reports.items():
        console.print(f"\n[bold]{model}[/]: {report.counts}")
        _render(report.records, inputs.folder)
    console.print(escape(f"\nheatmaps in {work / 'heatmaps'}"), highlight=False)
