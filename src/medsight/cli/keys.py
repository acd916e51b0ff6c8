"""``medsight keys``: the master key for encryption at rest (generate, status, rotate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medsight.cli._progress import progress_bar
from medsight.cli._service import DataDirOption, service_settings
from medsight.services.keys import count_files, key_status, rotate_master_key
from medsight.store.keys import generate_key_file

__all__ = ["keys_app"]

keys_app = typer.Typer(
    help=(
        "The master key that encrypts stored objects and heatmaps at rest (AES-256-GCM data keys "
        "wrapped by it). The service reads it from $MEDSIGHT_MASTER_KEY_FILE, $MEDSIGHT_MASTER_KEY, "
        "or <data-dir>/master.key, which `medsight serve` creates for a new store."
    ),
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


@keys_app.command("generate")
def generate(
    path: Annotated[Path, typer.Argument(help="Where to write the new key (must not exist).")],
    json_output: JsonOption = False,
) -> None:
    """Write a new random master key (base64, owner-only file). Keep it off the data's disk."""
    key = generate_key_file(path)
    if json_output:
        typer.echo(json.dumps({"path": str(path), "key_id": key.key_id}))
    else:
        typer.echo(f"wrote master key {key.key_id} to {path}")


@keys_app.command("status")
def status(data_dir: DataDirOption = None, json_output: JsonOption = False) -> None:
    """The configured key's id, the ids the store is encrypted under, and files per key."""
    report = key_status(service_settings(data_dir))
    if json_output:
        typer.echo(json.dumps(report.to_dict()))
        return
    typer.echo(f"configured key: {report.configured_key_id or 'none'}")
    typer.echo(f"store encrypted under: {', '.join(report.marker_key_ids) or 'nothing (plain store)'}")
    for key_id, count in report.files_by_key.items():
        typer.echo(f"  {key_id}: {count} files")


@keys_app.command("rotate")
def rotate(
    new_key_file: Annotated[
        Path, typer.Option("--new-key-file", help="The new master key (from `medsight keys generate`).")
    ],
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Re-wrap every object's data key under a new master key (no object is re-encrypted).

    Plain objects, stored before encryption was on, are encrypted on the way. Stop the
    service first; an interrupted rotation is finished by running it again.
    """
    settings = service_settings(data_dir)
    total = count_files(settings)
    with progress_bar(not json_output) as bar:
        task = bar.add_task("rotating", total=total)
        report = rotate_master_key(settings, new_key_file, on_file=lambda: bar.advance(task))
    if json_output:
        typer.echo(json.dumps(report.to_dict()))
        return
    typer.echo(
        f"master key {report.previous_key_id or '(none)'} -> {report.new_key_id}: "
        f"{report.rewrapped} re-wrapped, {report.sealed} encrypted, {report.unchanged} already under the new key"
    )
    if report.installed_at:
        typer.echo(f"the new key is now {report.installed_at}")
    if report.retired_at:
        typer.echo(f"the old key is {report.retired_at}")
    for note in report.notes:
        typer.echo(note)
