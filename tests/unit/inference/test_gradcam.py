"""Our Grad-CAM computes what MONAI's does (it skips the weight gradients, and keeps hot = 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from monai.visualize.class_activation_maps import GradCAM

from medsight.explain import TARGET_LAYER, Saliency
from medsight.inference.predictor import load_torch_classifier
from medsight.models import load_bundle


def test_maps_match_monai_gradcam(tiny_bundle: Path) -> None:
    bundle = load_bundle(tiny_bundle)
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    ours = Saliency(load_torch_classifier(bundle))(x)
    reference = GradCAM(nn_module=load_torch_classifier(bundle), target_layers=TARGET_LAYER)
    theirs = reference(x=torch.from_numpy(x), class_idx=0).detach().numpy()[:, 0]
    assert ours.shape == (3, 28, 28)
    informative = [i for i in range(3) if np.ptp(ours[i]) > 0]
    assert informative, "the tiny model should show evidence somewhere"
    # MONAI's default normaliser maps (min, max) to (1, 0): its maps are flipped, hottest = 0
    # (its docstring says so). Ours keep the published orientation: most evidence = 1.
    np.testing.assert_allclose(ours[informative], 1.0 - theirs[informative], atol=1e-4)
    # Where no region raised the logit the map is flat: ours says 0 (no evidence), not a
    # uniformly hot image.
    for i in set(range(3)) - set(informative):
        assert (ours[i] == 0).all()
    assert ours.min() >= 0.0
    assert ours.max() <= 1.0
