"""``medsight tasks``: the diagnostic tasks and the models that ship for them."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

__all__ = ["tasks"]


def tasks(as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False) -> None:
    """List every task, its classes, what it accepts, and its shipped models."""
    from medsight.models.bundle import shipped_bundles
    from medsight.tasks import get_task, task_names

    shipped = shipped_bundles()
    rows: list[dict[str, Any]] = []
    for name in task_names():
        spec = get_task(name)
        models = {str(size): model for size, model in spec.shipped_models.items()}
        rows.append(
            {
                "task": name,
                "title": spec.title,
                "classes": list(spec.classes),
                "accepts": spec.acceptance.description,
                "models": models,
                "installed": [m for m in models.values() if m in shipped],
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['task']}: {row['title']} (classes: {', '.join(row['classes'])}; accepts {row['accepts']})")
        for size, model in row["models"].items():
            state = "installed" if model in row["installed"] else "not installed"
            typer.echo(f"  {size} px: {model} ({state})")
