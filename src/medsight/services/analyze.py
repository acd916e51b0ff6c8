"""Use case: analyse a file or folder with a task's model, writing heatmaps on request.

Every input becomes one record with the keys of ``medsight analyze --json``: ``path``,
``task``, ``model``, ``threshold``, then either ``probability``, ``label``,
``uncertainty`` and ``heatmap`` (a path, or None), or ``refused``; a file that could not
be read becomes ``{"path", "error": {"code", "message"}}``. Images are decoded and
analysed a chunk at a time, so a large folder never sits in memory at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.errors import FileNotFoundInputError, MedsightError, UsageError
from medsight.imaging import Image, heat_rgba, heatmap_overlay
from medsight.inference import Analysis, Analyzer, LoadedModel, saliency_on_display
from medsight.io import ReadFailure, scan
from medsight.io.raster import encode_rgb_png, write_rgb_png
from medsight.services.models import load_model
from medsight.settings import ReadLimits
from medsight.tasks import get_task
from medsight.tasks.preprocess import resize_area
from medsight.tasks.registry import TaskKind

__all__ = [
    "AnalyzeOptions",
    "AnalyzeReport",
    "analyze_path",
    "heatmap_layers",
    "heatmap_pngs",
    "write_heatmap",
    "write_heatmaps",
]

# Images decoded and held at once: 8 radiographs of 2048 x 2048 are ~0.3 GB with their
# display planes, within the 1 GB one analyze process may take.
_CHUNK = 8
#: Longest side of a heatmap preview, px (see :func:`write_heatmap`).
HEATMAP_MAX_SIDE = 512
#: Opacity of the hottest region of a heatmap preview.
HEATMAP_ALPHA = 0.45


@dataclass(frozen=True)
class AnalyzeOptions:
    """What ``medsight analyze`` was asked.

    Attributes:
        task: task name.
        model: bundle folder or shipped model name; None for the task's default.
        backend: ``auto`` (ONNX Runtime where exported), ``onnx`` or ``torch``.
        heatmap: where to write heatmaps: a ``.png`` file for a single input, else a folder.
            For a segmentation task, the overlay of the fitted outline instead.
        limits: read limits.
        pixel_spacing_mm: the pixel size to measure in when an input records none (mm).
        out: a volume segmentation task's output folder (``<name>.mask.nii.gz``,
            ``.seg.dcm``, ``.sr.dcm``; :mod:`medsight.services.label_outputs`), or None
            to write nothing.
        tta: a volume segmentation task's test-time augmentation, ``none`` or ``flip``;
            None keeps the model's default (:class:`~medsight.tasks.volume.Tta`).
    """

    task: str
    model: str | None = None
    backend: str = "auto"
    heatmap: Path | None = None
    limits: ReadLimits = field(default_factory=ReadLimits)
    pixel_spacing_mm: float | None = None
    out: Path | None = None
    tta: str | None = None


@dataclass
class AnalyzeReport:
    """Records in input order, and the model that made them."""

    records: list[dict[str, Any]]
    model: dict[str, Any]

    @property
    def counts(self) -> dict[str, int]:
        """How many inputs were scored, refused and unreadable."""
        scored = sum("probability" in r or "found" in r for r in self.records)
        refused = sum("refused" in r for r in self.records)
        return {"scored": scored, "refused": refused, "failed": len(self.records) - scored - refused}


@dataclass(frozen=True)
class ScannedInputs:
    """What a scan of a path found: images to load (in order) and files that failed."""

    items: list[tuple[str, Callable[[ReadLimits], Image]]]
    failures: list[ReadFailure]

    @classmethod
    def of(cls, path: Path, limits: ReadLimits) -> ScannedInputs:
        """Scan ``path`` (headers only); nothing is decoded yet."""
        found = scan(path, limits)
        items: list[tuple[str, Callable[[ReadLimits], Image]]] = [(plan.label, plan.load) for plan in found.planned]
        items += [(label, _already(image)) for label, _, image in found.loaded]
        items += [(pending.label, pending.load) for pending in found.pending]
        return cls(items, list(found.failures))

    @property
    def total(self) -> int:
        """Inputs to report on, failures included."""
        return len(self.items) + len(self.failures)

    @property
    def single(self) -> bool:
        """Whether the path held one input (its outputs are named as the user asked)."""
        return self.total == 1

    def load_in_chunks(
        self, limits: ReadLimits, records: list[dict[str, Any]], on_record: Callable[[dict[str, Any]], None]
    ) -> Iterator[list[tuple[str, Image]]]:
        """Decoded images, at most ``_CHUNK`` at a time; failures go to ``records`` as they happen."""
        for failure in self.failures:
            records.append({"path": failure.label, "error": {"code": failure.code, "message": failure.message}})
            on_record(records[-1])
        for chunk in _chunks(self.items, _CHUNK):
            loaded: list[tuple[str, Image]] = []
            for label, load in chunk:
                try:
                    loaded.append((label, load(limits)))
                except MedsightError as exc:
                    records.append({"path": label, "error": {"code": exc.code, "message": exc.message}})
                    on_record(records[-1])
            yield loaded


def analyze_path(
    path: Path,
    options: AnalyzeOptions,
    *,
    on_start: Callable[[int], None] = lambda total: None,
    on_record: Callable[[dict[str, Any]], None] = lambda record: None,
    model: LoadedModel | None = None,
) -> AnalyzeReport:
    """Analyse every image under ``path``.

    Raises:
        InputError: ``path`` is missing, or is a single file that cannot be read.
        ModelNotFoundError, WeightsMismatchError: the model cannot be used.
    """
    task = get_task(options.task)
    if not path.exists():
        raise FileNotFoundInputError(f"{path} does not exist")
    if options.out is not None and task.kind is not TaskKind.VOLUME_SEGMENTATION:
        raise UsageError(f"--out is for volume segmentation tasks; {task.name} writes --heatmap instead")
    if options.tta is not None and task.kind is not TaskKind.VOLUME_SEGMENTATION:
        raise UsageError(f"--tta is for volume segmentation tasks, not {task.name}")
    if task.kind is TaskKind.SEGMENTATION:
        from medsight.services.measure import measure_path

        return measure_path(path, options, on_start=on_start, on_record=on_record)
    if task.kind is TaskKind.VOLUME_SEGMENTATION:
        from medsight.services.label_outputs import output_writer
        from medsight.services.segment_volumes import segment_volumes_path

        writer = output_writer(options.out) if options.out is not None else None
        return segment_volumes_path(path, options, on_start=on_start, on_record=on_record, on_result=writer)
    # The model before the scan: a wrong name or tampered weights should fail before a long scan.
    model = model or load_model(task, options.model, resolution=None, backend=options.backend)
    inputs = ScannedInputs.of(path, options.limits)
    single = inputs.single
    heatmaps = _heatmap_target(options.heatmap, single)
    analyzer = Analyzer(model, saliency=heatmaps is not None)
    records: list[dict[str, Any]] = []
    names: set[str] = set()
    on_start(inputs.total)
    for loaded in inputs.load_in_chunks(options.limits, records, on_record):
        for (label, _image), analysis in zip(loaded, analyzer.analyze_many([i for _, i in loaded]), strict=True):
            record = {"path": label, **analysis.to_dict()}
            if "probability" in record:
                target = None if heatmaps is None else heatmaps if single else heatmaps / _unique(label, names)
                record["heatmap"] = str(write_heatmap(analysis, target)) if target else None
            records.append(record)
            on_record(record)
    return AnalyzeReport(records=records, model=model.bundle.identity())


def write_heatmap(analysis: Analysis, target: Path, max_side: int = HEATMAP_MAX_SIDE) -> Path:
    """Write the saliency overlay of ``analysis`` over its original image as a PNG preview.

    The preview keeps the whole image and its aspect, at most ``max_side`` px on its long
    side: Grad-CAM's own resolution is the network's last stage (7 x 7 cells at 224 px),
    so a full 2048 px overlay would add only time (half a second) and file size, no detail.
    """
    base, heat = heatmap_layers(analysis, max_side)
    return write_rgb_png(heatmap_overlay(base, heat, alpha=HEATMAP_ALPHA), target)


def write_heatmaps(
    analysis: Analysis, blended: Path, heat_only: Path, max_side: int = HEATMAP_MAX_SIDE
) -> tuple[Path, Path]:
    """Write :func:`write_heatmap`'s preview and, from the same heat, the heat alone as RGBA.

    The heat-only PNG has the preview's grid and colours without the image, its alpha the
    heat itself (1 where hottest): drawn over any rendering of the image (a viewer's own
    window/level) at opacity :data:`HEATMAP_ALPHA` it gives the preview's tint.
    """
    base, heat = heatmap_layers(analysis, max_side)
    return (
        write_rgb_png(heatmap_overlay(base, heat, alpha=HEATMAP_ALPHA), blended),
        write_rgb_png(heat_rgba(heat), heat_only),
    )


def heatmap_pngs(analysis: Analysis, max_side: int = HEATMAP_MAX_SIDE) -> tuple[bytes, bytes]:
    """:func:`write_heatmaps`'s two PNGs as bytes (the service seals them before they reach a disk)."""
    base, heat = heatmap_layers(analysis, max_side)
    return encode_rgb_png(heatmap_overlay(base, heat, alpha=HEATMAP_ALPHA)), encode_rgb_png(heat_rgba(heat))


def heatmap_layers(
    analysis: Analysis, max_side: int = HEATMAP_MAX_SIDE
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """The display image (uint8, at most ``max_side`` px) and the saliency resampled onto it, in [0, 1]."""
    assert analysis.saliency is not None
    assert analysis.prepared is not None
    unit = analysis.prepared.unit
    scale = min(1.0, max_side / max(unit.shape))
    shape = (max(1, round(unit.shape[0] * scale)), max(1, round(unit.shape[1] * scale)))
    base = unit if shape == unit.shape else resize_area(unit, shape)
    heat = saliency_on_display(analysis.saliency, analysis.prepared, shape)
    return np.rint(base * np.float32(255.0)).astype(np.uint8), heat


def _heatmap_target(heatmap: Path | None, single: bool) -> Path | None:
    if heatmap is None:
        return None
    if single and heatmap.suffix.lower() == ".png":
        if not heatmap.parent.is_dir():
            raise UsageError(f"--heatmap: folder {heatmap.parent} does not exist")
        return heatmap
    if heatmap.suffix.lower() == ".png":
        raise UsageError("--heatmap must name a folder when the input holds several images")
    heatmap.mkdir(parents=True, exist_ok=True)
    return heatmap


def _unique(label: str, used: set[str]) -> str:
    """``<name>.heatmap.png`` for ``label``, numbered when two inputs would share a name."""
    base = _safe_name(label)
    name, number = f"{base}.heatmap.png", 1
    while name in used:
        number += 1
        name = f"{base}.{number}.heatmap.png"
    used.add(name)
    return name


def _safe_name(label: str) -> str:
    # Labels are paths (and zip members); keep the last parts, readable and filesystem-safe.
    tail = "_".join(Path(label.replace("!", "/")).parts[-2:])
    return re.sub(r"[^A-Za-z0-9._-]+", "_", tail).strip("._") or "image"


def _already(image: Image) -> Callable[[ReadLimits], Image]:
    return lambda limits: image


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
