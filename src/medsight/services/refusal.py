"""Use case: how often a model refuses what it should, and what it should not.

Two questions, each a rate with a 95% Wilson interval:

- **false refusals**: chest X-rays the model was made for (its validation split, never
  seen in training) that it refuses anyway;
- **refusals of unsuitable input**: every other kind of image at hand — the DICOM
  samples with and without their metadata, ultrasound, MRI, and synthetic inputs
  (noise, blank, gradients, colour) — which it must refuse.

Adult chest X-rays from other sites (the TB sets) are reported on their own: they are
frontal chest X-rays, but not the children of one hospital the model learnt from, so
refusing some of them is defensible and the rate is information, not a pass or fail.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from medsight.data import load_dataset
from medsight.errors import MedsightError
from medsight.imaging import Image, ImageMeta, Layout
from medsight.imaging.window import select_plane
from medsight.inference import Analyzer, LoadedModel
from medsight.io import read
from medsight.settings import ReadLimits

__all__ = ["RefusalGroup", "refusal_groups", "refusal_report", "wilson_interval"]

ImageSource = Callable[[], Iterator[Image]]


@dataclass(frozen=True)
class RefusalGroup:
    """One kind of input and how the model treated it.

    Attributes:
        name: what the inputs are.
        expected: ``accept`` (the model is for them), ``refuse``, or ``either``.
        n: inputs analysed.
        refused: inputs refused.
        by_check: refusals per failing check.
    """

    name: str
    expected: str
    n: int
    refused: int
    by_check: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Share refused."""
        return self.refused / self.n if self.n else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON form with the rate and its 95% Wilson interval."""
        lo, hi = wilson_interval(self.refused, self.n)
        return {
            "name": self.name,
            "expected": self.expected,
            "n": self.n,
            "refused": self.refused,
            "rate": round(self.rate, 4) if self.n else None,
            "rate_ci": [round(lo, 4), round(hi, 4)] if self.n else None,
            "by_check": self.by_check,
        }


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n`` (95% by default)."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def refusal_report(model: LoadedModel, groups: Iterable[tuple[str, str, ImageSource]]) -> list[RefusalGroup]:
    """Analyse each group's images (no saliency) and count refusals by check."""
    analyzer = Analyzer(model)
    out = []
    for name, expected, source in groups:
        checks: Counter[str] = Counter()
        n = 0
        batch: list[Image] = []
        for image in [*source(), None]:
            if image is not None:
                batch.append(image)
            if batch and (image is None or len(batch) == 64):
                for analysis in analyzer.analyze_many(batch):
                    n += 1
                    if analysis.refused is not None:
                        checks[analysis.refused.check] += 1
                batch = []
        out.append(RefusalGroup(name, expected, n, sum(checks.values()), dict(sorted(checks.items()))))
    return out


def refusal_groups(
    model: LoadedModel, data: Path | None, shared: Path | None, *, per_group: int = 200, seed: int = 0
) -> list[tuple[str, str, ImageSource]]:
    """The standard groups of the module docstring, from what exists on this machine."""
    limits = ReadLimits()
    groups: list[tuple[str, str, ImageSource]] = []
    task = model.task
    if data is not None:
        groups.append(
            ("validation chest X-rays (false refusals)", "accept", _dataset(data, "val", task.label_of, None))
        )
    datasets = shared / "datasets" if shared else None
    samples = shared / "samples" if shared else None
    if datasets and (datasets / "tb_cxr").is_dir():
        groups.append(
            (
                "adult chest X-rays, TB sets (other sites)",
                "either",
                _dataset(datasets / "tb_cxr", "val", _binary_label, per_group),
            )
        )
    if samples and samples.is_dir():
        groups.append(("DICOM samples of other modalities, with metadata", "refuse", _files(samples, limits, False)))
        groups.append(("the same samples, pixels only (metadata removed)", "refuse", _files(samples, limits, True)))
    if datasets and (datasets / "breastmnist").is_dir():
        groups.append(
            (
                "breast ultrasound (BreastMNIST val)",
                "refuse",
                _dataset(datasets / "breastmnist", "val", _binary_label, per_group),
            )
        )
    if datasets and (datasets / "hc18" / "training_set").is_dir():
        files = sorted((datasets / "hc18" / "training_set").glob("*_HC.png"))[:per_group]
        groups.append(("fetal head ultrasound (HC18)", "refuse", _paths(files, limits, False)))
    if datasets and (datasets / "lgg_mri_segmentation_subset").is_dir():
        files = [p for p in sorted((datasets / "lgg_mri_segmentation_subset").rglob("*.tif")) if "_mask" not in p.name]
        groups.append(
            (
                "brain MRI slices (LGG), FLAIR as greyscale",
                "refuse",
                _paths(files[:: max(1, len(files) // per_group)][:per_group], limits, True, channel=1),
            )
        )
    if datasets and (datasets / "msd_task04_hippocampus" / "imagesTr").is_dir():
        files = sorted((datasets / "msd_task04_hippocampus" / "imagesTr").glob("*.nii.gz"))[: per_group // 4]
        groups.append(("hippocampus MRI volumes (MSD Task04)", "refuse", _paths(files, limits, False)))
        groups.append(("hippocampus MRI, middle slice as 2D", "refuse", _paths(files, limits, True)))
    groups.append(("synthetic: noise, blank, gradients, checkerboards, colour", "refuse", _synthetic(seed)))
    return groups


def _binary_label(spelling: str) -> int:
    return int(spelling)


def _dataset(path: Path, split: str, label_of: Callable[[str], int], limit: int | None) -> ImageSource:
    def images() -> Iterator[Image]:
        data = load_dataset(path, label_of).split(split)
        for case in list(data)[:limit]:
            yield data.image(case)

    return images


def _strip(image: Image, channel: int | None = None) -> Image:
    """The pixels alone, as a PNG would carry them (one 2D plane, no DICOM metadata)."""
    plane = select_plane(image)
    pixels = plane.pixels
    if channel is not None and plane.channels == 3:
        pixels = np.ascontiguousarray(pixels[..., channel])
    low, high = float(pixels.min()), float(pixels.max())
    scaled = (pixels - low) / (high - low) * 255.0 if high > low else np.zeros_like(pixels)
    return Image(pixels=scaled.astype(np.float32), layout=Layout.IMAGE, meta=ImageMeta(bits_stored=8))


def _files(folder: Path, limits: ReadLimits, strip: bool) -> ImageSource:
    def images() -> Iterator[Image]:
        found, _ = read(folder, limits)
        for image in found:
            yield _strip(image) if strip else image

    return images


def _paths(paths: list[Path], limits: ReadLimits, strip: bool, channel: int | None = None) -> ImageSource:
    def images() -> Iterator[Image]:
        for path in paths:
            try:
                found, _ = read(path, limits)
            except MedsightError:
                continue
            for image in found:
                yield _strip(image, channel) if strip else image

    return images


def _synthetic(seed: int) -> ImageSource:
    def images() -> Iterator[Image]:
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:256, 0:256] / 256.0
        grey = ImageMeta(bits_stored=8)
        for _ in range(10):
            yield Image(pixels=rng.integers(0, 256, (256, 256)).astype(np.float32), meta=grey)
            yield Image(pixels=np.clip(rng.normal(128, 40, (256, 256)), 0, 255).astype(np.float32), meta=grey)
            angle = rng.uniform(0, np.pi)
            ramp = (np.cos(angle) * xx + np.sin(angle) * yy) * 255 / np.sqrt(2)
            yield Image(pixels=np.clip(ramp, 0, 255).astype(np.float32), meta=grey)
            tile = int(rng.integers(8, 64))
            board = ((np.arange(256)[:, None] // tile + np.arange(256)[None, :] // tile) % 2) * 255.0
            yield Image(pixels=board.astype(np.float32), meta=grey)
            colour = np.stack([rng.uniform(0, 255) * xx, rng.uniform(0, 255) * yy, 255 * (1 - xx)], axis=-1)
            yield Image(pixels=colour.astype(np.float32), meta=replace(grey, photometric="RGB"))
        yield Image(pixels=np.zeros((256, 256), dtype=np.float32), meta=grey)
        yield Image(pixels=np.full((256, 256), 255.0, dtype=np.float32), meta=grey)

    return images
