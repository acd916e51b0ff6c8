"""Saliency maps: where in the image the model's evidence for the positive class lies.

Grad-CAM (Selvaraju et al., ICCV 2017) through MONAI's implementation, on the last
residual stage. The map answers "which regions raised the pneumonia logit", not "where
is the pneumonia": the model card and the viewer say so.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.visualize.class_activation_maps import GradCAM
from numpy.typing import NDArray

from medsight.models.networks import Classifier

__all__ = ["TARGET_LAYER", "Saliency"]

#: The layer Grad-CAM explains in :class:`~medsight.models.networks.Classifier`.
TARGET_LAYER = "backbone.layer4"


class Saliency:
    """Grad-CAM maps for a classifier, one per input, each scaled to ``[0, 1]``."""

    def __init__(self, model: Classifier) -> None:
        self.model = model.eval()
        self.cam = GradCAM(nn_module=self.model, target_layers=TARGET_LAYER)

    def __call__(self, inputs: NDArray[np.float32]) -> NDArray[np.float32]:
        """Maps ``(n, H, W)`` for inputs ``(n, 1, H, W)`` (same spatial size)."""
        x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
        with torch.enable_grad():
            maps = self.cam(x=x, class_idx=0)  # one logit: its gradient is the positive class's
        out: NDArray[np.float32] = maps.detach().numpy()[:, 0].astype(np.float32)
        # MONAI scales each map to [0, 1]; a flat map (no evidence) comes back as NaN or 0.
        return np.nan_to_num(out, nan=0.0)
