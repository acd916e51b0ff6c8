"""Training the input gate: it learns kinds, is deterministic, and refuses impossible data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.data.synthetic_kinds import kind_planes

from medsight.training.kind_gate import GateFitOptions, augment_kinds, fit_gate

FAST = GateFitOptions(epochs=4, steps=12, batch_size=32, lr=5e-3, seed=0, threads=1)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([kind_planes(k, n, seed) for k in range(4)])
    y = np.repeat(np.arange(4), n).astype(np.int64)
    return x, y


def test_the_gate_learns_to_tell_the_kinds_apart_on_images_it_never_saw() -> None:
    x, y = _data(24, seed=0)
    net = fit_gate(x, y, 4, FAST)
    held_x, held_y = _data(20, seed=1)
    with torch.inference_mode():
        called = net(torch.from_numpy(held_x)).argmax(dim=1).numpy()
    assert (called == held_y).mean() >= 0.9


def test_training_is_deterministic_for_a_seed() -> None:
    x, y = _data(8, seed=0)
    options = GateFitOptions(epochs=1, steps=3, batch_size=16, seed=3, threads=1)
    first, second = fit_gate(x, y, 4, options), fit_gate(x, y, 4, options)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_kind_without_images_is_an_error() -> None:
    x, y = _data(4, seed=0)
    with pytest.raises(ValueError, match="every kind needs training images"):
        fit_gate(x[y != 2], y[y != 2], 4, FAST)


def test_augmentation_keeps_shape_and_range_and_changes_the_images() -> None:
    x = torch.from_numpy(kind_planes(0, 16))
    out = augment_kinds(x, torch.Generator().manual_seed(0), min_side=8)
    assert out.shape == x.shape
    assert float(out.min()) >= 0.0
    assert float(out.max()) <= 1.0
    assert not torch.allclose(out, x)


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"batch_size": 1}, {"min_side": 2}])
def test_options_are_checked(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        GateFitOptions(**bad)
