"""Re-fitting a bundle's distribution check: the same bundle a retrain with those folds writes, or a typed refusal."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from tests.data.synthetic_cxr import write_npz
from tests.unit.cli.test_cli import medsight

from medsight.errors import InvalidDatasetError, UsageError
from medsight.models.bundle import file_sha256, load_bundle
from medsight.models.networks import NetworkConfig
from medsight.services.ood_refit import OodRefitRequest, _with_ood_options, refit_ood
from medsight.services.train import TrainRequest, train
from medsight.training import FitOptions, TrainOptions


def _options(folds: int) -> FitOptions:
    # The tiny_bundle fixture's recipe (tests/conftest.py), with the folds named.
    return FitOptions(
        resolution=28,
        train=TrainOptions(epochs=3, batch_size=16, lr=3e-3, seed=0),
        network=NetworkConfig(widths=(4, 8, 8, 8), blocks=(1, 1, 1, 1)),
        bootstrap=200,
        name="tiny",
        ood_folds=folds,
    )


def test_refitting_with_n_folds_gives_the_bundle_a_retrain_with_n_folds_writes(
    tmp_path: Path, tiny_bundle: Path, synthetic_npz: Path
) -> None:
    bundle = shutil.copytree(tiny_bundle, tmp_path / "refit")
    weights = file_sha256(bundle / "models" / "model.pt")

    result = refit_ood(OodRefitRequest(model=bundle, data=synthetic_npz, folds=3, command="medsight models refit-ood"))

    retrained = train(TrainRequest("cxr-pneumonia", synthetic_npz, tmp_path / "retrained", _options(3)))
    assert file_sha256(bundle / "models" / "ood.npz") == file_sha256(retrained.weights_file("ood.npz"))
    assert file_sha256(bundle / "models" / "model.pt") == weights  # the weights are untouched
    refit = load_bundle(bundle)  # verifies every recorded sha256, the new ood.npz included
    assert refit.metadata.medsight.ood["folds"] == 3
    assert refit.metadata.medsight.ood == retrained.metadata.medsight.ood
    assert refit.metadata.medsight.training["command"] == "pytest --ood-folds 3"
    assert refit.metadata.medsight.training["ood_refit"]["command"] == "medsight models refit-ood"
    assert result.before["folds"] == 2
    assert result.after["folds"] == 3
    assert "cross-fitted over 3 folds" in (bundle / "docs" / "model_card.md").read_text(encoding="utf-8")


def test_other_data_is_refused_and_the_bundle_left_as_it_was(tmp_path: Path, tiny_bundle: Path) -> None:
    bundle = shutil.copytree(tiny_bundle, tmp_path / "kept")
    before = {p.name: file_sha256(p) for p in sorted((bundle / "models").iterdir())}
    other = write_npz(tmp_path / "other.npz", seed=1)
    with pytest.raises(InvalidDatasetError, match="not the data"):
        refit_ood(OodRefitRequest(model=bundle, data=other))
    assert {p.name: file_sha256(p) for p in sorted((bundle / "models").iterdir())} == before


def test_a_segmentation_model_is_refused_with_a_reason(synthetic_npz: Path) -> None:
    with pytest.raises(UsageError, match="segmentation"):
        refit_ood(OodRefitRequest(model="us-fetal-head-128", data=synthetic_npz))


@pytest.mark.parametrize("folds", [1, 51])
def test_folds_out_of_range_are_refused(tiny_bundle: Path, synthetic_npz: Path, folds: int) -> None:
    with pytest.raises(UsageError, match="folds"):
        refit_ood(OodRefitRequest(model=tiny_bundle, data=synthetic_npz, folds=folds))


def test_the_recorded_command_gets_the_new_options_in_place_of_the_old() -> None:
    assert _with_ood_options("medsight train --task t --ood-folds 2 --seed 0", 10, 0.995) == (
        "medsight train --task t --seed 0 --ood-folds 10"
    )
    assert _with_ood_options("medsight train --ood-quantile=0.98", 10, 0.98) == (
        "medsight train --ood-folds 10 --ood-quantile 0.98"
    )


def test_the_command_prints_before_and_after_and_refuses_other_data_in_one_line(
    tmp_path: Path, tiny_bundle: Path, synthetic_npz: Path
) -> None:
    bundle = shutil.copytree(tiny_bundle, tmp_path / "cli")
    done = medsight("models", "refit-ood", bundle, "--data", synthetic_npz, "--folds", "4", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["after"]["folds"] == 4
    assert report["before"]["folds"] == 2
    assert report["after"]["val_n"] == 48

    other = write_npz(tmp_path / "other.npz", seed=2)
    refused = medsight("models", "refit-ood", bundle, "--data", other)
    assert refused.returncode == 3, refused.stderr
    assert refused.stderr.startswith("error[input.invalid_dataset]: this is not the data")
    assert refused.stderr.strip().count("\n") == 0


def test_an_ensemble_is_refitted_with_one_gaussian_per_member_as_its_retrain_would(
    tmp_path: Path, synthetic_npz: Path
) -> None:
    ensemble = replace(_options(2), members=2)
    trained = train(TrainRequest("cxr-pneumonia", synthetic_npz, tmp_path / "ensemble", ensemble))
    done = medsight("models", "refit-ood", trained.path, "--data", synthetic_npz, "--folds", "3")
    assert done.returncode == 0, done.stderr
    after = done.stdout.splitlines()[1]
    assert after.startswith("after: 3 folds")
    assert re.search(r"features \d+\.\d\d, \d+\.\d\d;", after), after  # one threshold per member

    retrained = train(
        TrainRequest("cxr-pneumonia", synthetic_npz, tmp_path / "retrained", replace(ensemble, ood_folds=3))
    )
    assert file_sha256(trained.weights_file("ood.npz")) == file_sha256(retrained.weights_file("ood.npz"))
    refit = load_bundle(trained.path)
    assert refit.metadata.medsight.ood == retrained.metadata.medsight.ood
    assert "one Gaussian per member of the 2" in refit.metadata.medsight.ood["method"]
