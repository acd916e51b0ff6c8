"""Use case: how often a model refuses what it should, and what it should not.

Two questions, each a rate with a 95% Wilson interval:

- **false refusals**: the inputs the model was made for (its validation split, never
  seen in training) that it refuses anyway;
- **refusals of unsuitable input**: the foreign inputs its task is checked against
  (:attr:`~medsight.tasks.registry.TaskSpec.checked_against`, a name of
  :data:`FOREIGN_GROUPS` each), which it must refuse, or may (``either``: adult chest
  X-rays from other sites for the paediatric pneumonia model are chest X-rays, so
  refusing some is defensible and the rate is information, not a pass or fail).

Every kind of model is measured the same way: classifiers through their
:class:`~medsight.inference.Analyzer`, the fetal head segmenter through
``segment_images``, the MRI models through ``segment_volume``; each answers refused or
not, with the check that refused. Foreign groups come from ``../shared`` where it holds
them (a missing dataset drops its row) plus synthetic inputs, which are always there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from medsight.data import load_dataset
from medsight.data.hc18 import load_hc18
from medsight.data.volumes import load_volumes
from medsight.errors import MedsightError, UsageError
from medsight.imaging import Geometry, Image, ImageMeta, Layout
from medsight.imaging.window import select_plane
from medsight.inference import Analyzer, LoadedModel
from medsight.io import read
from medsight.metrics import wilson_interval
from medsight.settings import ReadLimits
from medsight.tasks import Refusal, TaskSpec, get_task
from medsight.tasks.registry import TaskKind

if TYPE_CHECKING:
    from medsight.inference.segmentation import LoadedSegmenter
    from medsight.inference.volume_segmentation import LoadedVolumeSegmenter

__all__ = [
    "FOREIGN_GROUPS",
    "CheckedModel",
    "RefusalGroup",
    "load_checked_model",
    "pixels_only",
    "refusal_groups",
    "refusal_report",
    "wilson_interval",
]

ImageSource = Callable[[], Iterator[Image]]
#: A loaded model of any task kind (a classifier, the fetal head or an MRI segmenter).
CheckedModel = Union["LoadedModel", "LoadedSegmenter", "LoadedVolumeSegmenter"]


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


def load_checked_model(task: TaskSpec, model: str | Path | None) -> CheckedModel:
    """The named bundle, or the task's shipped one (the largest), loaded for its task kind.

    Raises:
        ModelNotFoundError: no such model. UsageError: the model is for another task.
        WeightsMismatchError: its weights do not match their recorded sha256.
    """
    from medsight.models.bundle import resolve_bundle
    from medsight.services.models import load_model, shipped_for

    if task.kind is TaskKind.CLASSIFICATION:
        return load_model(task, model, resolution=None, backend="auto")
    bundle = resolve_bundle(model, default=shipped_for(task, None))
    if bundle.metadata.medsight.task != task.name:
        raise UsageError(f"model {bundle.name} is for task {bundle.metadata.medsight.task}, not {task.name}")
    if task.kind is TaskKind.SEGMENTATION:
        from medsight.inference.segmentation import LoadedSegmenter

        return LoadedSegmenter.load(bundle)
    from medsight.inference.volume_segmentation import LoadedVolumeSegmenter

    return LoadedVolumeSegmenter.load(bundle)


def _refuser(model: CheckedModel) -> Callable[[list[Image]], list[Refusal | None]]:
    """What the model says about a batch of images: each one's refusal, or None."""
    if isinstance(model, LoadedModel):
        analyzer = Analyzer(model)
        return lambda batch: [analysis.refused for analysis in analyzer.analyze_many(batch)]
    if model.task.kind is TaskKind.SEGMENTATION:
        from medsight.inference.segmentation import LoadedSegmenter, segment_images

        assert isinstance(model, LoadedSegmenter)
        segmenter = model
        return lambda batch: [r.refused for r in segment_images(segmenter, batch, [None] * len(batch))]
    from medsight.inference.volume_segmentation import LoadedVolumeSegmenter, segment_volume

    assert isinstance(model, LoadedVolumeSegmenter)
    volumes = model
    return lambda batch: [segment_volume(volumes, image).refused for image in batch]


def refusal_report(model: CheckedModel, groups: Iterable[tuple[str, str, ImageSource]]) -> list[RefusalGroup]:
    """Analyse each group's images (no saliency, no outputs) and count refusals by check."""
    refuse = _refuser(model)
    out = []
    for name, expected, source in groups:
        checks: Counter[str] = Counter()
        n = 0
        batch: list[Image] = []
        for image in [*source(), None]:
            if image is not None:
                batch.append(image)
            if batch and (image is None or len(batch) == 64):
                for refusal in refuse(batch):
                    n += 1
                    if refusal is not None:
                        checks[refusal.check] += 1
                batch = []
        out.append(RefusalGroup(name, expected, n, sum(checks.values()), dict(sorted(checks.items()))))
    return out


@dataclass(frozen=True)
class _Where:
    """Where a foreign group's inputs come from, under ``../shared``."""

    shared: Path
    limits: ReadLimits
    per_group: int
    seed: int

    @property
    def datasets(self) -> Path:
        return self.shared / "datasets"


#: A foreign group: its row label, and its inputs from ``../shared`` (None: not on this machine).
_Builder = Callable[[_Where], ImageSource | None]


def _labelled(folder: str) -> _Builder:
    def build(where: _Where) -> ImageSource | None:
        path = where.datasets / folder
        return _dataset(path, "val", _binary_label, where.per_group) if path.is_dir() else None

    return build


def _dicom_samples(strip: bool) -> _Builder:
    def build(where: _Where) -> ImageSource | None:
        samples = where.shared / "samples"
        return _files(samples, where.limits, strip) if samples.is_dir() else None

    return build


def _hc18(where: _Where) -> ImageSource | None:
    folder = where.datasets / "hc18"
    if not (folder / "training_set").is_dir():
        return None
    data = load_hc18(folder)
    # Validation subjects only: the input gate learnt from the others.
    files = [case.image for case in data.split("val")][: where.per_group]
    return _paths(files, where.limits, False)


def _lgg_slices(where: _Where) -> ImageSource | None:
    folder = where.datasets / "lgg_mri_segmentation_subset"
    if not folder.is_dir():
        return None
    # Validation patients only (the input gate learnt from the others), every slice.
    files = [folder / name for case in load_volumes(folder).split("val") for name in case.files[0::2]]
    step = max(1, len(files) // where.per_group)
    return _paths(files[::step][: where.per_group], where.limits, True, channel=1)


def _volumes(folder: str) -> _Builder:
    def build(where: _Where) -> ImageSource | None:
        path = where.datasets / folder
        return _volume_set(path, None, max(1, where.per_group // 4)) if path.is_dir() else None

    return build


def _hippocampus_slices(where: _Where) -> ImageSource | None:
    folder = where.datasets / "msd_task04_hippocampus"
    if not (folder / "imagesTr").is_dir():
        return None
    # Validation crops only: the input gate learnt from the others.
    cases = list(load_volumes(folder).split("val"))[: max(1, where.per_group // 4)]
    return _paths([folder / case.files[0] for case in cases], where.limits, True)


#: The foreign inputs a task can be checked against: name -> (row label, where its inputs come from).
FOREIGN_GROUPS: dict[str, tuple[str, _Builder]] = {
    "tb-chest-xrays": ("adult chest X-rays, TB sets (other sites)", _labelled("tb_cxr")),
    "chest-xrays-28": ("chest X-rays at 28 px (PneumoniaMNIST val), no metadata", _labelled("pneumoniamnist")),
    "dicom-samples": ("DICOM samples (CR, CT, MR, SEG, US), with metadata", _dicom_samples(False)),
    "dicom-samples-pixels": ("the same samples, pixels only (metadata removed)", _dicom_samples(True)),
    "breast-ultrasound": ("breast ultrasound (BreastMNIST val)", _labelled("breastmnist")),
    "fetal-head-ultrasound": ("fetal head ultrasound (HC18 val subjects)", _hc18),
    "brain-mri-slices": ("brain MRI slices (LGG val patients), FLAIR as greyscale, no metadata", _lgg_slices),
    "brain-mri-volumes": ("brain MRI volumes (LGG), FLAIR", _volumes("lgg_mri_segmentation_subset")),
    "hippocampus-mri-volumes": ("hippocampus MRI volumes (MSD Task04)", _volumes("msd_task04_hippocampus")),
    "hippocampus-mri-slices": ("hippocampus MRI (val crops), middle slice as 2D, no metadata", _hippocampus_slices),
    "ct-like-volumes": ("CT-like volumes in HU without metadata (synthetic)", lambda where: _ct_like(where.seed)),
    "noise-volumes": ("noise volumes (synthetic)", lambda where: _noise_volumes(where.seed)),
    "synthetic": ("synthetic: noise, blank, gradients, checkerboards, colour", lambda where: _synthetic(where.seed)),
}


def refusal_groups(
    model: CheckedModel, data: Path | None, shared: Path | None, *, per_group: int = 200, seed: int = 0
) -> list[tuple[str, str, ImageSource]]:
    """The model's validation split (when ``data`` is given), then the foreign groups its task names.

    A foreign group whose data is not under ``shared`` is left out; the synthetic ones
    are always measured.

    Raises:
        UsageError: the task names a foreign group :data:`FOREIGN_GROUPS` does not know.
    """
    task = get_task(model.task.name)
    groups: list[tuple[str, str, ImageSource]] = []
    if data is not None:
        groups.append((f"validation {task.own_inputs} (false refusals)", "accept", _own_validation(task, data)))
    # Without shared data every dataset builder finds nothing; the synthetic ones still build.
    where = _Where(shared or Path("/nonexistent"), ReadLimits(), per_group, seed)
    for name, expected in task.checked_against.items():
        if name not in FOREIGN_GROUPS:
            raise UsageError(f"task {task.name} names an unknown foreign input group {name!r}")
        label, build = FOREIGN_GROUPS[name]
        source = build(where)
        if source is not None:
            groups.append((label, expected, source))
    return groups


def _own_validation(task: TaskSpec, data: Path) -> ImageSource:
    """The validation split of the task's own dataset, read as ``evaluate`` reads it."""
    if task.kind is TaskKind.SEGMENTATION:

        def measured() -> Iterator[Image]:
            from medsight.data.hc18 import load_hc18

            val = load_hc18(data).split("val")
            for case in val:
                yield val.image(case)

        return measured
    if task.kind is TaskKind.VOLUME_SEGMENTATION:
        return _volume_set(data, "val", None)
    return _dataset(data, "val", task.label_of, None)


def _binary_label(spelling: str) -> int:
    return int(spelling)


def _dataset(path: Path, split: str, label_of: Callable[[str], int], limit: int | None) -> ImageSource:
    def images() -> Iterator[Image]:
        data = load_dataset(path, label_of).split(split)
        for case in list(data)[:limit]:
            yield data.image(case)

    return images


def pixels_only(image: Image, channel: int | None = None) -> Image:
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
            yield pixels_only(image) if strip else image

    return images


def _paths(paths: list[Path], limits: ReadLimits, strip: bool, channel: int | None = None) -> ImageSource:
    def images() -> Iterator[Image]:
        for path in paths:
            try:
                found, _ = read(path, limits)
            except MedsightError:
                continue
            for image in found:
                yield pixels_only(image, channel) if strip else image

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


def _volume_set(path: Path, split: str | None, limit: int | None) -> ImageSource:
    def images() -> Iterator[Image]:
        data = load_volumes(path)
        if split is not None:
            data = data.split(split)
        for case in list(data)[:limit]:
            yield data.read(case)[0]

    return images


def _ct_like(seed: int, count: int = 5) -> ImageSource:
    """Abdomen-like volumes in HU (air, soft tissue, a liver, a spine), no metadata."""

    def images() -> Iterator[Image]:
        rng = np.random.default_rng(seed)
        axes = (np.linspace(-1, 1, 40), np.linspace(-1, 1, 256), np.linspace(-1, 1, 256))
        _, y, x = np.meshgrid(*axes, indexing="ij")
        body = (y / 0.7) ** 2 + (x / 0.9) ** 2 <= 1
        spine = ((y - 0.45) / 0.12) ** 2 + (x / 0.1) ** 2 <= 1
        liver = ((y + 0.1) / 0.35) ** 2 + ((x + 0.35) / 0.3) ** 2 <= 1
        for _ in range(count):
            hu = np.where(body, 40.0, -1000.0) + 700 * spine + 20 * liver + rng.normal(0, 15, body.shape)
            yield Image(hu.astype(np.float32), layout=Layout.VOLUME, geometry=Geometry(spacing=(3.0, 0.8, 0.8)))

    return images


def _noise_volumes(seed: int, count: int = 5) -> ImageSource:
    def images() -> Iterator[Image]:
        rng = np.random.default_rng(seed)
        for _ in range(count):
            yield Image(rng.normal(100, 30, (30, 64, 64)).astype(np.float32), layout=Layout.VOLUME)

    return images
