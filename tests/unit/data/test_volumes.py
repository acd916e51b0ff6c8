"""The MRI layouts: LGG patient volumes and MSD hippocampus crops, split by case, read unchanged
from any folder with its own index.csv (synthetic here; the real ones when ../shared is present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.data.synthetic_volumes import write_lgg, write_msd_hippocampus

from medsight.data.volumes import load_volumes, rank_split
from medsight.errors import FileNotFoundInputError, InvalidDatasetError
from medsight.imaging import Layout


@pytest.fixture(scope="module")
def lgg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lgg(tmp_path_factory.mktemp("lgg"), patients=4, slices=6, size=32)


@pytest.fixture(scope="module")
def msd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_msd_hippocampus(tmp_path_factory.mktemp("msd"), cases=5)


def test_lgg_cases_are_patient_volumes_of_flair_slices_in_slice_order(lgg: Path) -> None:
    data = load_volumes(lgg)
    assert data.layout == "lgg"
    assert data.label_names == ("tumour",)
    assert len(data) == 4
    image, labels = data.read(data.cases[0])
    assert image.layout is Layout.VOLUME
    assert image.shape == (6, 32, 32)
    assert image.channels == 1
    assert labels.shape == (6, 32, 32)
    assert labels.dtype == np.uint8
    assert set(np.unique(labels)) == {0, 1}
    assert not image.geometry.spacing_known  # the TIFFs record no voxel size


def test_msd_cases_are_crops_with_two_labels(msd: Path) -> None:
    data = load_volumes(msd)
    assert data.layout == "msd_hippocampus"
    assert data.label_names == ("anterior", "posterior")
    image, labels = data.read(data.cases[0])
    assert labels.shape == image.shape
    assert set(np.unique(labels)) == {0, 1, 2}


@pytest.mark.parametrize("layout", ["lgg", "msd"])
def test_split_is_by_case_deterministic_and_recorded(layout: str, lgg: Path, msd: Path) -> None:
    data = load_volumes(lgg if layout == "lgg" else msd)
    train, val = data.split("train"), data.split("val")
    assert {c.key for c in train.cases}.isdisjoint({c.key for c in val.cases})
    assert len(train) + len(val) == len(data)
    assert len(val) >= 1
    assert data.provenance["val_keys"] == sorted(c.key for c in val.cases)
    assert len(data.provenance["sha256"]) == 64
    assert load_volumes(lgg if layout == "lgg" else msd).split("val").cases == val.cases
    assert data.split("all") is data


def test_rank_split_does_not_depend_on_order() -> None:
    keys = [f"case{i}" for i in range(20)]
    assert rank_split("x", keys, 0.2) == rank_split("x", list(reversed(keys)), 0.2)
    assert sum(v == "val" for v in rank_split("x", keys, 0.2).values()) == 4


def test_bad_folders_are_typed_errors(tmp_path: Path, msd: Path) -> None:
    with pytest.raises(FileNotFoundInputError):
        load_volumes(tmp_path / "absent")
    with pytest.raises(InvalidDatasetError, match=r"no index\.csv"):
        load_volumes(tmp_path)
    (tmp_path / "index.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InvalidDatasetError, match="neither"):
        load_volumes(tmp_path)
    with pytest.raises(InvalidDatasetError, match="splits"):
        load_volumes(msd).split("test")


@pytest.mark.shared
def test_the_shared_lgg_subset(shared_datasets: Path) -> None:
    data = load_volumes(shared_datasets / "lgg_mri_segmentation_subset")
    assert len(data) == 9
    assert data.split_sizes() == {"train": 7, "val": 2}
    image, labels = data.read(data.split("val").cases[0])
    assert image.shape[1:] == (256, 256)
    assert labels.any()


@pytest.mark.shared
def test_the_shared_msd_hippocampus(shared_datasets: Path) -> None:
    data = load_volumes(shared_datasets / "msd_task04_hippocampus")
    assert len(data) == 208
    assert data.split_sizes() == {"train": 166, "val": 42}
    image, labels = data.read(data.cases[0])
    assert image.geometry.spacing == (1.0, 1.0, 1.0)
    assert set(np.unique(labels)) == {0, 1, 2}
