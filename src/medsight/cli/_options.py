"""Options more than one model command takes, as typed aliases (like ``DataDirOption``)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["TtaOption"]

TtaOption = Annotated[
    str | None,
    typer.Option(
        "--tta",
        help="MRI volume tasks: test-time augmentation, none or flip (left-right mirror); default: the model's.",
    ),
]
