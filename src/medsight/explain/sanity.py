"""What the saliency checks (:mod:`medsight.audit.saliency`) need from torch: randomised
copies of a classifier, and random maps as smooth as Grad-CAM's.

- :func:`randomized` re-initialises the output layer(s) (``head``) or every weight
  (``all``) of a copy, the trained network untouched: Adebayo et al. (NeurIPS 2018)
  randomise from the top down; these are the two ends of that cascade.
- :func:`random_maps` draws uniform noise on the map's grid (:func:`map_grid`: Grad-CAM's
  explained stage, or the occlusion squares' positions) and upsamples it to the input as
  :class:`~medsight.explain.gradcam.Saliency` upsamples its maps, so a random order moves
  regions of the same size as the map's order does.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own convention)
from numpy.typing import NDArray

from medsight.explain.gradcam import TARGET_LAYER
from medsight.models.networks import Ensemble, Network, NetworkConfig, build_classifier
from medsight.models.saliency import GRADCAM, SaliencySpec

__all__ = ["RANDOMIZATIONS", "map_grid", "random_maps", "randomized", "stage_grid"]

#: What :func:`randomized` can re-initialise.
RANDOMIZATIONS = ("head", "all")
# The classifiers' input-normalisation buffers (not BatchNorm's running_mean / running_var).
_NORMALISATION = ("mean", "std")


def randomized(network: Network, config: NetworkConfig, which: str, seed: int = 0) -> Network:
    """A copy of ``network`` with its output layers (``head``) or all weights (``all``)
    re-initialised from ``seed``; input normalisation is kept."""
    if which not in RANDOMIZATIONS:
        raise ValueError(f"randomization must be one of {RANDOMIZATIONS}, got {which!r}")
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        if which == "all":
            fresh = build_classifier(config)
            fresh.load_state_dict(
                {k: v for k, v in network.state_dict().items() if k.rsplit(".", 1)[-1] in _NORMALISATION},
                strict=False,
            )
            return fresh.eval()
        out = copy.deepcopy(network)
        members = out.classifiers() if isinstance(out, Ensemble) else [out]
        for member in members:
            member.head.reset_parameters()
        return out.eval()
    finally:
        torch.random.set_rng_state(generator_state)


def stage_grid(network: Network, size: int) -> tuple[int, int]:
    """The spatial size of the explained stage's output for ``size`` x ``size`` inputs."""
    members = network.classifiers() if isinstance(network, Ensemble) else [network]
    captured: list[torch.Size] = []
    hook = (
        members[0]
        .get_submodule(TARGET_LAYER)
        .register_forward_hook(lambda module, args, out: captured.append(out.shape))
    )
    try:
        with torch.inference_mode():
            members[0](torch.zeros(1, 1, size, size))
    finally:
        hook.remove()
    return int(captured[0][-2]), int(captured[0][-1])


def map_grid(network: Network, method: SaliencySpec, size: int) -> tuple[int, int]:
    """The grid a ``method`` map of ``size`` x ``size`` inputs varies on: the explained
    stage's for Grad-CAM, the squares' positions for occlusion (the random maps the audit
    compares with must be as smooth as the maps judged)."""
    if method.method == GRADCAM:
        return stage_grid(network, size)
    return method.positions(size), method.positions(size)


def random_maps(n: int, grid: tuple[int, int], size: int, seed: int = 0) -> NDArray[np.float32]:
    """``(n, size, size)`` maps: uniform noise on ``grid``, upsampled bilinearly as Grad-CAM's are."""
    noise = torch.from_numpy(np.random.default_rng(seed).random((n, 1, *grid), dtype=np.float32))
    up = F.interpolate(noise, size=(size, size), mode="bilinear", align_corners=False)[:, 0]
    return up.numpy().astype(np.float32)
