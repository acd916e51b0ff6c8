"""``medsight analyze``: score images with a task's model, or refuse them with a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from medsight.cli._options import TtaOption
from medsight.cli._progress import stdout_console
from medsight.errors import NoImagesFoundError
from medsight.settings import get_settings

__all__ = ["analyze"]


def analyze(
    path: Annotated[Path, typer.Argument(help="An image file (DICOM, PNG, JPEG, TIFF), a folder or a zip.")],
    task: Annotated[str, typer.Option("--task", "-t", help="Task to run (see `medsight tasks`).")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Bundle folder or shipped model name; default: the task's.")
    ] = None,
    heatmap: Annotated[
        Path | None,
        typer.Option(
            "--heatmap",
            help="Write saliency overlays (the model's method, Grad-CAM unless its bundle names occlusion; "
            "segmentation: the fitted outline): a .png for one input, else a folder.",
        ),
    ] = None,
    pixel_size: Annotated[
        float | None,
        typer.Option("--pixel-size", min=1e-4, help="mm per pixel, for inputs that record none (measurements)."),
    ] = None,
    backend: Annotated[
        str, typer.Option("--backend", help="auto (ONNX Runtime where exported), onnx or torch.")
    ] = "auto",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help=(
                "MRI volume tasks: write each volume's <name>.mask.nii.gz, and for a DICOM series "
                "<name>.seg.dcm (DICOM Segmentation) and <name>.sr.dcm (SR with the volumes), into this folder."
            ),
        ),
    ] = None,
    tta: TtaOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document for machines.")] = False,
) -> None:
    """Score images with a task's model, or refuse them with a reason.

    Calibrated probability, label at the model's threshold, uncertainty and (optionally)
    a saliency heatmap (Grad-CAM, or occlusion where the model's bundle names it). MRI
    volume tasks (mri-brain-tumour, mri-hippocampus) report each label's volume in mL and
    write the mask as NIfTI and, for a DICOM series, as a DICOM Segmentation with an SR of
    the volumes (--out).

    Inputs the model was not made for (another modality, body part or view, colour,
    blank, or unlike its training images) are refused with a reason instead of scored.
    Exit code 0 when at least one input was scored or refused, 3 when none could be read.
    """
    from medsight.cli._progress import progress_bar
    from medsight.services.analyze import AnalyzeOptions, analyze_path

    options = AnalyzeOptions(
        task=task,
        model=model,
        backend=backend,
        heatmap=heatmap,
        limits=get_settings().limits,
        pixel_spacing_mm=pixel_size,
        out=out,
        tta=tta,
    )
    with progress_bar(not as_json) as bar:
        job = bar.add_task("analyse", total=None)
        report = analyze_path(
            path,
            options,
            on_start=lambda total: bar.update(job, total=total),
            on_record=lambda record: bar.advance(job),
        )
    if as_json:
        typer.echo(json.dumps({"model": report.model, "counts": report.counts, "results": report.records}, indent=2))
    else:
        _render(report.records, Path(path))
    if report.records and report.counts["failed"] == len(report.records):
        raise NoImagesFoundError(f"{path}: no input could be read")


def _render(records: list[dict[str, Any]], root: Path) -> None:
    from rich.table import Table

    console = stdout_console()
    table = Table(title_justify="left")
    for column in ("input", "result", "probability", "uncertainty", "heatmap / reason"):
        table.add_column(column, overflow="fold")
    for record in records:
        name = _short(record["path"], root)
        if "error" in record:
            table.add_row(
                name, "[red]unreadable[/]", "", "", f"{record['error']['code']}: {record['error']['message']}"
            )
        elif "refused" in record:
            table.add_row(name, "[yellow]refused[/]", "", "", record["refused"]["reason"])
        elif "found" in record:
            table.add_row(name, *_measured(record))
        else:
            unc = record["uncertainty"]
            flag = "ambiguous" if unc["ambiguous"] else "confident"
            prediction = "{" + ", ".join(unc["prediction_set"]) + "}"
            members = unc.get("members")
            agreement = f"; {members['positive']} of {members['n']} members over threshold" if members else ""
            table.add_row(
                name,
                f"[bold]{record['label']}[/]",
                f"{record['probability']:.3f} (threshold {record['threshold']:.3f})",
                f"{flag} {prediction} at {unc['coverage']:.0%}{agreement}",
                record.get("heatmap") or "",
            )
    console.print(table)
    if records and "model" in records[0]:
        m = records[0]["model"]
        console.print(f"model {m['name']} {m['version']} (sha256 {m['sha256'][:12]}...)", highlight=False)


def _measured(record: dict[str, Any]) -> tuple[str, str, str, str]:
    """Result, value, confidence and overlay columns of a segmentation record."""
    if "volumes_ml" in record:
        unit = "mL" if record["spacing_known"] else "mL (nominal 1 mm voxels)"
        volumes = ", ".join(f"{name} {ml:.2f}" for name, ml in record["volumes_ml"].items())
        result = "[bold]found[/]" if record["found"] else "[yellow]nothing labelled[/]"
        return (result, f"{volumes} {unit}", f"expected Dice {record['confidence']:.3f}", _outputs(record))
    if not record["found"]:
        return ("[yellow]no head found[/]", "", "", record.get("overlay") or "")
    if record["hc_mm"] is None:
        value = "no pixel spacing: ellipse in pixels only (--pixel-size)"
    else:
        extrapolated = " (extrapolated)" if record["ga_extrapolated"] else ""
        value = (
            f"HC {record['hc_mm']:.1f} mm, BPD {record['bpd_mm']:.1f} mm, GA {record['ga_weeks']:.1f} wk{extrapolated}"
        )
    return ("[bold]head[/]", value, f"expected Dice {record['confidence']:.3f}", record.get("overlay") or "")


def _outputs(record: dict[str, Any]) -> str:
    """The files written for a volume (SEG first), or why some were not."""
    outputs = record.get("outputs") or {}
    if "error" in outputs:
        return f"not written: {outputs['error']['message']}"
    written = [outputs[k] for k in ("seg", "sr", "mask") if outputs.get(k)]
    note = " (NIfTI source: no DICOM SEG/SR)" if outputs.get("note") else ""
    return "\n".join(written) + note


def _short(label: str, root: Path) -> str:
    base = str(root if root.is_dir() else root.parent)
    return label[len(base) :].lstrip("/") or label if label.startswith(base) else label
