"""``medsight convert``: one image to NIfTI, PNG or DICOM Secondary Capture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medsight.services.convert import convert as convert_service
from medsight.settings import get_settings

__all__ = ["convert"]


def convert(
    path: Annotated[Path, typer.Argument(help="The image: a file, or a folder/zip/DICOMDIR holding one series.")],
    output: Annotated[Path, typer.Argument(help="Output file: .nii.gz, .nii, .png or .dcm (Secondary Capture).")],
    preset: Annotated[
        str | None, typer.Option("--preset", help="Window for PNG/DICOM output: lung, bone, brain, soft_tissue, ...")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Convert an image; the format follows the output's suffix.

    NIfTI keeps physical values and geometry (LPS converted to RAS); PNG and DICOM are
    windowed for display. The output is written atomically: on failure none is left.
    """
    result = convert_service(path, output, get_settings(), preset=preset)
    if as_json:
        typer.echo(json.dumps({"output": result.output, "format": result.format, "shape": list(result.shape)}))
    else:
        typer.echo(f"wrote {result.output} ({result.format}, {' x '.join(map(str, result.shape))})")
