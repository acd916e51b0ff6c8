"""Whether flip test-time augmentation pays for its time on the MRI models (the table in docs/models.md).

Usage, from the repository root (a long CPU job: run it under the training lock)::

    python tools/mri_tta.py [--shared ../shared] [--calls 20]

For each MRI task, the shipped model on the validation split: ``medsight evaluate`` with
``--tta none`` and ``--tta flip`` (the same service code), then the paired per-case
difference of Dice (flip - none) with its 95% bootstrap CI, and how many cases got worse
or better; then the time per volume of ``segment_volume`` both ways on the benchmark's
inputs (:mod:`benchmarks.mri`), taking turns, 2 torch threads. Prints one markdown row a
task; say the machine's load beside the times.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.mri import _inputs, _ours  # noqa: E402
from benchmarks.timing import latencies  # noqa: E402

from medsight.inference.volume_segmentation import LoadedVolumeSegmenter  # noqa: E402
from medsight.metrics.segmentation import bootstrap_statistic  # noqa: E402
from medsight.models.bundle import resolve_bundle  # noqa: E402
from medsight.services.evaluate import EvaluateOptions, evaluate  # noqa: E402
from medsight.services.models import shipped_for  # noqa: E402
from medsight.tasks import get_task  # noqa: E402
from medsight.tasks.volume import Tta  # noqa: E402

FOLDERS = {"mri-hippocampus": "msd_task04_hippocampus", "mri-brain-tumour": "lgg_mri_segmentation_subset"}


def _ci(values: Any) -> str:
    low, high = bootstrap_statistic(np.asarray(values, dtype=np.float64), lambda v: float(np.mean(v)), seed=0)
    return f"[{low:.4f}, {high:.4f}]"


def _dice_row(task: str, data: Path) -> str:
    reports = {
        mode: evaluate(EvaluateOptions(task=task, data=data, split="val", tta=mode.value))
        for mode in (Tta.NONE, Tta.FLIP)
    }
    none, flip = reports[Tta.NONE], reports[Tta.FLIP]
    before = {case["key"]: case["dice_mean"] for case in none["cases"]}
    difference = np.array([case["dice_mean"] - before[case["key"]] for case in flip["cases"]])
    return (
        f"| {none['model']['name']} | {none['dice_mean']} {none['dice_mean_ci']} | {flip['dice_mean']} "
        f"{flip['dice_mean_ci']} | {difference.mean():+.4f} {_ci(difference)} | {int((difference < 0).sum())} / "
        f"{int((difference > 0).sum())} of {len(difference)} | {none['hd95_mm']} / {flip['hd95_mm']} mm |"
    )


def main() -> None:
    """Print the Dice and timing rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    import torch

    print("| model | Dice, none | Dice, flip | paired difference | cases worse / better | HD95 none / flip |")
    print("|---|---|---|---|---|---|")
    for task, folder in FOLDERS.items():
        print(_dice_row(task, args.shared / "datasets" / folder))
    torch.set_num_threads(2)
    for task, (image, source) in _inputs(args.shared).items():
        bundle = resolve_bundle(None, default=shipped_for(get_task(task), None))
        plain, flip = (LoadedVolumeSegmenter.load(bundle, tta=mode) for mode in (Tta.NONE, Tta.FLIP))
        a, b = latencies([_ours(plain, image), _ours(flip, image)], calls=args.calls)
        print(f"{task} ({source}): none p50 {a.p50:.3f} s, flip p50 {b.p50:.3f} s ({b.p50 / a.p50:.2f}x)")


if __name__ == "__main__":
    main()
