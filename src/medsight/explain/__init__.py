"""Explanations of model outputs (torch): saliency maps.

:func:`saliency_for` makes the method a bundle's ``saliency`` setting names
(:mod:`medsight.models.saliency`): Grad-CAM, or occlusion where Grad-CAM failed the
model's saliency audit. Both are called the same way: ``(n, 1, H, W)`` inputs to
``(n, H, W)`` maps in ``[0, 1]``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import NDArray

from medsight.explain.gradcam import TARGET_LAYER, Saliency
from medsight.explain.occlusion import Logits, Occlusion
from medsight.models.networks import Network
from medsight.models.saliency import GRADCAM, SaliencySpec

__all__ = ["TARGET_LAYER", "Logits", "Occlusion", "Saliency", "SaliencyMethod", "saliency_for", "torch_logits"]

#: What :func:`saliency_for` returns: inputs ``(n, 1, H, W)`` to maps ``(n, H, W)`` in ``[0, 1]``.
SaliencyMethod = Callable[[NDArray[np.float32]], NDArray[np.float32]]


def saliency_for(
    load_network: Callable[[], Network], spec: SaliencySpec, logits: Logits | None = None
) -> SaliencyMethod:
    """The saliency method ``spec`` names.

    Args:
        load_network: gives the torch network, called only when the method reads it
            (Grad-CAM, which reads its last stage; occlusion without ``logits``).
        spec: the method.
        logits: occlusion only: how to score the occluded copies; default the network's
            own forward pass (``analyze`` passes its faster predictor, same logits to 1e-4,
            and so never loads the torch network for an occlusion model).
    """
    if spec.method == GRADCAM:
        return Saliency(load_network())
    return Occlusion(logits or torch_logits(load_network()), spec)


def torch_logits(network: Network) -> Logits:
    """``network``'s logits ``(n,)`` for inputs ``(n, 1, H, W)``, in eval mode, without autograd."""
    network.eval()

    def logits(inputs: NDArray[np.float32]) -> NDArray[np.float32]:
        with torch.inference_mode():
            out: NDArray[np.float32] = network(torch.from_numpy(np.ascontiguousarray(inputs)))[:, 0].numpy()
        return out

    return logits
