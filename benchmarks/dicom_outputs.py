"""Writing a segmentation's outputs (issue 7, part B): DICOM SEG, TID 1500 SR and NIfTI mask.

The volume is the issue's brain case, 256 x 256 x 30: a synthetic MR series of that
size (single-frame MR Image Storage, written by ``tests/data/synthetic_mr.py``), read by
``medsight.io`` as ``analyze`` reads it, with a label volume of one tumour-sized
ellipsoid (about 35 mL) and per-voxel probabilities. Timed separately, each over
``calls`` single calls after two warm-up calls, median and 95th percentile:

* ``seg``: :func:`medsight.io.dicom.seg.build_segmentation` (highdicom, BINARY);
* ``sr``: :func:`medsight.io.dicom.sr.build_volume_report` from that SEG;
* ``nifti``: :func:`medsight.io.nifti.write_label_nifti` (gzip);
* ``all``: :func:`medsight.services.label_outputs.write_label_outputs`, what
  ``medsight analyze --out`` adds to each volume (the three files, atomically).

The two-label hippocampus crop is measured too (35 x 51 x 35, two labels). The issue's
target, <= 5 s per brain volume including SEG writing, is the inference time of
``benchmarks/mri.py`` plus ``all`` here.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.timing import latencies

__all__ = ["HEADING", "TARGET_PREFIX", "OutputsBench", "measure_outputs", "outputs_section", "outputs_targets"]

HEADING = "## DICOM SEG, SR and NIfTI mask writing (issue 7, part B)"
TARGET_PREFIX = "- segmentation outputs"
#: The brain volume's budget for writing (its inference has the rest of the 5 s).
BRAIN_WRITE_TARGET_S = 1.0
_CALLS = 7


@dataclass(frozen=True)
class OutputsRow:
    """One volume's figures (seconds: p50, p95) and the sizes written."""

    case: str
    shape: tuple[int, ...]
    labels: int
    volume_ml: dict[str, float]
    seconds: dict[str, tuple[float, float]]
    seg_bytes: int
    sr_bytes: int
    mask_bytes: int


@dataclass(frozen=True)
class OutputsBench:
    """The rows, and the machine's load while they were measured (other sessions share it)."""

    rows: list[OutputsRow]
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cores: int = 0


@dataclass(frozen=True)
class _Result:
    labels: Any
    task: str
    model: dict[str, str]


def _case(folder: Path, shape: tuple[int, int, int], names: tuple[str, ...], spacing: tuple[float, ...]) -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.data.synthetic_mr import label_blobs, write_mr_series

    from medsight.imaging.labels import LabelVolume
    from medsight.io import read_image
    from medsight.settings import ReadLimits

    write_mr_series(folder, slices=shape[0], rows=shape[1], columns=shape[2], spacing=spacing)
    image = read_image(folder, ReadLimits())
    labels = label_blobs(shape, labels=len(names)) if len(names) > 1 else _tumour(shape, spacing)
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.6, 1.0, shape).astype(np.float32)
    return LabelVolume(labels, names, image, confidence=confidence)


def _tumour(shape: tuple[int, int, int], spacing: tuple[float, ...]) -> Any:
    """One ellipsoid of radius ~20 mm on every axis (~35 mL), off centre as a tumour would be."""
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    centre = (shape[0] / 2, shape[1] * 0.4, shape[2] * 0.6)
    radius = [20.0 / s for s in spacing]
    inside = sum(((a - c) / r) ** 2 for a, c, r in zip((z, y, x), centre, radius, strict=True)) <= 1.0
    return inside.astype(np.uint8)


def _row(workdir: Path, case: str, task: str, labels: Any) -> OutputsRow:
    from medsight.io.dicom.seg import SegRequest, build_segmentation
    from medsight.io.dicom.sr import SrVolume, VolumeSrRequest, build_volume_report, derived_uid
    from medsight.io.nifti import write_label_nifti
    from medsight.services.label_outputs import build_label_objects, segment_specs, write_label_outputs

    model = {"name": f"{task}-bench", "version": "0.0.0", "sha256": "00" * 32}
    result = _Result(labels, task, model)
    request = SegRequest(
        labels,
        segment_specs(task, labels.names),
        model["name"],
        "0",
        model["sha256"],
        task,
        derived_uid("s"),
        derived_uid("i"),
    )
    objects = build_label_objects(result, seed="bench", tracking_id="bench")
    assert objects is not None
    out = workdir / case
    out.mkdir(parents=True, exist_ok=True)

    def sr() -> object:
        # The report alone, from the SEG already built (build_label_objects makes both).
        volumes = labels.volumes_ml()
        specs = request.segments
        return build_volume_report(
            VolumeSrRequest(
                objects.seg,
                tuple(
                    SrVolume(k, s.name, s.type, s.category, s.region, s.modifier, volumes[s.name], 0.9)
                    for k, s in enumerate(specs, start=1)
                ),
                specs[0].category,
                model["name"],
                "0",
                model["sha256"],
                task,
                derived_uid("r"),
                derived_uid("q"),
                "bench",
            )
        )

    funcs = [
        lambda: build_segmentation(request),
        sr,
        lambda: write_label_nifti(labels, out / "mask.nii.gz"),
        lambda: write_label_outputs(result, out, "case"),
    ]
    timed = latencies(funcs, calls=_CALLS)
    seconds = {name: (t.p50, t.p95) for name, t in zip(("seg", "sr", "nifti", "all"), timed, strict=True)}
    return OutputsRow(
        case=case,
        shape=tuple(labels.labels.shape),
        labels=len(labels.names),
        volume_ml={k: round(v, 2) for k, v in labels.volumes_ml().items()},
        seconds=seconds,
        seg_bytes=(out / "case.seg.dcm").stat().st_size,
        sr_bytes=(out / "case.sr.dcm").stat().st_size,
        mask_bytes=(out / "case.mask.nii.gz").stat().st_size,
    )


def measure_outputs(workdir: Path) -> OutputsBench:
    """Time the writers on the brain-sized volume and on a hippocampus-sized crop."""
    brain = _case(workdir / "brain", (30, 256, 256), ("tumour",), (5.0, 0.94, 0.94))
    crop = _case(workdir / "crop", (35, 51, 35), ("anterior", "posterior"), (1.0, 1.0, 1.0))
    rows = [
        _row(workdir, "brain 256 x 256 x 30, 1 label", "mri-brain-tumour", brain),
        _row(workdir, "hippocampus crop 35 x 51 x 35, 2 labels", "mri-hippocampus", crop),
    ]
    load = os.getloadavg()
    return OutputsBench(rows, (load[0], load[1], load[2]), os.cpu_count() or 0)


def outputs_section(bench: OutputsBench, command: str) -> str:
    """The markdown section."""
    lines = [
        HEADING,
        "",
        f"Measured by `{command}` (single calls after two warm-ups, {_CALLS} each, seconds p50 / p95).",
        "The SEG is BINARY (1 bit per voxel, empty frames left out), the mask gzip-compressed NIfTI.",
        f"{bench.cores} cores, load average {', '.join(f'{v:.2f}' for v in bench.load)} when measured: other"
        " sessions share the machine, and runs under a similar load differed by up to 2x.",
        "",
        "| volume | SEG | SR | NIfTI mask | all three (analyze --out) | SEG / SR / mask size |",
        "|---|---|---|---|---|---|",
    ]
    for row in bench.rows:
        cells = [f"{row.seconds[k][0]:.3f} / {row.seconds[k][1]:.3f}" for k in ("seg", "sr", "nifti", "all")]
        sizes = f"{row.seg_bytes / 1024:.1f} / {row.sr_bytes / 1024:.1f} / {row.mask_bytes / 1024:.1f} KiB"
        lines.append(
            f"| {row.case} ({', '.join(f'{k} {v} mL' for k, v in row.volume_ml.items())}) | "
            + " | ".join(cells)
            + f" | {sizes} |"
        )
    lines += [
        "",
        "Where the time goes: highdicom builds the SEG's per-frame functional groups (one item per",
        "non-empty frame and segment) and packs the bits; the SR is small. The brain volume's writing",
        f"budget here is {BRAIN_WRITE_TARGET_S:.1f} s of the issue's 5 s per volume (inference: the MRI section).",
        "",
    ]
    return "\n".join(lines)


def outputs_targets(bench: OutputsBench) -> list[str]:
    """The summary's target lines."""
    brain = bench.rows[0]
    p50 = brain.seconds["all"][0]
    verdict = "PASS" if p50 <= BRAIN_WRITE_TARGET_S else "MISS"
    return [
        f"{TARGET_PREFIX}: SEG + SR + NIfTI for 256 x 256 x 30 in {p50:.3f} s "
        f"(<= {BRAIN_WRITE_TARGET_S:.1f} s): {verdict}"
    ]
