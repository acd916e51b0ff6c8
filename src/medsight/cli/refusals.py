"""``medsight refusals``: false-refusal rate on a task's own inputs, refusal rate on the foreign ones it names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medsight.cli._progress import stdout_console

__all__ = ["refusals"]


def refusals(
    task: Annotated[str, typer.Option("--task", "-t", help="Task whose model to check.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="Bundle folder or shipped name.")] = None,
    data: Annotated[
        Path | None, typer.Option("--data", "-d", help="The model's dataset; its val split measures false refusals.")
    ] = None,
    shared: Annotated[Path | None, typer.Option("--shared", help="Shared data with other modalities.")] = Path(
        "../shared"
    ),
    per_group: Annotated[int, typer.Option("--per-group", min=10, help="Most images per group.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Refusal rates per kind of input, with 95% Wilson CIs.

    The model's own val split (false refusals; with --data), then the foreign inputs its
    task is checked against (other ultrasound, X-rays, MRI, DICOM samples with and without
    metadata, synthetic inputs), from what --shared holds. Any task: classifiers, the
    fetal head and the MRI segmenters.
    """
    from rich.table import Table

    from medsight.services.refusal import load_checked_model, refusal_groups, refusal_report
    from medsight.tasks import get_task

    spec = get_task(task)
    loaded = load_checked_model(spec, model)
    groups = refusal_report(
        loaded, refusal_groups(loaded, data, shared if shared and shared.is_dir() else None, per_group=per_group)
    )
    rows = [g.to_dict() for g in groups]
    if as_json:
        typer.echo(json.dumps({"model": loaded.bundle.identity(), "groups": rows}, indent=2))
        return
    table = Table(title=f"refusals of {loaded.bundle.name} {loaded.bundle.version}", title_justify="left")
    for column in ("inputs", "should be", "n", "refused", "rate [95% CI]", "by check"):
        table.add_column(column)
    for row in rows:
        ci = row["rate_ci"]
        rate = f"{row['rate']:.1%} [{ci[0]:.1%}, {ci[1]:.1%}]" if row["n"] else "-"
        checks = ", ".join(f"{k} {v}" for k, v in row["by_check"].items())
        table.add_row(row["name"], row["expected"], str(row["n"]), str(row["refused"]), rate, checks)
    stdout_console().print(table)
