"""The inputs of the model benchmarks: three files a user would analyse, and a batch in memory.

* a 28 px PNG and a 224 px JPEG: validation images of the shared datasets, as stored;
* a 2048 x 2048 16-bit DICOM (Digital X-Ray, uncompressed): a 224 px validation image
  enlarged to a detector's size (bilinear), written by ``tests/data/synthetic_cxr.py``;
* 256 PneumoniaMNIST validation images as in-memory :class:`~medsight.imaging.Image`
  objects, as the npz loader makes them (for batched throughput).

Without ``../shared`` every one is a synthetic chest-like image (``chest_like``); a real
model may refuse those as unlike its training data, which the report then says.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PILImage
from tests.data.synthetic_cxr import chest_like, write_dx_dicom

from medsight.imaging import Image, ImageMeta

__all__ = ["BATCH", "DICOM_SIZE", "Candidate", "candidates", "in_memory_batch"]

BATCH = 256
DICOM_SIZE = 2048
_PNEUMONIAMNIST = Path("datasets/pneumoniamnist/pneumoniamnist_trainval.npz")
_CXR224 = Path("datasets/chest_xray_pneumonia_224")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One set of the three benchmark files, made from one source image of each size.

    Attributes:
        png28: the 28 px PNG.
        jpeg224: the 224 px JPEG.
        dicom2048: the 2048 x 2048 16-bit DICOM.
        source: where the pixels came from, for the report.
    """

    png28: Path
    jpeg224: Path
    dicom2048: Path
    source: str

    def files(self) -> dict[str, Path]:
        """The inputs by report label."""
        return {
            "28 px PNG": self.png28,
            "224 px JPEG": self.jpeg224,
            f"{DICOM_SIZE}x{DICOM_SIZE} 16-bit DICOM": self.dicom2048,
        }


def candidates(shared: Path | None, workdir: Path, *, limit: int = 8) -> Iterator[Candidate]:
    """Candidate input sets, real validation images first; the caller keeps the first one
    that every model scores (a refused input draws no heatmap and would flatter the figures)."""
    small, large = _val_28(shared), _val_224(shared)
    for k in range(limit):
        folder = workdir / f"inputs-{k}"
        folder.mkdir(parents=True, exist_ok=True)
        png_pixels, png_source = small[k] if k < len(small) else _synthetic(28, k)
        jpeg_path, jpeg_source = large[k] if k < len(large) else (None, "")
        if jpeg_path is None:
            pixels, jpeg_source = _synthetic(224, k)
            jpeg_path = folder / "cxr-224.jpeg"
            PILImage.fromarray(pixels).save(jpeg_path, quality=95)
        png = folder / "cxr-28.png"
        PILImage.fromarray(png_pixels).save(png)
        dicom = write_dx_dicom(folder / "cxr-2048.dcm", _enlarged(jpeg_path), bits=16)
        yield Candidate(png, jpeg_path, dicom, f"28 px: {png_source}; 224 px and DICOM: {jpeg_source}")


def in_memory_batch(shared: Path | None, size: int = BATCH) -> tuple[list[Image], str]:
    """``size`` 28 px images as the npz loader makes them, and where they came from."""
    npz = shared / _PNEUMONIAMNIST if shared is not None else None
    if npz is not None and npz.is_file():
        with np.load(npz) as data:
            arrays = list(data["val_images"][:size])
        source = f"PneumoniaMNIST val images 0..{size - 1}"
    else:
        rng = np.random.default_rng(0)
        arrays = [chest_like(28, bool(i % 2), rng) for i in range(size)]
        source = "synthetic chest-like images (../shared absent)"
    meta = ImageMeta(bits_stored=8, photometric="MONOCHROME2")
    return [Image(pixels=a.astype(np.float32), meta=meta) for a in arrays], source


def _val_28(shared: Path | None) -> list[tuple[NDArray[np.uint8], str]]:
    npz = shared / _PNEUMONIAMNIST if shared is not None else None
    if npz is None or not npz.is_file():
        return []
    with np.load(npz) as data:
        images = data["val_images"][:16]
    return [(image, f"PneumoniaMNIST val image {i}") for i, image in enumerate(images)]


def _val_224(shared: Path | None) -> list[tuple[Path, str]]:
    root = shared / _CXR224 if shared is not None else None
    if root is None or not (root / "labels.csv").is_file():
        return []
    with (root / "labels.csv").open(newline="", encoding="utf-8") as stream:
        rows = [row for row in csv.DictReader(stream) if row["split"] == "val"]
    return [(root / row["path"], f"chest_xray_pneumonia_224 {row['path']} (split val)") for row in rows[:16]]


def _synthetic(size: int, seed: int) -> tuple[NDArray[np.uint8], str]:
    pixels = chest_like(size, positive=bool(seed % 2), rng=np.random.default_rng(seed))
    return pixels, f"synthetic chest-like image, seed {seed} (../shared absent)"


def _enlarged(path: Path) -> NDArray[np.uint8]:
    # Bilinear, not pixel replication: a detector image has no 9-pixel blocks.
    with PILImage.open(path) as pil:
        grey = pil.convert("L").resize((DICOM_SIZE, DICOM_SIZE), PILImage.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.uint8)
