"""Train the input gate: a small classifier of image kinds (``medsight.models.kind_gate``).

The kinds come from datasets of very different sizes (4,708 PneumoniaMNIST films, 546
BreastMNIST frames) and resolutions (28 px to 800 x 540), so two things matter more
than the network:

- **balance**: every batch draws the kinds equally (sampling weights ``1 / count``), so
  the gate does not learn that almost everything is a chest X-ray;
- **no resolution cue**: BreastMNIST exists only at 28 px, so a gate could learn "blurry
  means breast" and refuse a real 256 px breast frame. Each batch is therefore reduced to
  a random size between ``min_side`` and the full size and brought back, and every image
  is zoomed, shifted, mirrored and changed in contrast and gamma: what remains is layout
  and texture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch.nn import functional

from medsight.models.kind_gate import KindNet

__all__ = ["GateFitOptions", "augment_kinds", "fit_gate"]


@dataclass(frozen=True)
class GateFitOptions:
    """How the gate is trained.

    Attributes:
        epochs: passes of ``steps`` batches each.
        steps: batches per epoch (the data are drawn with replacement, balanced by kind).
        batch_size: images per batch.
        lr: peak learning rate of the one-cycle schedule (AdamW).
        min_side: the smallest side a batch is reduced to before being brought back.
        seed: seeds the weights, the sampling and the augmentation.
        threads: torch CPU threads (0: torch's choice).
    """

    epochs: int = 20
    steps: int = 60
    batch_size: int = 128
    lr: float = 2e-3
    min_side: int = 16
    seed: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.steps < 1 or self.batch_size < 2:
            raise ValueError("epochs, steps and batch size must be positive (batch size at least 2)")
        if self.min_side < 4:
            raise ValueError(f"min_side must be at least 4 px, got {self.min_side}")


def augment_kinds(x: torch.Tensor, generator: torch.Generator, min_side: int) -> torch.Tensor:
    """Mirror, rescale, zoom, shift and re-contrast a batch ``(n, 1, S, S)`` in ``[0, 1]``."""
    n, size = x.shape[0], x.shape[-1]
    mirror = torch.rand(n, generator=generator) < 0.5
    x = torch.where(mirror[:, None, None, None], x.flip(3), x)
    side = int(torch.randint(min(min_side, size), size + 1, (1,), generator=generator))
    if side < size:
        x = functional.interpolate(
            functional.interpolate(x, size=(side, side), mode="area"),
            size=(size, size),
            mode="bilinear",
            align_corners=False,
        )
    scale = 1 - 0.25 * torch.rand(n, generator=generator)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, :, 2] = (torch.rand(n, 2, generator=generator) - 0.5) * 0.2
    grid = functional.affine_grid(theta, list(x.shape), align_corners=False)
    x = functional.grid_sample(x, grid, padding_mode="border", align_corners=False).clamp(0, 1)
    gamma = torch.exp((torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.8)
    gain = 1 + (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.4
    offset = (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.2
    return (x**gamma * gain + offset).clamp(0, 1)


def fit_gate(
    inputs: NDArray[np.float32],
    labels: NDArray[np.int64],
    kinds: int,
    options: GateFitOptions,
    on_epoch: Callable[[int, float], None] = lambda epoch, loss: None,
) -> KindNet:
    """Train a :class:`KindNet` on gate inputs ``(n, 1, S, S)`` with kind indices ``labels``.

    Deterministic for a seed and thread count on one machine.

    Raises:
        ValueError: a kind has no training image.
    """
    counts = np.bincount(labels, minlength=kinds)
    if (counts == 0).any():
        raise ValueError(f"every kind needs training images; counts per kind: {counts.tolist()}")
    if options.threads:
        torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    generator = torch.Generator().manual_seed(options.seed + 1)
    net = KindNet(kinds)
    x, y = torch.from_numpy(inputs), torch.from_numpy(labels)
    weights = torch.from_numpy(1.0 / counts[labels])
    optimiser = torch.optim.AdamW(net.parameters(), lr=options.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, options.lr, total_steps=options.epochs * options.steps)
    for epoch in range(options.epochs):
        net.train()
        total = 0.0
        for _ in range(options.steps):
            pick = torch.multinomial(weights, options.batch_size, replacement=True, generator=generator)
            loss = functional.cross_entropy(net(augment_kinds(x[pick], generator, options.min_side)), y[pick])
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            schedule.step()
            total += loss.item()
        on_epoch(epoch + 1, total / options.steps)
    return net.eval()
