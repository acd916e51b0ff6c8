"""``medsight info``: what a file, folder, DICOMDIR or zip holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from medsight.services.inspect import InspectReport, inspect
from medsight.settings import get_settings

__all__ = ["info"]


def info(
    path: Annotated[Path, typer.Argument(help="A DICOM file, folder, DICOMDIR, zip, NIfTI, PNG, JPEG or TIFF.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of a table.")] = False,
) -> None:
    """Show each image or series: modality, body part, size, spacing, frames, encoding, warnings.

    Reads headers only. Files that fail are listed with their error; the exit code is 3
    when nothing could be read, else 0.
    """
    report = inspect(path, get_settings())
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        _render(report)


def _render(report: InspectReport) -> None:
    from rich.console import Console
    from rich.table import Table

    # Piped output is read by people too (in logs): do not fold it at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 200)
    table = Table(title=f"{report.path}: {len(report.images)} image(s)", title_justify="left")
    for column in ("source", "modality", "body part", "layout", "size", "spacing (mm)", "frames", "encoding", "files"):
        table.add_column(column, overflow="fold")
    root = Path(report.path)
    for summary in report.images:
        spacing = " x ".join(f"{s:.3g}" for s in summary.spacing) if summary.spacing else "unknown"
        table.add_row(
            _relative(summary.label, root),
            summary.modality,
            summary.body_part or "",
            summary.layout.value,
            " x ".join(str(n) for n in summary.shape),
            spacing,
            str(summary.frames),
            summary.transfer_syntax_name or summary.format,
            str(summary.instances),
        )
    console.print(table)
    err = Console(stderr=True)
    for summary in report.images:
        for warning in summary.warnings:
            err.print(f"[yellow]warning[/] {escape(f'{_relative(summary.label, root)}: {warning}')}", highlight=False)
    for failure in report.failures:
        message = _relative(failure.message, root)
        # Codes, file names and messages are text, not markup: "[input.unreadable]" is a valid rich tag.
        err.print(f"[red]failed[/] {escape(f'[{failure.code}] {message}')}", highlight=False, markup=True)
    if report.skipped:
        err.print(
            f"skipped {len(report.skipped)} file(s) that hold no image (not DICOM, or no pixel data)", highlight=False
        )


def _relative(label: str, root: Path) -> str:
    """A label shortened to the part below the folder the user named."""
    base = str(root if root.is_dir() else root.parent)
    if label.startswith(base):
        return label[len(base) :].lstrip("/") or label
    return label
