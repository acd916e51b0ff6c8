"""``medsight deid``: de-identify DICOM (PS3.15 Basic Profile), or check what remains."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from medsight.cli._progress import progress_bar, stderr_console
from medsight.errors import BurnedInTextError, ResidualPhiError, UsageError
from medsight.privacy.profile import Option, parse_options
from medsight.services.deid import CheckSummary, DeidSummary, check, deidentify, load_key, make_profile
from medsight.settings import get_settings

__all__ = ["deid"]

_OPTIONS = ", ".join(option.value for option in Option)


def deid(
    source: Annotated[Path, typer.Argument(help="A DICOM file, a folder or a zip archive.")],
    output: Annotated[Path | None, typer.Argument(help="Output file or folder (not with --check).")] = None,
    profile: Annotated[str, typer.Option("--profile", help="Confidentiality profile.")] = "basic",
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help=f"Profile option (repeatable): {_OPTIONS}.")
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="Secret key for pseudonyms (else $MEDSIGHT_DEID_KEY).")
    ] = None,
    check_only: Annotated[bool, typer.Option("--check", help="Report what the profile says must not remain.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """De-identify with the DICOM PS3.15 Basic Application Level Confidentiality Profile.

    UIDs, patient identifiers and the per-patient date shift are keyed HMACs: the same
    key gives the same pseudonyms in every run. Images that may carry burned-in text
    (Burned In Annotation YES, ultrasound, secondary capture) are cleaned with
    ``--option clean-pixel-data``, else refused. Exit 4 when an image was refused or,
    with --check, when anything remains.
    """
    chosen = parse_options(option or [])
    compiled = make_profile(profile, chosen)
    limits = get_settings().limits
    with progress_bar(enabled=not as_json) as bar:
        task = bar.add_task("checking" if check_only else "de-identifying", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if check_only:
            if output is not None:
                raise UsageError("--check takes one path")
            _report_check(check(source, compiled, limits=limits, progress=advance), as_json)
            return
        if output is None:
            raise UsageError("give an output file or folder (or --check)")
        key = load_key(key_file)
        started = time.perf_counter()
        summary = deidentify(source, output, compiled, key, limits=limits, progress=advance)
    _report_run(summary, output, time.perf_counter() - started, as_json)


def _report_run(summary: DeidSummary, output: Path, seconds: float, as_json: bool) -> None:
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "output": str(output),
                    "written": summary.written,
                    "cleaned": summary.cleaned,
                    "refused": summary.refused,
                    "skipped": summary.skipped,
                    "seconds": round(seconds, 3),
                }
            )
        )
    else:
        typer.echo(
            f"wrote {summary.written} file(s) to {output} ({summary.cleaned} with pixels cleaned, "
            f"{len(summary.skipped)} not DICOM skipped) in {seconds:.1f} s"
        )
        console = stderr_console()
        for label in summary.refused:
            console.print(f"refused {label}: may carry burned-in text", markup=False, highlight=False)
    if summary.refused:
        raise BurnedInTextError(
            f"{len(summary.refused)} image(s) may carry burned-in text and were not exported; "
            "use --option clean-pixel-data"
        )


def _report_check(summary: CheckSummary, as_json: bool) -> None:
    if as_json:
        files = [
            {
                "file": f.label,
                "burned_in": f.burned_in,
                "findings": [
                    {"tag": x.tag, "name": x.name, "action": x.action, "reason": x.reason} for x in f.findings
                ],
            }
            for f in summary.files
        ]
        typer.echo(json.dumps({"clean": summary.clean, "files": files, "skipped": summary.skipped}, indent=2))
    else:
        for f in summary.files:
            if f.burned_in is not None:
                typer.echo(f"{f.label}: image flagged: {f.burned_in}")
            for x in f.findings:
                typer.echo(f"{f.label}: {x.tag} {x.name} [{x.action}]: {x.reason}")
        typer.echo(f"{len(summary.files)} file(s) checked: {'clean' if summary.clean else 'identifying data remains'}")
    if not summary.clean:
        remaining = sum(len(f.findings) for f in summary.files)
        flagged = sum(f.burned_in is not None for f in summary.files)
        raise ResidualPhiError(f"{remaining} attribute(s) remain and {flagged} image(s) are flagged")
