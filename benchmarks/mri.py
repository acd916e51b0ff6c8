"""MRI segmentation inference (issue 7): seconds per volume on 2 cores, against MONAI's plain sliding window.

Per task with a model (the shipped one, else ``--model``): one input volume, the whole
``medsight`` path timed in-process (gates, per-volume normalisation, the network, the
distribution check, calibrated probabilities, labels on the source grid, measurements),
against the **baseline**: MONAI's ``sliding_window_inference`` with the same network on
the same prepared input and nothing else (the network's cost alone). The ratio is
medsight's time over the baseline's. The same path with left-right flip test-time
augmentation (``--tta flip``: a second, mirrored pass, probabilities averaged) is timed
in the same turns, for the cost side of the TTA decision (docs/models.md). Peak memory is the peak RSS of a fresh
``medsight analyze --json`` process on the same volume as a NIfTI file (cold start
included), measured by :mod:`benchmarks.rss`.

Inputs: the hippocampus crop ``hippocampus_001`` (35 x 51 x 35) from ``../shared``, and a
256 x 256 x 30 brain volume (the LGG validation patient's FLAIR slices, repeated or cut to
30 slices); synthetic stand-ins of the same size without ``../shared``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.rss import measure_command
from benchmarks.series import REPO_ROOT
from benchmarks.timing import latencies

__all__ = ["HEADING", "TARGET_PREFIX", "MriBench", "measure_mri", "mri_section", "mri_targets"]

HEADING = "## MRI segmentation (issue 7): seconds per volume on 2 cores"
TARGET_PREFIX = "- MRI segmentation"
#: Seconds per volume, DICOM series in, SEG + SR + mask out (issue 7).
TARGETS = {"mri-hippocampus": 1.0, "mri-brain-tumour": 5.0}
_CALLS = 10


@dataclass(frozen=True)
class MriRow:
    """One task's figures."""

    task: str
    model: str
    shape: tuple[int, ...]
    source: str
    medsight_p50: float
    medsight_p95: float
    baseline_p50: float
    cold_seconds: float
    peak_rss_mb: float
    #: The same volume as a DICOM MR series: read, segmented, SEG + SR + NIfTI mask written.
    end_to_end_p50: float = float("nan")
    #: ``medsight_p50`` with flip test-time augmentation.
    tta_p50: float = float("nan")

    @property
    def ratio(self) -> float:
        """medsight over the baseline (1.0: no overhead beyond the network)."""
        return self.medsight_p50 / self.baseline_p50 if self.baseline_p50 else float("nan")


@dataclass(frozen=True)
class MriBench:
    """Every task measured, and what was skipped."""

    rows: list[MriRow]
    skipped: list[str]


def _inputs(shared: Path | None) -> dict[str, tuple[Any, str]]:
    from medsight.imaging import Geometry, Image, ImageMeta, Layout
    from medsight.types import Modality

    rng = np.random.default_rng(0)
    out: dict[str, tuple[Any, str]] = {}
    datasets = shared / "datasets" if shared else None
    if datasets and (datasets / "msd_task04_hippocampus").is_dir():
        from medsight.data.volumes import load_volumes

        data = load_volumes(datasets / "msd_task04_hippocampus")
        out["mri-hippocampus"] = (data.read(data.cases[0])[0], f"{data.cases[0].key} (../shared)")
    else:
        pixels = rng.normal(100, 20, (35, 51, 35)).astype(np.float32)
        out["mri-hippocampus"] = (Image(pixels, layout=Layout.VOLUME), "synthetic 35 x 51 x 35")
    if datasets and (datasets / "lgg_mri_segmentation_subset").is_dir():
        from medsight.data.volumes import load_volumes

        data = load_volumes(datasets / "lgg_mri_segmentation_subset").split("val")
        image = data.read(data.cases[0])[0]
        index = np.resize(np.arange(image.frames), 30)
        index.sort()
        brain = image.with_pixels(np.ascontiguousarray(image.pixels[index]))
        out["mri-brain-tumour"] = (brain, f"{data.cases[0].key} FLAIR, {image.frames} slices to 30 (../shared)")
    else:
        pixels = rng.normal(60, 10, (30, 256, 256)).astype(np.float32)
        meta = ImageMeta(modality=Modality.MR)
        out["mri-brain-tumour"] = (Image(pixels, layout=Layout.VOLUME, geometry=Geometry(), meta=meta), "synthetic")
    return out


def _as_dicom_series(image: Any, folder: Path) -> Path:
    """``image``'s pixels written as a DICOM MR series (16-bit), so the SEG has a real source to reference."""
    import pydicom

    sys.path.insert(0, str(REPO_ROOT))
    from tests.data.synthetic_mr import write_mr_series

    volume = np.asarray(image.pixels, dtype=np.float32)
    frames, rows, columns = volume.shape[-3:]
    spacing = tuple(float(v) for v in (image.geometry.spacing if image.geometry else (1.0, 1.0, 1.0)))
    paths = write_mr_series(folder, slices=frames, rows=rows, columns=columns, spacing=spacing[-3:])
    low, high = float(volume.min()), float(volume.max())
    scaled = np.round((volume - low) / max(high - low, 1e-6) * 4095).astype("<u2")
    for k, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        ds.PixelData = scaled[k].tobytes()
        ds.save_as(path, enforce_file_format=True)
    return folder


def _end_to_end(model: Any, series: Path, out: Path) -> Callable[[], object]:
    """What `medsight analyze SERIES --out DIR` does for one series, in process."""
    from medsight.inference.volume_segmentation import segment_volume
    from medsight.io import read_image
    from medsight.services.label_outputs import write_label_outputs
    from medsight.settings import ReadLimits

    def run() -> object:
        result = segment_volume(model, read_image(series, ReadLimits()))
        return write_label_outputs(result, out, "bench") if result.labels is not None else None

    return run


def _ours(model: Any, image: Any) -> Callable[[], object]:
    from medsight.inference.volume_segmentation import segment_volume

    return lambda: segment_volume(model, image)


def _baseline(model: Any, image: Any) -> Callable[[], object]:
    """MONAI's sliding window over the prepared input with the same network, nothing else."""
    import torch
    from monai.inferers.utils import sliding_window_inference

    from medsight.tasks.volume import slice_stack, unit_volume

    recipe = model.recipe
    unit = unit_volume(image.pixels, recipe)
    if recipe.dims == 2:
        x = torch.from_numpy(slice_stack(unit, recipe))
        roi: tuple[int, ...] = (recipe.size, recipe.size)
        batch = 32
    else:
        x = torch.from_numpy(np.ascontiguousarray(unit))[None, None]
        roi, batch = recipe.patch, 1

    def run() -> object:
        with torch.inference_mode():
            return sliding_window_inference(x, roi_size=roi, sw_batch_size=batch, predictor=model.model)

    return run


def measure_mri(workdir: Path, shared: Path | None, models: dict[str, Path] | None = None) -> MriBench:
    """Measure each task whose model is found (``models``: task -> bundle; default shipped)."""
    import torch

    from medsight.errors import MedsightError
    from medsight.inference.volume_segmentation import LoadedVolumeSegmenter
    from medsight.io.nifti import write_nifti
    from medsight.models.bundle import load_bundle, resolve_bundle
    from medsight.services.models import shipped_for
    from medsight.tasks import get_task
    from medsight.tasks.volume import Tta

    torch.set_num_threads(2)
    rows, skipped = [], []
    inputs = _inputs(shared)
    for task_name, (image, source) in inputs.items():
        try:
            path = (models or {}).get(task_name)
            bundle = load_bundle(path) if path else resolve_bundle(None, default=shipped_for(get_task(task_name), None))
        except MedsightError as exc:  # a missing model is reported, not fatal
            skipped.append(f"{task_name}: no model ({exc.code})")
            continue
        model = LoadedVolumeSegmenter.load(bundle, tta=Tta.NONE)
        flipped = LoadedVolumeSegmenter.load(bundle, tta=Tta.FLIP)
        ours, base, tta = latencies([_ours(model, image), _baseline(model, image), _ours(flipped, image)], calls=_CALLS)
        series = _as_dicom_series(image, workdir / f"{task_name}-dicom")
        [whole] = latencies([_end_to_end(model, series, workdir / f"{task_name}-out")], calls=_CALLS)
        if not (workdir / f"{task_name}-out" / "bench.seg.dcm").is_file():
            skipped.append(f"{task_name}: the end-to-end run wrote no DICOM SEG")
        nifti = write_nifti(image, workdir / f"{task_name}.nii.gz")
        cold = measure_command(
            [
                str(Path(sys.executable).parent / "medsight"),
                "analyze",
                "--task",
                task_name,
                "--model",
                str(bundle.path),
                str(nifti),
                "--json",
            ],
            REPO_ROOT,
        )
        rows.append(
            MriRow(
                task=task_name,
                model=f"{bundle.name} {bundle.version}",
                shape=tuple(image.shape),
                source=source,
                medsight_p50=ours.p50,
                medsight_p95=ours.p95,
                baseline_p50=base.p50,
                cold_seconds=float(cold["seconds"]),
                peak_rss_mb=float(cold["peak_rss"]) / 2**20,
                end_to_end_p50=whole.p50,
                tta_p50=tta.p50,
            )
        )
    return MriBench(rows, skipped)


def mri_targets(bench: MriBench) -> list[str]:
    """The target lines for the summary."""
    lines = []
    for row in bench.rows:
        target = TARGETS[row.task]
        verdict = "PASS" if row.end_to_end_p50 <= target else "FAIL"
        lines.append(
            f"{TARGET_PREFIX} {row.task}: {row.end_to_end_p50:.2f} s per volume from a DICOM series to its SEG, "
            f"SR and mask (p50, target <= {target:g} s; segmentation alone {row.medsight_p50:.2f} s): {verdict}"
        )
    lines += [f"{TARGET_PREFIX} {note}: not measured" for note in bench.skipped]
    return lines


def mri_section(bench: MriBench, command: str) -> str:
    """The report section."""
    lines = [
        f"{HEADING}\n",
        f"`{command}`; {_CALLS} calls each, medsight and the baseline taking turns, 2 torch threads. medsight: "
        "the whole `segment_volume` path (gates, normalisation, network, distribution check, calibrated "
        "probabilities, labels on the source grid, measurements). Baseline: MONAI `sliding_window_inference` "
        "with the same network on the same prepared input, nothing else. End to end: the volume written as a "
        "16-bit DICOM MR series, then read, segmented and its DICOM SEG, TID 1500 SR and NIfTI mask written "
        "(what `medsight analyze SERIES --out DIR` does, in process; the issue's target includes SEG writing). "
        "Cold: a fresh `medsight analyze --json` process on the volume as NIfTI (imports and model loading "
        "included), with its peak RSS. Flip TTA: the medsight path with `--tta flip` (a second, mirrored "
        "pass; off by default, docs/models.md). See `benchmarks/mri.py`.\n",
        "| task | model | input | medsight p50 (s) | p95 (s) | baseline p50 (s) | ratio | end to end p50 (s) "
        "| with flip TTA p50 (s) | cold analyze (s) | peak RSS (MB) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in bench.rows:
        shape = " x ".join(str(s) for s in row.shape)
        lines.append(
            f"| {row.task} | {row.model} | {shape}, {row.source} | {row.medsight_p50:.3f} | {row.medsight_p95:.3f} "
            f"| {row.baseline_p50:.3f} | {row.ratio:.2f} | {row.end_to_end_p50:.3f} | {row.tta_p50:.3f} "
            f"| {row.cold_seconds:.1f} "
            f"| {row.peak_rss_mb:.0f} |"
        )
    lines += ["", *mri_targets(bench), ""]
    return "\n".join(lines) + "\n"
