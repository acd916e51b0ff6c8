"""Segment an MRI volume: a volume-segmentation bundle applied to one image volume, with refusals.

The order follows the other tasks' contract (:mod:`medsight.inference.segmentation`):

1. the task's metadata checks, then the volume gates (a volume, greyscale, not blank);
2. :func:`~medsight.tasks.volume.unit_volume` (per-volume percentiles, as in training);
3. the network: slice-wise in 2.5-D (each slice with its neighbours, resized to the
   model's size, the logits resized back to the slice), or in 3-D windows of the
   recipe's patch (MONAI ``sliding_window_inference``, Gaussian-weighted overlap, so
   any input size is covered; a volume that fits one window runs as one padded window,
   which is what sliding windows would do, minus their bookkeeping);
4. the distribution check on the input's pixel statistics and the U-Net's pooled
   bottleneck (per slice in 2.5-D, where the volume is refused when its median slice
   is out of distribution; on the central window in 3-D);
5. labels: the argmax of the logits, only the largest connected region kept where the
   recipe says so; probabilities from a softmax with one temperature
   fitted on validation voxels; the confidence is the mean, over labels, of each label's
   expected Dice under those probabilities. With the recipe's ``tta`` at ``flip``, the
   volume mirrored left-right goes through step 3 too, and the labels are the argmax of
   the two probability maps averaged (the distribution check sees the unmirrored pass).

The result carries a :class:`~medsight.imaging.labels.LabelVolume` on the source grid
for the writers (NIfTI, DICOM SEG and SR).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.errors import InvalidBundleError
from medsight.imaging import Image
from medsight.imaging.labels import LabelVolume
from medsight.inference.ood import OodDetector
from medsight.inference.segmentation import expected_dice, load_torch_segmenter
from medsight.models.bundle import Bundle
from medsight.tasks import Refusal, TaskSpec, get_task
from medsight.tasks.registry import TaskKind
from medsight.tasks.volume import (
    Tta,
    VolumeRecipe,
    keep_largest_region,
    mirror_axis,
    slice_stack,
    unit_volume,
    volume_refusal,
)
from medsight.tasks.volume_measure import measure_labels

__all__ = ["LoadedVolumeSegmenter", "VolumeSegmentation", "predict_volume", "segment_volume"]

# Slices per network call in 2.5-D (memory stays near 40 MB for 128 px inputs).
_SLICE_BATCH = 32
_OVERLAP = 0.25


@dataclass(frozen=True)
class VolumeSegmentation:
    """The result for one volume: labels and measurements, or a refusal."""

    task: str
    model: dict[str, Any]
    refused: Refusal | None = None
    labels: LabelVolume | None = None
    measurements: dict[str, Any] = field(default_factory=dict)
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``task``, ``model``, then ``refused``, or ``labels``, ``volumes_ml``,
        ``measurements``, ``confidence`` and the spacing it was measured with."""
        out: dict[str, Any] = {"task": self.task, "model": self.model}
        if self.refused is not None:
            out["refused"] = self.refused.to_dict()
        if self.labels is None:
            return out
        geometry = self.labels.source.geometry
        out["labels"] = list(self.labels.names)
        out["shape"] = list(self.labels.labels.shape)
        out["spacing_mm"] = [round(s, 4) for s in geometry.spacing]
        out["spacing_known"] = geometry.spacing_known
        out["volumes_ml"] = {k: round(v, 4) for k, v in self.labels.volumes_ml().items()}
        out["measurements"] = self.measurements
        out["confidence"] = None if self.confidence is None else round(self.confidence, 4)
        out["confidence_method"] = "mean over labels of the expected Dice under temperature-calibrated probabilities"
        return out


@dataclass
class LoadedVolumeSegmenter:
    """Everything needed to segment volumes with one bundle (torch: sliding windows need it)."""

    bundle: Bundle
    task: TaskSpec
    recipe: VolumeRecipe
    temperature: float
    ood: OodDetector
    model: Any

    @classmethod
    def load(cls, bundle: Bundle, tta: Tta | None = None) -> LoadedVolumeSegmenter:
        """Load a verified volume-segmentation bundle.

        Args:
            bundle: the bundle.
            tta: test-time augmentation; None keeps the bundle's recipe (or, for a bundle
                that predates the choice, the task's measured default).

        Raises:
            InvalidBundleError: not such a bundle, or no distribution check.
        """
        section = bundle.metadata.medsight
        task = get_task(section.task)
        if task.kind is not TaskKind.VOLUME_SEGMENTATION or section.kind != TaskKind.VOLUME_SEGMENTATION.value:
            raise InvalidBundleError(f"{bundle.name} is not a volume segmentation model")
        if not bundle.has("ood.npz") or "volume" not in section.segmentation:
            raise InvalidBundleError(f"{bundle.name}: no models/ood.npz or no volume recipe")
        stored = section.segmentation["volume"]
        recipe = VolumeRecipe.from_dict(stored)
        if tta is not None or "tta" not in stored:
            default = task.volume.tta if task.volume is not None else Tta.NONE
            recipe = replace(recipe, tta=tta if tta is not None else default)
        return cls(
            bundle=bundle,
            task=task,
            recipe=recipe,
            temperature=section.temperature,
            ood=OodDetector.load(bundle.weights_file("ood.npz"), task.acceptance.description),
            model=load_torch_segmenter(bundle),
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Label names (the task's classes after background)."""
        return tuple(self.task.classes[1:])

    def check(self, image: Image) -> Refusal | None:
        """The first metadata or volume gate ``image`` fails, or None."""
        rule = self.task.acceptance
        return rule.refusal(image) or volume_refusal(image, rule.description, self.recipe)


def predict_volume(
    model: Any, unit: NDArray[np.float32], recipe: VolumeRecipe
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Logits ``(k, z, y, x)`` on the volume's grid, and the distribution check's
    inputs ``(m, c, h, w)`` and features ``(m, d)`` (step 3 and 4 of the module docstring)."""
    import torch

    with torch.inference_mode():
        if recipe.dims == 2:
            return _predict_slices(model, unit, recipe)
        return _predict_3d(model, unit, recipe)


def _predict_slices(
    model: Any, unit: NDArray[np.float32], recipe: VolumeRecipe
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    import torch
    from torch.nn.functional import interpolate

    stack = slice_stack(unit, recipe)
    logits, features = [], []
    for s in range(0, len(stack), _SLICE_BATCH):
        out, feats = model.run(torch.from_numpy(stack[s : s + _SLICE_BATCH]))
        # Bilinear on the logits, then argmax: a smooth edge at the slice's own resolution.
        logits.append(interpolate(out, size=unit.shape[1:], mode="bilinear", align_corners=False))
        features.append(feats)
    volume = torch.cat(logits).permute(1, 0, 2, 3).contiguous().numpy()
    return volume, stack, torch.cat(features).numpy()


def _predict_3d(
    model: Any, unit: NDArray[np.float32], recipe: VolumeRecipe
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    import torch

    x = torch.from_numpy(np.ascontiguousarray(unit))[None, None]
    padded, crop = _pad_to(x, recipe.patch)
    if padded.shape[2:] == recipe.patch:
        logits, features = model.run(padded)
        logits = logits[(slice(None), slice(None), *crop)]
    else:
        from monai.inferers.utils import sliding_window_inference

        logits = sliding_window_inference(
            x, roi_size=recipe.patch, sw_batch_size=2, predictor=model, overlap=_OVERLAP, mode="gaussian"
        )
        _, features = model.run(_centre(padded, recipe.patch))
    ood_input = padded[:, :, padded.shape[2] // 2].numpy()
    return logits[0].numpy(), np.ascontiguousarray(ood_input), features.numpy()


def _pad_to(x: Any, patch: tuple[int, int, int]) -> tuple[Any, tuple[slice, slice, slice]]:
    """Zero-pad ``x`` (1, 1, z, y, x) symmetrically to at least ``patch``; the slices that undo it."""
    from torch.nn.functional import pad

    before = [max(0, p - s) // 2 for s, p in zip(x.shape[2:], patch, strict=True)]
    after = [max(0, p - s) - b for s, p, b in zip(x.shape[2:], patch, before, strict=True)]
    widths = [w for axis in (2, 1, 0) for w in (before[axis], after[axis])]
    crop = tuple(slice(b, b + s) for b, s in zip(before, x.shape[2:], strict=True))
    return pad(x, widths), (crop[0], crop[1], crop[2])


def _centre(x: Any, patch: tuple[int, int, int]) -> Any:
    starts = [(s - p) // 2 for s, p in zip(x.shape[2:], patch, strict=True)]
    return x[:, :, starts[0] : starts[0] + patch[0], starts[1] : starts[1] + patch[1], starts[2] : starts[2] + patch[2]]


def segment_volume(model: LoadedVolumeSegmenter, image: Image, *, measure_refused: bool = False) -> VolumeSegmentation:
    """Segment and measure one image volume (the module docstring).

    Args:
        model: the loaded bundle.
        image: the volume (any layout; the gates refuse what is not a volume).
        measure_refused: measure inputs that fail the distribution check too, keeping the
            refusal beside the result (``evaluate`` scores every case).
    """
    identity = model.bundle.identity()
    refusal = model.check(image)
    if refusal is not None:
        return VolumeSegmentation(model.task.name, identity, refused=refusal)
    pixels = image.pixels if image.channels == 1 else image.pixels.mean(axis=-1, dtype=np.float32)
    unit = unit_volume(pixels, model.recipe)
    logits, ood_inputs, features = predict_volume(model.model, unit, model.recipe)
    refusal = _ood_refusal(model.ood, ood_inputs, features)
    if refusal is not None and not measure_refused:
        return VolumeSegmentation(model.task.name, identity, refused=refusal)
    if model.recipe.tta is Tta.FLIP:
        labels, probability = _decide_mirrored(model, unit, logits, mirror_axis(image.geometry))
    else:
        labels, probability = _decide(logits, model.temperature)
    if model.recipe.keep_largest:
        labels = keep_largest_region(labels)
    confidence = float(np.mean([expected_dice(probability[k + 1], labels == k + 1) for k in range(len(model.names))]))
    chosen = np.take_along_axis(probability, labels[None].astype(np.int64), axis=0)[0]
    volume = LabelVolume(labels, model.names, image, confidence=chosen)
    return VolumeSegmentation(
        task=model.task.name,
        model=identity,
        refused=refusal,
        labels=volume,
        measurements=measure_labels(labels, model.names, image.geometry.spacing),
        confidence=confidence,
    )


def _decide(logits: NDArray[np.float32], temperature: float) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """Labels (argmax) and calibrated probabilities ``(k, z, y, x)``."""
    from medsight.calibration import apply_softmax_temperature

    labels = np.argmax(logits, axis=0).astype(np.uint8)
    return labels, apply_softmax_temperature(logits, temperature, axis=0)


def _decide_mirrored(
    model: LoadedVolumeSegmenter, unit: NDArray[np.float32], logits: NDArray[np.float32], axis: int
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """Labels and probabilities averaged over ``unit`` and its mirror along array ``axis``."""
    from medsight.calibration import apply_softmax_temperature

    mirrored, _, _ = predict_volume(model.model, np.ascontiguousarray(np.flip(unit, axis)), model.recipe)
    probability = apply_softmax_temperature(logits, model.temperature, axis=0)
    probability += np.flip(apply_softmax_temperature(mirrored, model.temperature, axis=0), axis + 1)
    probability *= np.float32(0.5)
    return np.argmax(probability, axis=0).astype(np.uint8), probability


def _ood_refusal(ood: OodDetector, inputs: NDArray[np.float32], features: NDArray[np.float32]) -> Refusal | None:
    """The distribution check on the volume: its median slice (or its one window) decides."""
    scores = np.median(ood.scores(inputs, features), axis=0)
    if scores[0] > 1.0:
        return Refusal(
            "pixel_statistics", f"the volume does not look like {ood.description} ({scores[0]:.1f}x the limit)"
        )
    if scores[1] > 1.0:
        return Refusal("features", f"the model does not recognise {ood.description} here ({scores[1]:.1f}x the limit)")
    return None
