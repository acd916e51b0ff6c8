"""Our Grad-CAM computes what MONAI's does (it skips the weight gradients, and keeps hot = 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.visualize.class_activation_maps import GradCAM

from medsight.explain import TARGET_LAYER, Saliency
from medsight.inference.predictor import load_torch_classifier
from medsight.models import load_bundle
from medsight.models.networks import Classifier, Ensemble, NetworkConfig


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


def _gradient_cam(model: Ensemble, x: np.ndarray) -> np.ndarray:
    """Grad-CAM by autograd, as the paper defines it (the reference for the CAM shortcut)."""
    members = model.classifiers()
    captured: list[torch.Tensor] = []
    hooks = [
        m.get_submodule(TARGET_LAYER).register_forward_hook(lambda _m, _a, out: captured.append(out)) for m in members
    ]
    try:
        logits = model(torch.from_numpy(x).requires_grad_(True))[:, 0]
        gradients = torch.autograd.grad(logits.sum(), captured)
    finally:
        for hook in hooks:
            hook.remove()
    with torch.no_grad():
        evidence = sum(
            (g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1, keepdim=True)
            for g, a in zip(gradients, captured, strict=True)
        )
        cam = torch.nn.functional.interpolate(torch.relu(evidence), size=x.shape[-2:], mode="bilinear")[:, 0]
        low, high = cam.amin(dim=(1, 2), keepdim=True), cam.amax(dim=(1, 2), keepdim=True)
        return ((cam - low) / (high - low).clamp_min(1e-12)).numpy()


def test_an_ensembles_maps_equal_gradient_weighted_cam_without_a_backward_pass() -> None:
    torch.manual_seed(3)
    config = NetworkConfig(widths=(4, 8, 8, 16), blocks=(1, 1, 1, 1))
    model = Ensemble([Classifier(config) for _ in range(3)]).eval()
    for member in model.classifiers():  # untrained heads are near zero: give the evidence a scale
        torch.nn.init.normal_(member.head.weight, std=1.0)
    x = np.random.default_rng(1).random((4, 1, 32, 32)).astype(np.float32)
    ours = Saliency(model)(x)
    reference = _gradient_cam(model, x)
    assert all(np.ptp(m) > 0 for m in ours)
    np.testing.assert_allclose(ours, reference, atol=1e-4)


def test_a_network_of_another_head_is_not_explained_this_way() -> None:
    network = Classifier(NetworkConfig(widths=(4, 8, 8, 16), blocks=(1, 1, 1, 1)))
    network.backbone.fc = torch.nn.Linear(16, 16)  # a layer between the pooled stage and the head
    with pytest.raises(TypeError, match="average-pooled"):
        Saliency(network)
