"""Explanations of model outputs (torch): saliency maps."""

from medsight.explain.gradcam import TARGET_LAYER, Saliency

__all__ = ["TARGET_LAYER", "Saliency"]
