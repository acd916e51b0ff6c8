"""``medsight dataset build``: a training folder from stored studies, under consent (issue 8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medsight.cli._service import DataDirOption, open_context
from medsight.privacy.profile import parse_options
from medsight.services.deid import load_key, make_profile
from medsight.services.training_data import build_dataset
from medsight.store.consent import ConsentLog

__all__ = ["dataset_app"]

dataset_app = typer.Typer(help="Training datasets built from the store, under consent.", no_args_is_help=True)


@dataset_app.command("build")
def build(
    task: Annotated[str, typer.Option("--task", "-t", help="The classification task the labels are for.")],
    labels: Annotated[
        Path, typer.Option("--labels", help="CSV: study_instance_uid,label[,split] (split: train or val).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The new dataset folder (must be new or empty).")],
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="The de-identification key (default: $MEDSIGHT_DEID_KEY_FILE).")
    ] = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Write the labelled studies of patients who consent to model training, de-identified.

    The folder is in the labels.csv layout `medsight train` reads, split by patient, with
    a provenance.json of every image's patient pseudonym and hashes. `medsight train
    --data FOLDER` checks consent again when it runs and records whose data it used.
    """
    key = load_key(key_file)
    profile = make_profile("basic", parse_options(["clean-pixel-data"]))
    with open_context(data_dir) as context:
        report = build_dataset(
            context.store,
            ConsentLog(context.store.sessions),
            key,
            task=task,
            labels=labels,
            out=out,
            profile=profile,
        )
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    typer.echo(
        f"wrote {report.out}: {report.images} images of {report.patients} patients "
        f"({', '.join(f'{k} {v}' for k, v in report.split_sizes.items())}); "
        f"left out: {report.studies_without_consent} studies without consent, "
        f"{report.refused_burned_in_text} images with uncleanable burned-in text"
    )
