"""Networks and model bundles: what a trained model is and how it is stored.

Bundles follow MONAI's layout and are pinned by sha256 (:mod:`medsight.models.bundle`,
torch-free, so an ONNX-only consumer can verify and read them). The networks
(:mod:`medsight.models.networks`) import torch; import them explicitly.
"""

from medsight.models.bundle import Bundle, BundleMetadata, MedsightSection, load_bundle, resolve_bundle

__all__ = ["Bundle", "BundleMetadata", "MedsightSection", "load_bundle", "resolve_bundle"]
