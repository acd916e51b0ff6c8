"""Saliency maps: where in the image the model's evidence for the positive class lies.

Grad-CAM (Selvaraju et al., ICCV 2017) on the last residual stage: the stage's
activations weighted by the spatial mean of the logit's gradient with respect to them,
summed over channels, rectified, upsampled to the input and scaled to ``[0, 1]`` per
image. It is MONAI's ``GradCAM`` computation (a test checks the two agree) with one
difference that matters on a CPU: only the gradient at the explained stage is computed
(``torch.autograd.grad``), not every weight's, which makes it several times faster.

The map answers "which regions raised the pneumonia logit", not "where is the
pneumonia": the model card and the viewer say so.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own convention)
from numpy.typing import NDArray

from medsight.models.networks import Classifier

__all__ = ["TARGET_LAYER", "Saliency"]

#: The layer Grad-CAM explains in :class:`~medsight.models.networks.Classifier`.
TARGET_LAYER = "backbone.layer4"


class Saliency:
    """Grad-CAM maps for a classifier, one per input, each scaled to ``[0, 1]``."""

    def __init__(self, model: Classifier) -> None:
        self.model = model.eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)  # no weight gradients: only the stage's
        self.stage = self.model.get_submodule(TARGET_LAYER)

    def __call__(self, inputs: NDArray[np.float32]) -> NDArray[np.float32]:
        """Maps ``(n, H, W)`` for inputs ``(n, 1, H, W)`` (same spatial size)."""
        x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
        captured: list[torch.Tensor] = []
        hook = self.stage.register_forward_hook(lambda module, args, out: captured.append(out))
        try:
            with torch.enable_grad():
                x.requires_grad_(True)  # so that the graph reaches the stage without weight grads
                logits = self.model(x)[:, 0]
                (activations,) = captured
                (gradients,) = torch.autograd.grad(logits.sum(), activations)
        finally:
            hook.remove()
        with torch.no_grad():
            weights = gradients.mean(dim=(2, 3), keepdim=True)
            cam = F.relu((weights * activations).sum(dim=1, keepdim=True))
            cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
            low = cam.amin(dim=(1, 2), keepdim=True)
            span = cam.amax(dim=(1, 2), keepdim=True) - low
            scaled = torch.where(span > 0, (cam - low) / span.clamp_min(1e-12), torch.zeros_like(cam))
        return scaled.numpy().astype(np.float32)
