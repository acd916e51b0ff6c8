"""Saliency maps: where in the image the model's evidence for the positive class lies.

Grad-CAM (Selvaraju et al., ICCV 2017) on the last residual stage: the stage's
activations weighted by the spatial mean of the logit's gradient with respect to them,
summed over channels, rectified, upsampled to the input and scaled to ``[0, 1]`` per
image. It is MONAI's ``GradCAM`` computation (a test checks the two agree) with one
difference that matters on a CPU: only the gradient at the explained stage is computed
(``torch.autograd.grad``), not every weight's, which makes it several times faster.

For an ensemble the logit is the members' mean, and its first-order expansion is the sum
of every member's gradient-weighted stage: the members' maps are summed before the
rectification, which for one member is plain Grad-CAM.

The map answers "which regions raised the pneumonia logit", not "where is the
pneumonia": the model card and the viewer say so.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own convention)
from numpy.typing import NDArray

from medsight.models.networks import Ensemble, Network

__all__ = ["TARGET_LAYER", "Saliency"]

#: The layer Grad-CAM explains in :class:`~medsight.models.networks.Classifier`.
TARGET_LAYER = "backbone.layer4"


class Saliency:
    """Grad-CAM maps for a classifier or an ensemble, one per input, each scaled to ``[0, 1]``."""

    def __init__(self, model: Network) -> None:
        self.model = model.eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)  # no weight gradients: only the stages'
        members = model.classifiers() if isinstance(model, Ensemble) else [model]
        self.stages = [member.get_submodule(TARGET_LAYER) for member in members]

    def __call__(self, inputs: NDArray[np.float32]) -> NDArray[np.float32]:
        """Maps ``(n, H, W)`` for inputs ``(n, 1, H, W)`` (same spatial size)."""
        x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
        captured: list[torch.Tensor] = []
        hooks = [stage.register_forward_hook(lambda module, args, out: captured.append(out)) for stage in self.stages]
        try:
            with torch.enable_grad():
                x.requires_grad_(True)  # so that the graph reaches the stages without weight grads
                logits = self.model(x)[:, 0]
                gradients = torch.autograd.grad(logits.sum(), captured)
        finally:
            for hook in hooks:
                hook.remove()
        with torch.no_grad():
            evidence = [
                (grad.mean(dim=(2, 3), keepdim=True) * act).sum(dim=1, keepdim=True)
                for grad, act in zip(gradients, captured, strict=True)
            ]
            cam = F.relu(torch.stack(evidence).sum(dim=0))
            cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
            low = cam.amin(dim=(1, 2), keepdim=True)
            span = cam.amax(dim=(1, 2), keepdim=True) - low
            scaled = torch.where(span > 0, (cam - low) / span.clamp_min(1e-12), torch.zeros_like(cam))
        return scaled.numpy().astype(np.float32)
