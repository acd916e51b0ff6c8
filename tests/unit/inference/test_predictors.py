"""ONNX Runtime and torch give the same outputs; the analyzer's contract holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.data.synthetic_cxr import chest_like

from medsight.errors import UsageError
from medsight.imaging import Image, ImageMeta
from medsight.inference import Analyzer, LoadedModel, load_predictor
from medsight.models import load_bundle


def test_onnx_and_torch_agree_to_1e_4(tiny_bundle: Path) -> None:
    bundle = load_bundle(tiny_bundle)
    x = np.random.default_rng(0).random((7, 1, 28, 28)).astype(np.float32)
    onnx_logits, onnx_features = load_predictor(bundle, "onnx").predict(x)
    torch_logits, torch_features = load_predictor(bundle, "torch").predict(x)
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-4)
    np.testing.assert_allclose(onnx_features, torch_features, atol=1e-4)
    assert load_predictor(bundle, "auto").backend == "onnx"
    with pytest.raises(UsageError):
        load_predictor(bundle, "tensorrt")


def test_the_analyzer_scores_chest_like_images_and_explains_them(tiny_bundle: Path) -> None:
    model = LoadedModel.load(load_bundle(tiny_bundle))
    rng = np.random.default_rng(5)
    images = [
        Image(pixels=chest_like(28, positive, rng).astype(np.float32), meta=ImageMeta(bits_stored=8))
        for positive in (False, True, True, False)
    ]
    results = Analyzer(model, saliency=True).analyze_many(images)
    scored = [r for r in results if r.refused is None]
    assert scored, [r.refused for r in results]
    for result in scored:
        assert 0.0 <= result.probability <= 1.0  # type: ignore[operator]
        assert result.label == ("pneumonia" if result.probability >= result.threshold else "normal")  # type: ignore[operator]
        assert result.saliency is not None
        assert result.saliency.shape == (28, 28)
        assert result.saliency.min() >= 0.0
        assert result.saliency.max() <= 1.0
        keys = set(result.to_dict())
        assert keys == {"task", "model", "threshold", "probability", "label", "uncertainty"}


def test_noise_and_a_gradient_are_refused_by_the_distribution_check(tiny_bundle: Path) -> None:
    model = LoadedModel.load(load_bundle(tiny_bundle))
    rng = np.random.default_rng(6)
    noise = Image(pixels=rng.integers(0, 256, (28, 28)).astype(np.float32), meta=ImageMeta(bits_stored=8))
    ramp = Image(pixels=np.tile(np.linspace(0, 255, 28, dtype=np.float32), (28, 1)), meta=ImageMeta(bits_stored=8))
    for result in Analyzer(model).analyze_many([noise, ramp]):
        assert result.refused is not None
        assert result.refused.check in ("noise", "pixel_statistics", "features")
        assert result.probability is None
        assert "probability" not in result.to_dict()
