"""Training a volume segmentation task (``mri-brain-tumour``, ``mri-hippocampus``).

1. every case through the task's volume path (:mod:`medsight.tasks.volume`): 2.5-D slice
   stacks with their labels resized to the model's size, or 3-D volumes zero-padded to
   the recipe's patch (a larger volume is cut to its central patch; none of MSD's is);
2. the U-Net of :mod:`medsight.models.segmenter` (2-D or 3-D, one output per label and
   background), Dice (over the batch) + cross-entropy on the softmax (MONAI
   ``DiceCELoss``), and the fetal-head trainer's loop
   (:func:`~medsight.training.segment.fit_epochs`: AdamW with a one-cycle schedule,
   joint augmentation of image and labels); the best epoch by validation Dice (mean over
   labels) at the model's resolution, early stopping; with ``members`` > 1, as many
   U-Nets from consecutive seeds (the first exactly the single run), their logits
   averaged (:class:`~medsight.models.segmenter.SegmenterEnsemble`);
3. on validation voxels only: one softmax temperature (every ``_VOXEL_STRIDE``-th voxel);
4. on training inputs only: the distribution check (pixel statistics, pooled bottleneck);
5. validation scored exactly as ``evaluate`` scores (:mod:`medsight.inference.volume_eval`),
   by :mod:`medsight.training.export_volume`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from monai.utils.misc import set_determinism
from numpy.typing import NDArray

from medsight.calibration import fit_softmax_temperature
from medsight.data.volumes import VolumeSet
from medsight.inference.ood import OodDetector
from medsight.inference.volume_segmentation import predict_volume
from medsight.models.segmenter import Segmenter, SegmenterConfig, SegmenterEnsemble
from medsight.tasks import TaskSpec
from medsight.tasks.preprocess import resize_area_batch
from medsight.tasks.volume import VolumeRecipe, slice_stack, unit_volume
from medsight.training.fit import FitProgress
from medsight.training.loop import TrainOptions
from medsight.training.segment import fit_epochs, prepared_splits, standardised, start_fit

__all__ = ["VolumeFit", "VolumeOptions", "default_volume_network", "fit_volume_segmenter"]

# Every n-th validation voxel fits the temperature (neighbours are nearly copies).
_VOXEL_STRIDE = 7


@dataclass(frozen=True)
class VolumeOptions:
    """What decides a volume segmentation run (``network`` None: :func:`default_volume_network`;
    ``ood_folds``: folds the distribution check's thresholds are cross-fitted over;
    ``members``: U-Nets trained from seeds ``seed``, ``seed + 1``... and averaged)."""

    train: TrainOptions = field(default_factory=lambda: TrainOptions(batch_size=16, epochs=60, patience=15))
    network: SegmenterConfig | None = None
    ood_quantile: float = 0.995
    ood_folds: int = 2
    bootstrap: int = 2000
    name: str | None = None
    version: str = "1.0.0"
    threads: int = 2
    members: int = 1


@dataclass
class VolumeFit:
    """A fitted volume segmenter before it is written as a bundle."""

    model: Segmenter | SegmenterEnsemble
    network: SegmenterConfig
    recipe: VolumeRecipe
    temperature: float
    ood: OodDetector
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    seconds: float
    split_sizes: dict[str, int]
    ood_val_false_refusal: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    members: list[dict[str, Any]] = field(default_factory=list)


def default_volume_network(recipe: VolumeRecipe, labels: int) -> SegmenterConfig:
    """The U-Net measured to fit 2 CPU cores: 4 levels, 16-128 channels in 2-D, 8-64 in 3-D.

    (One training step of the 3-D net at 48 x 64 x 48, batch 2: 0.24 s; with 16-128
    channels it took 2.5 s, too slow for a 25-minute budget.)
    """
    channels = (16, 32, 64, 128) if recipe.dims == 2 else (8, 16, 32, 64)
    return SegmenterConfig(
        channels=channels,
        strides=(2, 2, 2),
        res_units=1,
        spatial_dims=recipe.dims,
        in_channels=recipe.in_channels,
        out_channels=labels + 1,
    )


@dataclass
class _Arrays:
    """Model inputs ``(n, c, *spatial)`` in [0, 1] and labels ``(n, 1, *spatial)`` (int64)."""

    x: NDArray[np.float32]
    y: NDArray[np.int64]


def prepare_cases(data: VolumeSet, recipe: VolumeRecipe, on_case: Any = None) -> _Arrays:
    """Step 1 of the module docstring, for every case of ``data``."""
    xs, ys = [], []
    for case in data:
        image, labels = data.read(case)
        pixels = image.pixels if image.channels == 1 else image.pixels.mean(axis=-1, dtype=np.float32)
        unit = unit_volume(pixels, recipe)
        if recipe.dims == 2:
            xs.append(slice_stack(unit, recipe))
            ys.append(_resize_labels(labels, recipe.size, int(labels.max(initial=0)))[:, None])
        else:
            x, y = _pad(unit, recipe.patch), _pad(labels, recipe.patch)
            xs.append(x[None, None])
            ys.append(y[None, None].astype(np.int64))
        if on_case:
            on_case()
    if recipe.dims == 3 and len({x.shape for x in xs}) > 1:
        # Volumes larger than the patch: cut each to its central patch.
        xs = [_centre(x, recipe.patch) for x in xs]
        ys = [_centre(y, recipe.patch) for y in ys]
    return _Arrays(np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64))


def _resize_labels(labels: NDArray[np.uint8], size: int, top: int) -> NDArray[np.int64]:
    """Labels resized by area: each voxel takes the label with the largest share (background ties)."""
    shares = np.stack(
        [resize_area_batch((labels == k).astype(np.float32), (size, size)) for k in range(max(1, top) + 1)]
    )
    resized: NDArray[np.int64] = np.argmax(shares, axis=0).astype(np.int64)
    return resized


def _pad(volume: NDArray[Any], patch: tuple[int, int, int]) -> NDArray[Any]:
    widths = [
        (max(0, p - s) // 2, max(0, p - s) - max(0, p - s) // 2) for s, p in zip(volume.shape, patch, strict=True)
    ]
    return np.pad(volume, widths)


def _centre(x: NDArray[Any], patch: tuple[int, int, int]) -> NDArray[Any]:
    starts = [(s - p) // 2 for s, p in zip(x.shape[2:], patch, strict=True)]
    return x[..., starts[0] : starts[0] + patch[0], starts[1] : starts[1] + patch[1], starts[2] : starts[2] + patch[2]]


def _val_dice(model: Segmenter | SegmenterEnsemble, val: _Arrays, labels: int) -> tuple[float, NDArray[np.float32]]:
    """Mean over labels of the Dice over all validation voxels, and the logits."""
    model.eval()
    with torch.inference_mode():
        logits = torch.cat([model(torch.from_numpy(val.x[s : s + 16])) for s in range(0, len(val.x), 16)]).numpy()
    pred, ref = np.argmax(logits, axis=1), val.y[:, 0]
    scores = []
    for k in range(1, labels + 1):
        p, r = pred == k, ref == k
        total = int(p.sum()) + int(r.sum())
        scores.append(2.0 * float((p & r).sum()) / total if total else 1.0)
    return float(np.mean(scores)), logits


def _train(
    model: Segmenter, train: _Arrays, val: _Arrays, labels: int, options: TrainOptions, progress: FitProgress
) -> tuple[Segmenter, int, bool, list[dict[str, float]]]:
    from monai.losses.dice import DiceCELoss

    # Dice over the whole batch, not per sample: most brain slices hold no tumour, and a
    # per-slice Dice punishes any voxel on an empty slice as hard as missing a whole
    # tumour, which drove the first runs to predict nothing on validation for 10 epochs.
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss_fn(logits, y.round().long())  # type: ignore[no-any-return]

    return fit_epochs(
        model, (train.x, train.y), options, progress, loss=loss, validate=lambda m: _val_dice(m, val, labels)[0]
    )


def fit_volume_segmenter(task: TaskSpec, data: VolumeSet, options: VolumeOptions, progress: FitProgress) -> VolumeFit:
    """Steps 1-4 of the module docstring."""
    if task.volume is None:
        raise ValueError(f"{task.name} is not a volume task")
    started = start_fit(options.threads, options.train.seed)
    recipe, labels = task.volume, len(task.classes) - 1
    splits, arrays = prepared_splits(data, lambda part, on_case: prepare_cases(part, recipe, on_case), progress)
    train, val = arrays["train"], arrays["val"]
    network = standardised(options.network or default_volume_network(recipe, labels), train.x)
    runs = []
    for index in range(options.members):
        if index:  # the first member is trained exactly as a single network is (seeded above)
            set_determinism(seed=options.train.seed + index)
        member_options = replace(options.train, seed=options.train.seed + index)
        runs.append(_train(Segmenter(network), train, val, labels, member_options, progress))
    networks = [unet for unet, _, _, _ in runs]
    model: Segmenter | SegmenterEnsemble = networks[0] if len(runs) == 1 else SegmenterEnsemble(networks)
    _, best_epoch, stopped, history = runs[0]
    progress.on_stage("calibrate", 2)
    _, val_logits = _val_dice(model, val, labels)
    flat = np.moveaxis(val_logits, 1, -1).reshape(-1, labels + 1)[::_VOXEL_STRIDE]
    temperature = fit_softmax_temperature(flat, val.y[:, 0].ravel()[::_VOXEL_STRIDE])
    progress.on_step()
    ood, false_refusal = _fit_ood(model, task, data, recipe, options.ood_quantile, options.ood_folds, options.members)
    progress.on_step()
    return VolumeFit(
        model=model,
        network=replace(network, members=options.members),
        recipe=recipe,
        temperature=temperature,
        ood=ood,
        history=history,
        best_epoch=best_epoch,
        stopped_early=stopped,
        seconds=time.perf_counter() - started,
        split_sizes={name: len(part) for name, part in splits.items()},
        ood_val_false_refusal=false_refusal,
        extra={"train_inputs": len(train.x), "val_inputs": len(val.x)},
        members=[
            {"seed": options.train.seed + i, "best_epoch": best, "val_dice": max(h["val_dice"] for h in log)}
            for i, (_, best, _, log) in enumerate(runs)
        ]
        if len(runs) > 1
        else [],
    )


def _fit_ood(
    model: Segmenter | SegmenterEnsemble,
    task: TaskSpec,
    data: VolumeSet,
    recipe: VolumeRecipe,
    quantile: float,
    folds: int = 2,
    members: int = 1,
) -> tuple[OodDetector, float]:
    """The distribution check on training inputs exactly as inference computes them; its
    false-refusal rate on validation volumes (median slice or the one window decides)."""
    collected: dict[str, tuple[list[NDArray[np.float32]], list[NDArray[np.float32]]]] = {}
    for name in ("train", "val"):
        inputs, features = [], []
        for case in data.split(name):
            image, _ = data.read(case)
            pixels = image.pixels if image.channels == 1 else image.pixels.mean(axis=-1, dtype=np.float32)
            _, x, f = predict_volume(model, unit_volume(pixels, recipe), recipe)
            inputs.append(x)
            features.append(f)
        collected[name] = (inputs, features)
    train_x, train_f = collected["train"]
    ood = OodDetector.fit(
        np.concatenate(train_x),
        np.concatenate(train_f),
        quantile=quantile,
        description=task.acceptance.description,
        folds=folds,
        members=members,
    )
    refused = [float(np.median(ood.scores(x, f), axis=0).max() > 1.0) for x, f in zip(*collected["val"], strict=True)]
    return ood, float(np.mean(refused)) if refused else 0.0
