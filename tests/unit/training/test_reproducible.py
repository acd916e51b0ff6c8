"""Training is deterministic for a seed (the basis of `make models` reproducing its sha256)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from medsight.data import load_dataset
from medsight.models.networks import NetworkConfig
from medsight.tasks import get_task
from medsight.training import FitOptions, FitProgress, TrainOptions, fit_classifier

TASK = get_task("cxr-pneumonia")


def _fit(data: Path, seed: int) -> dict[str, torch.Tensor]:
    options = FitOptions(
        resolution=28,
        train=TrainOptions(epochs=2, batch_size=16, seed=seed),
        network=NetworkConfig(widths=(4, 8, 8, 8), blocks=(1, 1, 1, 1)),
        bootstrap=100,
    )
    result = fit_classifier(TASK, load_dataset(data, TASK.label_of), options, FitProgress())
    return {k: v.clone() for k, v in result.model.state_dict().items()}


def test_the_same_seed_gives_the_same_weights_and_another_seed_does_not(synthetic_npz: Path) -> None:
    first, again, other = _fit(synthetic_npz, 0), _fit(synthetic_npz, 0), _fit(synthetic_npz, 1)
    assert first.keys() == again.keys()
    for key in first:
        assert torch.equal(first[key], again[key]), key
    assert any(not torch.equal(first[k], other[k]) for k in first if first[k].is_floating_point())


def test_class_weighting_offsets_the_logit_by_the_prior(synthetic_npz: Path) -> None:
    data = load_dataset(synthetic_npz, TASK.label_of).split("train")
    positives = sum(data.labels)
    options = FitOptions(
        resolution=28,
        train=TrainOptions(epochs=1, batch_size=16),
        bootstrap=100,
        network=NetworkConfig(widths=(4, 8, 8, 8), blocks=(1, 1, 1, 1)),
    )
    result = fit_classifier(TASK, load_dataset(synthetic_npz, TASK.label_of), options, FitProgress())
    expected = -np.log((len(data) - positives) / positives)
    assert result.logit_offset == pytest.approx(expected, abs=1e-6)  # pos_weight is float32
