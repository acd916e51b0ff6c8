"""Options more than one model command takes, as typed aliases (like ``DataDirOption``)."""

from __future__ import annotations

from typing import Annotated

import typer

from medsight.errors import UsageError
from medsight.models.saliency import SaliencySpec

__all__ = ["OcclusionPatchOption", "OcclusionStrideOption", "TtaOption", "saliency_spec"]

TtaOption = Annotated[
    str | None,
    typer.Option(
        "--tta",
        help="MRI volume tasks: test-time augmentation, none or flip (left-right mirror); default: the model's.",
    ),
]

OcclusionPatchOption = Annotated[
    int, typer.Option("--patch", min=0, help="Occlusion: side of the filled square, px at the model's input.")
]
OcclusionStrideOption = Annotated[
    int, typer.Option("--stride", min=0, help="Occlusion: step between squares, px (at most --patch).")
]


def saliency_spec(method: str, patch: int, stride: int) -> SaliencySpec:
    """``--method``, ``--patch`` and ``--stride`` as a saliency setting.

    Raises:
        UsageError: an unknown method or parameters that do not fit it.
    """
    try:
        return SaliencySpec(method.strip().lower(), patch, stride)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc  # it names the methods when the method is wrong
