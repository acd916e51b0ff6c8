"""The training loop of a binary classifier: weighted loss, one-cycle schedule, early stopping.

Deterministic for a seed on a given machine and thread count: MONAI's
``set_determinism`` seeds torch, numpy and ``random``; batches are drawn from a seeded
generator; torch runs its deterministic algorithms. (Float reductions may still differ
between thread counts or CPUs, so a retrained model matches bit for bit only on the
same platform; elsewhere its metrics agree within their confidence intervals.)
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from medsight.metrics import roc_auc
from medsight.models.networks import Classifier, Network
from medsight.training.augment import Augmenter

__all__ = ["EpochLog", "TrainOptions", "TrainResult", "predict_batches", "train_classifier"]


@dataclass(frozen=True)
class TrainOptions:
    """How to train.

    Attributes:
        epochs: most epochs to run.
        batch_size: images per step.
        lr: peak learning rate of the one-cycle schedule (AdamW).
        weight_decay: AdamW weight decay.
        patience: epochs without a better val AUC before stopping early.
        seed: seed of every random choice.
        augment: use :class:`~medsight.training.augment.Augmenter`.
        mirror: the augmentation mirrors images left-right too (half of them).
        blur_max: extra Gaussian blur of up to this sigma (px, at the model input) on
            ``blur_prob`` of the training images; 0: none (``cxr-pneumonia-224`` 2.0.0 uses 4).
        blur_prob: share of the training images ``blur_max`` blurs.
    """

    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 8
    seed: int = 0
    augment: bool = True
    mirror: bool = False
    blur_max: float = 0.0
    blur_prob: float = 0.3


@dataclass(frozen=True)
class EpochLog:
    """What one epoch achieved."""

    epoch: int
    train_loss: float
    val_loss: float
    val_auc: float
    seconds: float
    best: bool


@dataclass
class TrainResult:
    """The best model (by val AUC, then val loss) and the history that chose it."""

    model: Classifier
    best_epoch: int
    logit_offset: float = 0.0
    history: list[EpochLog] = field(default_factory=list)
    stopped_early: bool = False


OnBatch = Callable[[int, int], None]  # (epoch, batch index)
OnEpoch = Callable[[EpochLog], None]


def predict_batches(model: Network, inputs: NDArray[np.float32], batch_size: int = 256) -> NDArray[np.float32]:
    """Logits ``(n,)`` of ``inputs`` in eval mode."""
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            out.append(model(torch.from_numpy(inputs[start : start + batch_size]))[:, 0])
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def train_classifier(
    model: Classifier,
    train: tuple[NDArray[np.float32], NDArray[np.int64]],
    val: tuple[NDArray[np.float32], NDArray[np.int64]],
    options: TrainOptions,
    *,
    on_batch: OnBatch | None = None,
    on_epoch: OnEpoch | None = None,
) -> TrainResult:
    """Train ``model`` on ``train`` and keep its best state on ``val``.

    Class imbalance is handled by weighting the positive class by negatives / positives
    in the loss, so both classes pull equally whatever their prevalence.
    """
    x_train, y_train = train
    x_val, y_val = val
    positives = max(1, int(y_train.sum()))
    pos_weight = torch.tensor([(len(y_train) - positives) / positives], dtype=torch.float32)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    optimiser = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    steps = max(1, len(x_train) // options.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=options.lr, total_steps=options.epochs * steps, pct_start=0.15
    )
    generator = torch.Generator().manual_seed(options.seed)
    blur = {"blur_max": options.blur_max, "blur_prob": options.blur_prob}
    augment = Augmenter(x_train.shape[-1], options.seed, mirror=options.mirror, **blur) if options.augment else None
    targets = torch.from_numpy(y_train.astype(np.float32))
    best_key: tuple[float, float] = (-1.0, 0.0)
    # The weighted loss moves the optimum logit by log(pos_weight); subtracting it gives
    # back the logit of the training prevalence before calibration (prior correction).
    result = TrainResult(model=copy.deepcopy(model), best_epoch=0, logit_offset=-math.log(float(pos_weight)))
    for epoch in range(1, options.epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=generator).numpy()
        total = 0.0
        for b in range(steps):  # the last partial batch is dropped: BatchNorm dislikes tiny batches
            idx = order[b * options.batch_size : (b + 1) * options.batch_size]
            x = augment(x_train[idx]) if augment else torch.from_numpy(x_train[idx])
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(x)[:, 0], targets[idx])
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item()
            if on_batch:
                on_batch(epoch, b)
        logits = predict_batches(model, x_val)
        val_loss = float(loss_fn(torch.from_numpy(logits), torch.from_numpy(y_val.astype(np.float32))))
        auc = roc_auc(y_val, 1 / (1 + np.exp(-logits.astype(np.float64))))
        key = (auc, -val_loss)
        better = key > best_key
        if better:
            best_key, result.best_epoch = key, epoch
            result.model = copy.deepcopy(model)
        log = EpochLog(epoch, total / steps, val_loss, auc, time.perf_counter() - started, better)
        result.history.append(log)
        if on_epoch:
            on_epoch(log)
        if epoch - result.best_epoch >= options.patience:
            result.stopped_early = True
            break
    result.model.eval()
    return result
