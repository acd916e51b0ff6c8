"""Deep ensembles: members trained from consecutive seeds, logits averaged, one bundle.

An ensemble must be what it claims: member ``i`` is the network a single run with seed
``seed + i`` trains, the bundle's logits are the members' mean under torch and ONNX
Runtime alike, and its saliency map explains that mean.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.data.synthetic_cxr import chest_like

from medsight.data import load_dataset
from medsight.explain import Saliency
from medsight.imaging import Image, ImageMeta
from medsight.inference import Analyzer, LoadedModel, load_predictor
from medsight.inference.predictor import load_torch_classifier
from medsight.models import load_bundle
from medsight.models.networks import Classifier, Ensemble, NetworkConfig, build_classifier
from medsight.services.evaluate import EvaluateOptions, evaluate
from medsight.services.train import TrainRequest, train
from medsight.tasks import get_task
from medsight.training import FitOptions, FitProgress, TrainOptions, fit_classifier

TASK = get_task("cxr-pneumonia")
TINY = NetworkConfig(widths=(4, 8, 8, 8), blocks=(1, 1, 1, 1))


def _options(members: int, seed: int = 0) -> FitOptions:
    return FitOptions(
        resolution=28,
        train=TrainOptions(epochs=2, batch_size=16, seed=seed),
        network=TINY,
        bootstrap=100,
        members=members,
        name="tiny-ensemble",
    )


@pytest.fixture(scope="module")
def ensemble_bundle(tmp_path_factory: pytest.TempPathFactory, synthetic_npz: Path) -> Path:
    out = tmp_path_factory.mktemp("models") / "tiny-ensemble"
    train(TrainRequest("cxr-pneumonia", synthetic_npz, out, _options(members=3), command="pytest"))
    return out


def test_each_member_is_the_single_network_its_seed_trains(synthetic_npz: Path) -> None:
    data = load_dataset(synthetic_npz, TASK.label_of)
    ensemble = fit_classifier(TASK, data, _options(members=2), FitProgress())
    assert isinstance(ensemble.model, Ensemble)
    assert [m["seed"] for m in ensemble.members] == [0, 1]
    for index, seed in enumerate((0, 1)):
        single = fit_classifier(TASK, data, _options(members=1, seed=seed), FitProgress())
        assert isinstance(single.model, Classifier)
        member = ensemble.model.members[index].state_dict()
        for key, value in single.model.state_dict().items():
            assert torch.equal(member[key], value), (seed, key)
    assert ensemble.network.members == 2


def test_the_bundle_records_its_members_and_serves_their_mean(ensemble_bundle: Path) -> None:
    bundle = load_bundle(ensemble_bundle)
    section = bundle.metadata.medsight
    assert section.network["members"] == 3
    assert [m["seed"] for m in section.training["members"]] == [0, 1, 2]
    assert "ensemble of 3" in (ensemble_bundle / "docs" / "model_card.md").read_text()

    model = load_torch_classifier(bundle)
    assert isinstance(model, Ensemble)
    x = np.random.default_rng(0).random((5, 1, 28, 28)).astype(np.float32)
    with torch.inference_mode():
        each = [member(torch.from_numpy(x))[:, 0].numpy() for member in model.members]
    torch_logits, torch_features = load_predictor(bundle, "torch").predict(x)
    np.testing.assert_allclose(torch_logits, np.mean(each, axis=0), atol=1e-6)
    assert torch_features.shape == (5, 3 * 8)  # every member's pooled features
    onnx_logits, onnx_features = load_predictor(bundle, "onnx").predict(x)
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-4)
    np.testing.assert_allclose(onnx_features, torch_features, atol=1e-4)


def test_an_ensemble_analyses_and_explains_like_a_single_network(ensemble_bundle: Path) -> None:
    model = LoadedModel.load(load_bundle(ensemble_bundle))
    rng = np.random.default_rng(5)
    images = [Image(pixels=chest_like(28, p, rng).astype(np.float32), meta=ImageMeta(bits_stored=8)) for p in (0, 1)]
    scored = [r for r in Analyzer(model, saliency=True).analyze_many(images) if r.refused is None]
    assert scored
    for result in scored:
        assert 0.0 <= result.probability <= 1.0  # type: ignore[operator]
        assert result.saliency is not None
        assert result.saliency.shape == (28, 28)
        assert set(result.to_dict()) == {"task", "model", "threshold", "probability", "label", "uncertainty"}
        assert "members" in result.to_dict()["uncertainty"]


def test_an_ensemble_of_identical_members_explains_as_that_member() -> None:
    # The ensemble's map sums the members' gradient-weighted stages of the mean logit: for
    # copies of one network that is exactly the network's own Grad-CAM.
    torch.manual_seed(0)
    member = build_classifier(NetworkConfig(widths=(4, 8, 8, 8), blocks=(1, 1, 1, 1)))
    assert isinstance(member, Classifier)
    copies = Ensemble([member, member, member])
    x = np.random.default_rng(1).random((3, 1, 28, 28)).astype(np.float32)
    alone = Saliency(member)(x)
    together = Saliency(copies)(x)
    assert np.ptp(alone) > 0
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_a_single_network_config_keeps_its_old_metadata() -> None:
    assert "members" not in NetworkConfig().to_dict()  # bundles from before ensembles stay byte-identical
    assert NetworkConfig.from_dict(NetworkConfig(members=3).to_dict()).members == 3
    with pytest.raises(ValueError, match="at least one member"):
        NetworkConfig(members=0)


def test_members_is_refused_for_a_segmentation_task(tmp_path: Path) -> None:
    args = ["train", "--task", "us-fetal-head", "--data", tmp_path, "--out", tmp_path / "m", "--members", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "medsight", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error[usage.invalid]: --members applies to classification and volume segmentation tasks; "
        "us-fetal-head is segmentation"
    )
    assert not (tmp_path / "m").exists()


def test_an_ensemble_reports_how_far_its_members_agree(ensemble_bundle: Path) -> None:
    bundle = load_bundle(ensemble_bundle)
    x = np.random.default_rng(2).random((4, 1, 28, 28)).astype(np.float32)
    by_backend = {}
    for backend in ("torch", "onnx"):
        logits, _, members = load_predictor(bundle, backend).predict_members(x)
        assert members is not None
        assert members.shape == (4, 3)
        np.testing.assert_allclose(logits, members.mean(axis=1), atol=1e-5)
        by_backend[backend] = members
    np.testing.assert_allclose(by_backend["onnx"], by_backend["torch"], atol=1e-4)

    model = LoadedModel.load(bundle)
    scores = model.score(x)
    assert scores.member_probabilities is not None
    rng = np.random.default_rng(5)
    images = [Image(pixels=chest_like(28, p, rng).astype(np.float32), meta=ImageMeta(bits_stored=8)) for p in (0, 1)]
    for result in Analyzer(model).analyze_many(images):
        if result.refused is not None:
            continue
        members = result.to_dict()["uncertainty"]["members"]
        assert members["n"] == 3
        probabilities = np.asarray(members["probabilities"])
        assert members["positive"] == int(np.sum(probabilities >= result.threshold))
        assert members["unanimous"] == (members["positive"] in (0, 3))
        assert members["spread"] == pytest.approx(np.ptp(probabilities), abs=1e-6)
        assert min(probabilities) - 1e-6 <= result.probability <= max(probabilities) + 1e-6  # type: ignore[operator]


def test_a_single_network_reports_no_members(tiny_bundle: Path) -> None:
    model = LoadedModel.load(load_bundle(tiny_bundle))
    x = np.random.default_rng(3).random((2, 1, 28, 28)).astype(np.float32)
    assert model.predictor.predict_members(x)[2] is None
    assert model.score(x).member_probabilities is None


def test_evaluate_reports_whether_member_agreement_tells_right_from_wrong(
    ensemble_bundle: Path, tiny_bundle: Path, synthetic_npz: Path
) -> None:
    report = evaluate(EvaluateOptions(task=TASK.name, data=synthetic_npz, split="val", model=str(ensemble_bundle)))
    members = report["uncertainty"]["members"]
    assert members["n"] == 3
    assert members["n_unanimous"] + members["n_split"] == report["n"]
    assert members["unanimous_rate"] == pytest.approx(members["n_unanimous"] / report["n"], abs=1e-4)
    # Both subsets' accuracies recombine into the overall accuracy.
    hits = sum((members[f"accuracy_{s}"] or 0.0) * members[f"n_{s}"] for s in ("unanimous", "split"))
    assert hits / report["n"] == pytest.approx(report["accuracy"], abs=1e-3)
    for subset in ("unanimous", "split"):
        if members[f"n_{subset}"]:
            low, high = members[f"accuracy_{subset}_ci"]
            assert low <= members[f"accuracy_{subset}"] <= high
    single = evaluate(EvaluateOptions(task=TASK.name, data=synthetic_npz, split="val", model=str(tiny_bundle)))
    assert "members" not in single["uncertainty"]
