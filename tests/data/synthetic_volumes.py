"""Tiny labelled volumes in the two MRI layouts (LGG TIFF slices; MSD hippocampus NIfTI).

Each volume is a bright blob ("brain") with a brighter labelled blob inside ("tumour", or
two touching blobs "anterior"/"posterior"), so a model can learn them in a few steps, and
the loaders, trainer and evaluation run end to end in seconds.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["write_lgg", "write_msd_hippocampus"]


def _blob(
    shape: tuple[int, int, int], centre: tuple[float, float, float], radii: tuple[float, float, float]
) -> NDArray:
    grid = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in shape], indexing="ij")
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True)) <= 1.0


def write_lgg(root: Path, *, patients: int = 4, slices: int = 10, size: int = 64, seed: int = 0) -> Path:
    """An LGG-layout folder: ``patients`` folders of RGB TIFF slices and 0/255 masks, and index.csv."""
    from PIL import Image as PILImage

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for p in range(patients):
        name = f"TCGA_XX_{p:04d}_20000101"
        (root / name).mkdir(exist_ok=True)
        shape = (slices, size, size)
        brain = _blob(shape, (slices / 2, size / 2, size / 2), (slices, size * 0.4, size * 0.35))
        centre = (slices / 2 + rng.uniform(-1, 1), size / 2 + rng.uniform(-8, 8), size / 2 + rng.uniform(-8, 8))
        tumour = _blob(shape, centre, (slices * 0.25, size * 0.12, size * 0.1)) & brain
        flair = 60.0 * brain + 120.0 * tumour + rng.normal(0, 4, shape)
        for z in range(slices):
            rgb = np.clip(np.stack([flair[z] * 0.8, flair[z], flair[z] * 0.9], axis=-1), 0, 255).astype(np.uint8)
            image, mask = f"{name}/{name}_{z + 1}.tif", f"{name}/{name}_{z + 1}_mask.tif"
            PILImage.fromarray(rgb).save(root / image)
            PILImage.fromarray((tumour[z] * 255).astype(np.uint8)).save(root / mask)
            rows.append([name, image, mask, z + 1, int(tumour[z].any()), int(tumour[z].sum())])
    with (root / "index.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["patient_folder", "image", "mask", "slice", "has_tumour", "tumour_pixels"])
        writer.writerows(rows)
    return root


def write_msd_hippocampus(root: Path, *, cases: int = 6, seed: int = 0) -> Path:
    """An MSD-layout folder: ``cases`` NIfTI crops of about 36 x 50 x 36 voxels with labels 1/2, and index.csv."""
    import nibabel as nib

    rng = np.random.default_rng(seed)
    (root / "imagesTr").mkdir(parents=True, exist_ok=True)
    (root / "labelsTr").mkdir(exist_ok=True)
    rows = []
    for c in range(cases):
        shape = (34 + c % 3, 48 + c % 4, 34 + c % 2)
        centre = np.array(shape) / 2 + rng.uniform(-2, 2, 3)
        anterior = _blob(shape, (centre[0], centre[1] - 6, centre[2]), (5, 7, 4))
        posterior = _blob(shape, (centre[0], centre[1] + 7, centre[2]), (4, 7, 3)) & ~anterior
        labels = anterior.astype(np.uint8) + 2 * posterior.astype(np.uint8)
        image = 100.0 + 200.0 * anterior + 150.0 * posterior + rng.normal(0, 10, shape)
        key = f"hippocampus_{c + 1:03d}"
        affine = np.eye(4)
        nib.save(nib.Nifti1Image(image.astype(np.float32), affine), root / f"imagesTr/{key}.nii.gz")
        nib.save(nib.Nifti1Image(labels, affine), root / f"labelsTr/{key}.nii.gz")
        rows.append([key, f"imagesTr/{key}.nii.gz", f"labelsTr/{key}.nii.gz", "x".join(map(str, shape)), "float32"])
    with (root / "index.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["case", "image", "label", "shape", "image_dtype"])
        writer.writerows(rows)
    return root
