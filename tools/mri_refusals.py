"""Which inputs the MRI models refuse, and by which check (the table in docs/models.md).

Usage, from the repository root::

    python tools/mri_refusals.py [BUNDLE ...] [--shared ../shared]

Default bundles: the shipped ``mri-hippocampus-48`` and ``mri-brain-tumour-128``. Groups:
MSD hippocampus crops, LGG brain volumes, chest X-ray PNGs, HC18 ultrasound frames (all
from ``../shared``), CT-like volumes without metadata (air, soft tissue, a spine, in HU),
noise volumes, and the one-slice ``MR_small.dcm`` sample. Prints one markdown row per
group: refused / total, and the count per check.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from medsight.data.volumes import load_volumes
from medsight.imaging import Geometry, Image, Layout
from medsight.inference.volume_segmentation import LoadedVolumeSegmenter, segment_volume
from medsight.io import read_image
from medsight.models.bundle import load_bundle, resolve_bundle
from medsight.settings import ReadLimits

REPO = Path(__file__).resolve().parents[1]


def _ct_like(seed: int) -> Image:
    rng = np.random.default_rng(seed)
    _, y, x = np.meshgrid(np.linspace(-1, 1, 40), np.linspace(-1, 1, 256), np.linspace(-1, 1, 256), indexing="ij")
    body = (y / 0.7) ** 2 + (x / 0.9) ** 2 <= 1
    spine = ((y - 0.45) / 0.12) ** 2 + (x / 0.1) ** 2 <= 1
    liver = ((y + 0.1) / 0.35) ** 2 + ((x + 0.35) / 0.3) ** 2 <= 1
    hu = np.where(body, 40.0, -1000.0) + 700 * spine + 20 * liver + rng.normal(0, 15, body.shape)
    return Image(hu.astype(np.float32), layout=Layout.VOLUME, geometry=Geometry(spacing=(3.0, 0.8, 0.8)))


def _groups(shared: Path) -> dict[str, list[Image]]:
    limits = ReadLimits()
    datasets = shared / "datasets"
    hippocampus = load_volumes(datasets / "msd_task04_hippocampus")
    lgg = load_volumes(datasets / "lgg_mri_segmentation_subset")
    xrays = sorted((datasets / "chest_xray_pneumonia_224/train/NORMAL").iterdir())[:5]
    frames = sorted((datasets / "hc18/training_set").glob("*_HC.png"))[:5]
    rng = np.random.default_rng(0)
    return {
        "MSD hippocampus crops (first 20)": [hippocampus.read(c)[0] for c in hippocampus.cases[:20]],
        "LGG brain volumes (9)": [lgg.read(c)[0] for c in lgg.cases],
        "chest X-ray PNG (5)": [read_image(p, limits) for p in xrays],
        "HC18 ultrasound frames (5)": [read_image(p, limits) for p in frames],
        "CT-like volumes without metadata (5)": [_ct_like(s) for s in range(5)],
        "noise volumes (5)": [
            Image(rng.normal(100, 30, (30, 64, 64)).astype(np.float32), layout=Layout.VOLUME) for _ in range(5)
        ],
        "MR_small.dcm (one slice)": [read_image(shared / "samples/mr/MR_small.dcm", limits)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("bundles", nargs="*", type=Path)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    bundles = [load_bundle(p) for p in args.bundles] or [
        resolve_bundle(name) for name in ("mri-hippocampus-48", "mri-brain-tumour-128")
    ]
    groups = _groups(args.shared)
    for bundle in bundles:
        model = LoadedVolumeSegmenter.load(bundle)
        print(f"\n{bundle.name} {bundle.version}\n\n| input | refused | by check |\n|---|---:|---|")
        for name, images in groups.items():
            checks = Counter(
                (result.refused.check if result.refused else "accepted")
                for result in (segment_volume(model, image) for image in images)
            )
            refused = len(images) - checks.get("accepted", 0)
            print(f"| {name} | {refused}/{len(images)} | {dict(sorted(checks.items()))} |")


if __name__ == "__main__":
    main()
