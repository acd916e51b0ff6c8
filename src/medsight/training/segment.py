"""Training a segmentation task (``us-fetal-head``): from an HC18-layout folder to a fitted U-Net.

1. every image through the task's shared preprocessing; the reference mask is the
   annotated ellipse, filled, resized to the model input;
2. MONAI U-Net, Dice + binary cross-entropy, AdamW with a one-cycle schedule; joint
   augmentation of image and mask (MONAI ``RandAffined``, left-right flips) and intensity
   changes on the image; the best epoch by validation Dice at the model's resolution,
   early stopping;
3. on validation pixels only: one temperature for the pixel probabilities;
4. on training images only: the distribution check (pixel statistics, bottleneck features);
5. validation measured exactly as ``evaluate`` measures (:mod:`medsight.inference.segmentation`):
   Dice and HD95 at the frame's resolution, HC against the CSV, 95% bootstrap CIs.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
from monai.utils.misc import set_determinism
from numpy.typing import NDArray

from medsight.calibration import fit_temperature
from medsight.data.hc18 import MeasuredSet
from medsight.errors import InvalidDatasetError, MedsightError
from medsight.inference.ood import OodDetector
from medsight.models.segmenter import Segmenter, SegmenterConfig
from medsight.tasks import Preprocessing, TaskSpec, prepare
from medsight.tasks.preprocess import resize_area
from medsight.training.fit import FitProgress
from medsight.training.loop import EpochLog, TrainOptions

__all__ = [
    "SegmentOptions",
    "SegmentationFit",
    "augmenter",
    "batch_pairs",
    "fit_epochs",
    "fit_segmenter",
    "prepare_measured",
    "prepared_splits",
    "standardised",
    "start_fit",
]

_Prepared = TypeVar("_Prepared")

# Every n-th validation pixel fits the temperature (neighbours are nearly copies).
_PIXEL_STRIDE = 5


@dataclass(frozen=True)
class SegmentOptions:
    """What decides a segmentation run.

    Attributes:
        resolution: model input side, px.
        train: epochs, batch size, learning rate, patience, seed.
        network: the U-Net; None for :class:`SegmenterConfig`'s default.
        ood_quantile: training quantile of the distribution check's thresholds.
        ood_folds: folds those thresholds are cross-fitted over (2: halves).
        bootstrap: resamples for the CIs.
        flip_average: average the logits with those of the mirrored input at inference
            (the temperature is fitted on the averaged logits).
        name: the bundle's model name; None gives ``<task>-<resolution>``.
        version: the bundle's version.
        threads: torch threads.
    """

    resolution: int
    train: TrainOptions = field(default_factory=lambda: TrainOptions(batch_size=16, epochs=40, patience=10))
    network: SegmenterConfig | None = None
    ood_quantile: float = 0.995
    ood_folds: int = 2
    bootstrap: int = 2000
    flip_average: bool = True
    name: str | None = None
    version: str = "1.0.0"
    threads: int = 2


@dataclass
class SegmentationFit:
    """A fitted segmenter before it is written as a bundle."""

    model: Segmenter
    network: SegmenterConfig
    temperature: float
    ood: OodDetector
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    seconds: float
    split_sizes: dict[str, int]
    x_val: NDArray[np.float32]
    ood_val_false_refusal: float = 0.0
    val_metrics: dict[str, Any] = field(default_factory=dict)


def prepare_measured(
    data: MeasuredSet, preprocessing: Preprocessing, on_case: Callable[[], None] | None = None
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Inputs ``(n, 1, S, S)`` and reference masks ``(n, 1, S, S)`` (0/1) of every case.

    Raises:
        InvalidDatasetError: an image or annotation cannot be read.
    """
    size = preprocessing.size
    inputs = np.empty((len(data), 1, size, size), dtype=np.float32)
    masks = np.empty_like(inputs)
    for i, case in enumerate(data):
        try:
            prepared = prepare(data.image(case), preprocessing)
        except MedsightError as exc:
            raise InvalidDatasetError(f"case {case.key}: {exc.message}") from exc
        _, mask = data.reference(case, prepared.unit.shape)
        r0, c0, r1, c1 = prepared.box
        inputs[i] = prepared.input
        masks[i, 0] = resize_area(mask[r0:r1, c0:c1].astype(np.float32), (size, size)) >= 0.5
        if on_case:
            on_case()
    return inputs, masks


def augmenter(size: int, seed: int, dims: int = 2) -> Any:
    """Joint augmentation of ``image`` and ``mask`` (labels stay labels: nearest neighbour).

    2-D: rotation up to 20 degrees, scale 15%, shift 8%, left-right flips. 3-D (the
    hippocampus crops): rotation up to 10 degrees about each axis, scale 10%, shift 4
    voxels, no flips (each crop is one side's hippocampus, and its head/tail order matters).
    """
    from monai.transforms.compose import Compose
    from monai.transforms.intensity.dictionary import RandAdjustContrastd, RandGaussianNoised
    from monai.transforms.spatial.dictionary import RandAffined, RandFlipd

    if dims == 3:
        spatial: list[Any] = [
            RandAffined(
                keys=("image", "mask"),
                prob=0.7,
                rotate_range=(np.deg2rad(10),) * 3,
                scale_range=(0.1, 0.1, 0.1),
                translate_range=(4, 4, 4),
                mode=("bilinear", "nearest"),
                padding_mode="zeros",
            )
        ]
    else:
        spatial = [
            RandAffined(
                keys=("image", "mask"),
                prob=0.8,
                rotate_range=(np.deg2rad(20),),
                scale_range=(0.15, 0.15),
                translate_range=(0.08 * size, 0.08 * size),
                mode=("bilinear", "nearest"),
                padding_mode="zeros",
            ),
            RandFlipd(keys=("image", "mask"), prob=0.5, spatial_axis=1),
        ]
    return Compose(
        [
            *spatial,
            RandAdjustContrastd(keys="image", prob=0.5, gamma=(0.7, 1.4)),
            RandGaussianNoised(keys="image", prob=0.2, std=0.03),
        ]
    ).set_random_state(seed=seed)


def batch_pairs(augment: Any, x: NDArray[np.float32], y: NDArray[np.float32]) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch: each (image, mask) pair through ``augment`` (None: as is)."""
    if augment is None:
        return torch.from_numpy(x), torch.from_numpy(y)
    pairs = [augment({"image": torch.from_numpy(a), "mask": torch.from_numpy(b)}) for a, b in zip(x, y, strict=True)]
    images = torch.stack([torch.as_tensor(p["image"]) for p in pairs]).float().clamp_(0.0, 1.0)
    masks = torch.stack([torch.as_tensor(p["mask"]) for p in pairs]).float()
    return images, masks


def _val_dice(model: Segmenter, x: NDArray[np.float32], y: NDArray[np.float32]) -> tuple[float, NDArray[np.float32]]:
    logits = predict_logits(model, x)
    pred, ref = logits > 0, y[:, 0] > 0.5
    inter = (pred & ref).sum(axis=(1, 2))
    dice = 2 * inter / np.maximum(1, pred.sum(axis=(1, 2)) + ref.sum(axis=(1, 2)))
    return float(dice.mean()), logits


def predict_logits(
    model: Segmenter, x: NDArray[np.float32], batch: int = 32, *, flip_average: bool = False
) -> NDArray[np.float32]:
    """Pixel logits ``(n, S, S)`` in eval mode (averaged with the mirrored input's if asked)."""
    model.eval()
    with torch.inference_mode():
        out = [model(torch.from_numpy(x[s : s + batch]))[:, 0] for s in range(0, len(x), batch)]
    logits = torch.cat(out).numpy()
    if flip_average:
        mirrored = predict_logits(model, np.ascontiguousarray(x[..., ::-1]), batch)
        logits = (logits + mirrored[..., ::-1]) * np.float32(0.5)
    return logits


def _train(
    model: Segmenter,
    train: tuple[NDArray[np.float32], NDArray[np.float32]],
    val: tuple[NDArray[np.float32], NDArray[np.float32]],
    options: TrainOptions,
    progress: FitProgress,
) -> tuple[Segmenter, int, bool, list[dict[str, float]]]:
    from monai.losses.dice import DiceLoss

    dice_loss, bce = DiceLoss(sigmoid=True), torch.nn.BCEWithLogitsLoss()

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return dice_loss(logits, y) + bce(logits, y)  # type: ignore[no-any-return]

    return fit_epochs(model, train, options, progress, loss=loss, validate=lambda m: _val_dice(m, *val)[0])


def fit_epochs(
    model: Segmenter,
    train: tuple[NDArray[Any], NDArray[Any]],
    options: TrainOptions,
    progress: FitProgress,
    *,
    loss: Callable[[torch.Tensor, torch.Tensor], Any],
    validate: Callable[[Segmenter], float],
) -> tuple[Segmenter, int, bool, list[dict[str, float]]]:
    """The segmenters' training loop (the fetal head's and the MRI volumes').

    Opens the progress stage ``train`` (one step a batch). AdamW with a one-cycle
    schedule; each epoch the training pairs in a seeded random order, in batches, through
    :func:`augmenter` (2-D or 3-D from the inputs' shape) and :func:`batch_pairs` (labels
    as float32); ``loss(logits, labels)``; then ``validate(model)`` (a Dice: higher is
    better) picks the best epoch, and training stops ``options.patience`` epochs after it.

    Returns:
        The model with the best epoch's weights, in eval mode; the best epoch; whether it
        stopped early; one ``{epoch, train_loss, val_dice}`` per epoch.
    """
    x_train, y_train = train
    steps = max(1, len(x_train) // options.batch_size)
    progress.on_stage("train", options.epochs * steps)
    optimiser = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=options.lr, total_steps=options.epochs * steps, pct_start=0.1
    )
    generator = torch.Generator().manual_seed(options.seed)
    augment = augmenter(x_train.shape[-1], options.seed, dims=x_train.ndim - 2) if options.augment else None
    best, best_epoch, best_state, history = -1.0, 0, copy.deepcopy(model.state_dict()), []
    for epoch in range(1, options.epochs + 1):
        started, total = time.perf_counter(), 0.0
        model.train()
        order = torch.randperm(len(x_train), generator=generator).numpy()
        for b in range(steps):
            idx = order[b * options.batch_size : (b + 1) * options.batch_size]
            x, y = batch_pairs(augment, x_train[idx], y_train[idx].astype(np.float32, copy=False))
            optimiser.zero_grad(set_to_none=True)
            value = loss(model(x), y)
            value.backward()
            optimiser.step()
            schedule.step()
            total += float(value.item())
            progress.on_step()
        dice = validate(model)
        if dice > best:
            best, best_epoch, best_state = dice, epoch, copy.deepcopy(model.state_dict())
        history.append({"epoch": epoch, "train_loss": round(total / steps, 4), "val_dice": round(dice, 4)})
        seconds = time.perf_counter() - started
        # EpochLog's val_auc column carries the val Dice here (the CLI prints it per epoch).
        progress.on_epoch(EpochLog(epoch, total / steps, 1.0 - dice, dice, seconds, epoch == best_epoch))
        if epoch - best_epoch >= options.patience:
            model.load_state_dict(best_state)
            return model.eval(), best_epoch, True, history
    model.load_state_dict(best_state)
    return model.eval(), best_epoch, False, history


def start_fit(threads: int, seed: int) -> float:
    """Threads and determinism for a training run (MONAI's seeds, torch's deterministic
    algorithms where they exist); the start time."""
    started = time.perf_counter()
    torch.set_num_threads(threads)
    set_determinism(seed=seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return started


def standardised(base: SegmenterConfig, x_train: NDArray[np.float32]) -> SegmenterConfig:
    """``base`` with the training inputs' mean and standard deviation (the network normalises itself)."""
    return SegmenterConfig.from_dict({**base.to_dict(), "mean": float(x_train.mean()), "std": float(x_train.std())})


def prepared_splits(
    data: Any, prepare_part: Callable[[Any, Callable[[], None]], _Prepared], progress: FitProgress
) -> tuple[dict[str, Any], dict[str, _Prepared]]:
    """The train and val splits of ``data`` and each prepared by ``prepare_part(split, on_case)``."""
    splits = {name: data.split(name) for name in ("train", "val")}
    arrays = {}
    for name, part in splits.items():
        progress.on_stage(f"preprocess {name}", len(part))
        arrays[name] = prepare_part(part, progress.on_step)
    return splits, arrays


def fit_segmenter(task: TaskSpec, data: MeasuredSet, options: SegmentOptions, progress: FitProgress) -> SegmentationFit:
    """Steps 1-4 of the module docstring; step 5 is :func:`medsight.training.segment_eval.validate`."""
    started = start_fit(options.threads, options.train.seed)
    preprocessing = task.preprocessing_for(options.resolution)
    splits, arrays = prepared_splits(
        data, lambda part, on_case: prepare_measured(part, preprocessing, on_case), progress
    )
    (x_train, y_train), (x_val, y_val) = arrays["train"], arrays["val"]
    network = standardised(options.network or SegmenterConfig(), x_train)
    model, best_epoch, stopped, history = _train(
        Segmenter(network), (x_train, y_train), (x_val, y_val), options.train, progress
    )
    progress.on_stage("calibrate", 2)
    val_logits = predict_logits(model, x_val, flip_average=options.flip_average)
    temperature = fit_temperature(
        val_logits.ravel()[::_PIXEL_STRIDE].astype(np.float64), y_val[:, 0].ravel()[::_PIXEL_STRIDE].astype(np.int64)
    )
    progress.on_step()
    with torch.inference_mode():
        train_features = _features(model, x_train)
        val_features = _features(model, x_val)
    ood = OodDetector.fit(
        x_train,
        train_features,
        quantile=options.ood_quantile,
        description=task.acceptance.description,
        folds=options.ood_folds,
    )
    false_refusal = float(np.mean(ood.scores(x_val, val_features).max(axis=1) > 1.0))
    progress.on_step()
    return SegmentationFit(
        model=model,
        network=network,
        temperature=temperature,
        ood=ood,
        history=history,
        best_epoch=best_epoch,
        stopped_early=stopped,
        seconds=time.perf_counter() - started,
        split_sizes={name: len(part) for name, part in splits.items()},
        x_val=x_val,
        ood_val_false_refusal=false_refusal,
    )


def _features(model: Segmenter, x: NDArray[np.float32], batch: int = 64) -> NDArray[np.float32]:
    model.eval()
    return torch.cat([model.run(torch.from_numpy(x[s : s + batch]))[1] for s in range(0, len(x), batch)]).numpy()
