"""Shared fixtures: where the real data lives, and skips with a reason when it does not."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run unless asked to explore
# (HYPOTHESIS_PROFILE=explore): a red CI must mean a change broke something, not that
# a new random draw found an old edge case. Counterexamples found while exploring
# become regression tests.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLES = SHARED / "samples"


@pytest.fixture(autouse=True)
def _quiet_pydicom() -> None:
    # pydicom and Pillow warn about odd values in deliberately odd (mangled) test files.
    warnings.filterwarnings("ignore", module=r"(pydicom|PIL)(\..*)?$")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is absent (it holds the DICOM samples); skipping")
    return SAMPLES


@pytest.fixture(scope="session")
def pydicom_test_files() -> Path:
    import pydicom.data

    return Path(pydicom.data.get_testdata_file("CT_small.dcm")).parent


@pytest.fixture(scope="session")
def synthetic_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small MedMNIST-layout dataset of synthetic chest-like images (28 px)."""
    from tests.data.synthetic_cxr import write_npz

    return write_npz(tmp_path_factory.mktemp("data") / "synthetic.npz")


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory, synthetic_npz: Path) -> Path:
    """A cxr-pneumonia bundle trained for a few steps on :func:`synthetic_npz` (seconds)."""
    from medsight.models.networks import NetworkConfig
    from medsight.services.train import TrainRequest, train
    from medsight.training import FitOptions, TrainOptions

    out = tmp_path_factory.mktemp("models") / "tiny"
    options = FitOptions(
        resolution=28,
        train=TrainOptions(epochs=3, batch_size=16, lr=3e-3, seed=0),
        network=NetworkConfig(widths=(4, 8, 8, 8), blocks=(1, 1, 1, 1)),
        bootstrap=200,
        name="tiny",
    )
    train(TrainRequest("cxr-pneumonia", synthetic_npz, out, options, command="pytest"))
    return out


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    datasets = SHARED / "datasets"
    if not datasets.is_dir():
        pytest.skip("../shared/datasets is absent (real training data); skipping")
    return datasets


@pytest.fixture(scope="session")
def synthetic_hc18(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small HC18-layout folder of synthetic head rings (160 x 108 px)."""
    from tests.data.synthetic_hc18 import write_hc18

    return write_hc18(tmp_path_factory.mktemp("data") / "hc18")


@pytest.fixture(scope="session")
def tiny_segmenter(tmp_path_factory: pytest.TempPathFactory, synthetic_hc18: Path) -> Path:
    """A us-fetal-head bundle: a small U-Net trained for a few steps at 32 px (seconds)."""
    from medsight.services.train import TrainRequest, train
    from medsight.training import FitOptions, TrainOptions

    out = tmp_path_factory.mktemp("models") / "tiny-head"
    options = FitOptions(
        resolution=32,
        train=TrainOptions(epochs=3, batch_size=8, lr=1e-2, seed=0, patience=3),
        bootstrap=100,
        name="tiny-head",
        threads=1,
    )
    train(TrainRequest("us-fetal-head", synthetic_hc18, out, options, command="pytest"))
    return out


@pytest.fixture(scope="session")
def tiny_breast_bundle(tmp_path_factory: pytest.TempPathFactory, synthetic_npz: Path) -> Path:
    """A us-breast bundle trained for a few steps on :func:`synthetic_npz` (labels swapped on loading)."""
    from medsight.models.networks import NetworkConfig
    from medsight.services.train import TrainRequest, train
    from medsight.training import FitOptions, TrainOptions

    out = tmp_path_factory.mktemp("models") / "tiny-breast"
    options = FitOptions(
        resolution=28,
        train=TrainOptions(epochs=2, batch_size=16, lr=3e-3, seed=0),
        network=NetworkConfig(widths=(4, 8, 8, 8), blocks=(1, 1, 1, 1)),
        bootstrap=100,
        name="tiny-breast",
        threads=1,
    )
    train(TrainRequest("us-breast", synthetic_npz, out, options, command="pytest"))
    return out


@pytest.fixture(scope="session")
def synthetic_tb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder in the tb_cxr layout (labels.csv with sex, age, source; 32 px PNGs)."""
    from tests.data.synthetic_tb import write_tb_folder

    return write_tb_folder(tmp_path_factory.mktemp("data") / "tb")
