"""Randomised copies and random maps for the saliency audit (medsight.explain.sanity)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medsight.explain.sanity import random_maps, randomized, stage_grid
from medsight.models.networks import Ensemble, NetworkConfig, build_classifier

CONFIG = NetworkConfig(widths=(4, 8, 8, 8), blocks=(1, 1, 1, 1), mean=(0.4,), std=(0.2,))


def _trained(config: NetworkConfig = CONFIG) -> torch.nn.Module:
    torch.manual_seed(7)
    return build_classifier(config).eval()


def test_a_head_randomised_copy_changes_only_the_output_layer_and_leaves_the_original() -> None:
    network = _trained()
    before = {k: v.clone() for k, v in network.state_dict().items()}
    copy = randomized(network, CONFIG, "head", seed=0)
    for key, value in network.state_dict().items():
        assert torch.equal(value, before[key])  # the trained network is untouched
    changed = {k for k, v in copy.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"head.weight", "head.bias"}


def test_an_all_randomised_copy_keeps_the_input_normalisation_and_is_seeded() -> None:
    network = _trained()
    first = randomized(network, CONFIG, "all", seed=3)
    again = randomized(network, CONFIG, "all", seed=3)
    state = first.state_dict()
    assert torch.equal(state["mean"], network.state_dict()["mean"])
    assert not torch.equal(state["head.weight"], network.state_dict()["head.weight"])
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in state.items())


def test_an_ensembles_members_are_all_randomised() -> None:
    config = NetworkConfig(widths=(4, 8, 8, 8), blocks=(1, 1, 1, 1), members=2)
    network = _trained(config)
    copy = randomized(network, config, "head", seed=0)
    assert isinstance(copy, Ensemble)
    for trained, random in zip(network.classifiers(), copy.classifiers(), strict=True):
        assert not torch.equal(trained.head.weight, random.head.weight)


def test_random_maps_are_smooth_at_the_stage_grid() -> None:
    grid = stage_grid(_trained(), 28)
    assert grid == (4, 4)  # 28 px through the small stem's strides 1, 2, 2, 2
    maps = random_maps(3, grid, 28, seed=0)
    assert maps.shape == (3, 28, 28)
    # Neighbouring pixels of an upsampled 4 x 4 grid differ little; independent noise would not.
    assert float(np.abs(np.diff(maps, axis=2)).mean()) < 0.05
    np.testing.assert_array_equal(maps, random_maps(3, grid, 28, seed=0))


def test_an_unknown_randomization_is_an_error() -> None:
    with pytest.raises(ValueError, match="randomization"):
        randomized(_trained(), CONFIG, "layer2")
