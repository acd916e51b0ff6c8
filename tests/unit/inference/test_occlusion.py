"""Occlusion maps mark what the model needs, and the saliency setting that chooses them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from medsight.errors import InvalidBundleError
from medsight.explain import Occlusion, Saliency, saliency_for, torch_logits
from medsight.explain import occlusion as occlusion_module
from medsight.inference import LoadedModel
from medsight.inference.predictor import load_torch_classifier
from medsight.models import load_bundle
from medsight.models.bundle import METADATA
from medsight.models.saliency import SaliencySpec


class _LooksAtOneCorner(nn.Module):
    """A logit that is the brightness of the top-left 8 x 8 corner: the only evidence there is."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 10.0 * x[:, :, :8, :8].mean(dim=(1, 2, 3)).unsqueeze(1)


def test_occlusion_marks_the_region_the_logit_comes_from() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((2, 1, 32, 32), dtype=np.float32) * 0.2
    x[:, :, :8, :8] += 0.8  # the corner is bright: filling it with the mean lowers the logit
    maps = Occlusion(torch_logits(_LooksAtOneCorner()), SaliencySpec("occlusion", 8, 4))(x)  # type: ignore[arg-type]
    assert maps.shape == (2, 32, 32)
    assert maps.dtype == np.float32
    for heat in maps:
        assert heat.max() == 1.0
        assert heat.min() == 0.0
        assert heat[:8, :8].mean() > 5 * heat[16:, 16:].mean()  # far from the corner: nothing
        assert heat[16:, 16:].max() == 0.0
        assert np.unravel_index(heat.argmax(), heat.shape) < (8, 8)


def test_occlusion_is_the_same_in_any_batch_size_and_covers_every_pixel(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(1).random((1, 1, 30, 30), dtype=np.float32)
    method = Occlusion(torch_logits(_LooksAtOneCorner()), SaliencySpec("occlusion", 8, 5))  # type: ignore[arg-type]
    whole = method(x)
    monkeypatch.setattr(occlusion_module, "_BATCH", 3)
    np.testing.assert_allclose(method(x), whole, rtol=1e-6, atol=1e-7)
    masks, cover = method._grid(30, 30)
    assert masks.shape[0] == SaliencySpec("occlusion", 8, 5).positions(30) ** 2 == 36
    assert (masks.sum(axis=0) >= 1).all()  # the last squares sit flush with the edges
    assert (cover >= 1).all()


def test_a_model_without_evidence_gets_a_flat_zero_map() -> None:
    class Constant(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.ones(x.shape[0], 1)

    method = Occlusion(torch_logits(Constant()), SaliencySpec("occlusion", 4, 2))  # type: ignore[arg-type]
    maps = method(np.ones((1, 1, 12, 12), np.float32))
    assert (maps == 0).all()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"method": "lime"}, "must be one of gradcam, occlusion"),
        ({"method": "occlusion", "patch": 8}, "patch >= 2 and 1 <= stride <= patch"),
        ({"method": "occlusion", "patch": 1, "stride": 1}, "patch >= 2"),
        ({"method": "gradcam", "stride": 2}, "Grad-CAM takes no patch or stride"),
        ({"method": "occlusion", "patch": 8, "stride": 4, "fill": "zero"}, "unknown saliency setting(s): fill"),
    ],
)
def test_a_bad_setting_is_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SaliencySpec.from_dict(data)


def test_the_setting_round_trips_and_grad_cam_is_stored_as_nothing() -> None:
    assert SaliencySpec.from_dict({}) == SaliencySpec()
    assert SaliencySpec().to_dict() == {}
    assert SaliencySpec.from_dict({"method": "gradcam"}) == SaliencySpec()
    spec = SaliencySpec("occlusion", 16, 8)
    assert SaliencySpec.from_dict(spec.to_dict()) == spec
    assert spec.positions(96) == 11
    assert spec.positions(100) == 12  # the last square flush with the edge
    assert spec.positions(10) == 1


def test_a_bundle_names_its_method_and_a_loaded_model_draws_with_it(tiny_bundle: Path, tmp_path: Path) -> None:
    bundle_dir = shutil.copytree(tiny_bundle, tmp_path / "bundle")
    plain = load_bundle(bundle_dir)
    assert plain.saliency == SaliencySpec()
    assert isinstance(LoadedModel.load(plain).saliency, Saliency)
    before = plain.config_sha256

    metadata = json.loads((bundle_dir / METADATA).read_text(encoding="utf-8"))
    metadata["medsight"]["saliency"] = {"method": "occlusion", "patch": 8, "stride": 4}
    (bundle_dir / METADATA).write_text(json.dumps(metadata), encoding="utf-8")
    switched = load_bundle(bundle_dir)
    assert switched.saliency == SaliencySpec("occlusion", 8, 4)
    assert switched.config_sha256 != before
    model = LoadedModel.load(switched)
    assert isinstance(model.saliency, Occlusion)
    assert model.predictor.backend == "onnx"  # analyze scores the copies with its own predictor
    x = np.random.default_rng(2).random((2, 1, 28, 28), dtype=np.float32)
    by_torch = saliency_for(lambda: load_torch_classifier(switched), switched.saliency)(x)  # as the audit draws them
    np.testing.assert_allclose(model.saliency(x), by_torch, atol=1e-3)

    metadata["medsight"]["saliency"] = {"method": "occlusion", "patch": 8, "stride": 40}
    (bundle_dir / METADATA).write_text(json.dumps(metadata), encoding="utf-8")
    with pytest.raises(InvalidBundleError, match="not valid bundle metadata"):
        load_bundle(bundle_dir)


def test_bundles_made_before_the_setting_keep_their_settings_digest(tiny_bundle: Path) -> None:
    # Release records and fairness audits made before the setting existed name digests
    # computed without it: a bundle that leaves it empty must keep that digest.
    bundle = load_bundle(tiny_bundle)
    before = bundle.metadata.medsight.model_dump(
        mode="json", exclude={"metrics", "training", "audit", "saliency_audit", "saliency"}
    )
    canonical = json.dumps(before, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert bundle.config_sha256 == hashlib.sha256(canonical.encode("ascii")).hexdigest()
