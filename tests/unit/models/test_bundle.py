"""Model bundles: MONAI layout, sha256-pinned weights, typed failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from medsight.errors import InvalidBundleError, ModelNotFoundError, WeightsMismatchError
from medsight.models import load_bundle, resolve_bundle
from medsight.models.bundle import file_sha256


def test_a_trained_bundle_has_the_monai_layout_and_records_what_a_card_needs(tiny_bundle: Path) -> None:
    for part in (
        "configs/metadata.json",
        "models/model.pt",
        "models/model.onnx",
        "models/ood.npz",
        "docs/model_card.md",
        "docs/roc_val.png",
        "docs/reliability_val.png",
    ):
        assert (tiny_bundle / part).is_file(), part
    bundle = load_bundle(tiny_bundle)
    section = bundle.metadata.medsight
    assert bundle.name == "tiny"
    assert bundle.version == "1.0.0"
    assert section.weights["model.pt"] == file_sha256(tiny_bundle / "models" / "model.pt")
    assert 0.0 < section.threshold < 1.0
    assert section.temperature > 0
    val = section.metrics["val"]
    assert val["n"] == 48
    assert len(val["auc_ci"]) == 2
    assert val["auc_ci"][0] <= val["auc"] <= val["auc_ci"][1]
    assert section.training["data"]["sha256"]
    assert section.training["split_sizes"] == {"train": 96, "val": 48}
    card = (tiny_bundle / "docs" / "model_card.md").read_text()
    for heading in ("## Intended use", "## Not for", "## Training data", "95% stratified bootstrap CIs"):
        assert heading in card


def _copy(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "copy"))


@pytest.mark.parametrize("name", ["model.pt", "model.onnx", "ood.npz"])
def test_one_changed_byte_in_any_weights_file_is_refused(tiny_bundle: Path, tmp_path: Path, name: str) -> None:
    copy = _copy(tiny_bundle, tmp_path)
    target = copy / "models" / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(WeightsMismatchError) as caught:
        load_bundle(copy)
    assert caught.value.code == "model.weights_mismatch"


def test_bundle_failures_are_typed(tiny_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        load_bundle(tmp_path)
    with pytest.raises(ModelNotFoundError, match="shipped"):
        resolve_bundle("no-such-model")
    copy = _copy(tiny_bundle, tmp_path)
    (copy / "models" / "ood.npz").unlink()
    with pytest.raises(InvalidBundleError, match="missing"):
        load_bundle(copy)
    meta = copy / "configs" / "metadata.json"
    data = json.loads(meta.read_text())
    del data["medsight"]["threshold"]
    meta.write_text(json.dumps(data))
    with pytest.raises(InvalidBundleError):
        load_bundle(copy)
