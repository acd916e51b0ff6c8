"""Dataset layouts: MedMNIST npz, labels.csv and class folders, and their failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from medsight.data import load_dataset
from medsight.errors import FileNotFoundInputError, InvalidDatasetError
from medsight.tasks import get_task

LABEL_OF = get_task("cxr-pneumonia").label_of


def _png(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(np.full((20, 30), value, dtype=np.uint8)).save(path)


def test_npz_splits_labels_and_images(synthetic_npz: Path) -> None:
    data = load_dataset(synthetic_npz, LABEL_OF)
    assert data.layout == "npz"
    assert data.split_sizes() == {"train": 96, "val": 48}
    val = data.split("val")
    image = val.image(val.cases[0])
    assert image.shape == (28, 28)
    assert image.meta.bits_stored == 8
    assert data.provenance["sha256"]
    assert len(data.provenance["sha256"]) == 64


def test_a_folder_with_one_npz_reads_that_file(synthetic_npz: Path) -> None:
    assert load_dataset(synthetic_npz.parent, LABEL_OF).layout == "npz"


def test_labels_csv_with_names_or_indices_and_group_columns(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", 10)
    _png(tmp_path / "sub" / "b.png", 200)
    (tmp_path / "labels.csv").write_text(
        "path,label,split,sex,patient_id\na.png,0,test,F,P1\nsub/b.png,PNEUMONIA,test,M,P2\n"
    )
    data = load_dataset(tmp_path, LABEL_OF).split("test")
    assert data.labels == [0, 1]
    assert data.cases[0].groups == {"sex": "F"}  # patient_id is never kept as a group
    assert data.image(data.cases[1]).pixels.max() == 200


def test_class_folders_with_splits(tmp_path: Path) -> None:
    for split in ("train", "test"):
        _png(tmp_path / split / "NORMAL" / "n1.jpeg", 20)
        _png(tmp_path / split / "PNEUMONIA" / "p1.jpeg", 220)
    (tmp_path / "train" / "notes").mkdir()  # not a class: ignored
    data = load_dataset(tmp_path, LABEL_OF)
    assert data.layout == "class_folders"
    assert data.split_sizes() == {"test": 2, "train": 2}
    assert data.split("test").labels == [0, 1]


def test_a_missing_split_names_the_splits_present(synthetic_npz: Path) -> None:
    with pytest.raises(InvalidDatasetError, match="train, val"):
        load_dataset(synthetic_npz, LABEL_OF).split("test")
    assert len(load_dataset(synthetic_npz, LABEL_OF).split("all")) == 144


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("file,y\nx.png,0\n", "columns"),
        ("path,label,split\n../x.png,0,test\n", "relative"),
        ("path,label,split\nmissing.png,0,test\n", "missing"),
        ("path,label,split\na.png,COVID,test\n", "line 2"),
    ],
)
def test_malformed_labels_csv_is_a_typed_error(tmp_path: Path, content: str, message: str) -> None:
    _png(tmp_path / "a.png", 1)
    (tmp_path / "labels.csv").write_text(content)
    with pytest.raises(InvalidDatasetError, match=message):
        load_dataset(tmp_path, LABEL_OF)


def test_unreadable_inputs_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundInputError):
        load_dataset(tmp_path / "nope", LABEL_OF)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InvalidDatasetError):
        load_dataset(tmp_path / "bad.npz", LABEL_OF)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidDatasetError, match="class folders"):
        load_dataset(empty, LABEL_OF)


@pytest.mark.shared
def test_the_shared_datasets_match_their_readmes(shared_datasets: Path) -> None:
    mnist = load_dataset(shared_datasets / "pneumoniamnist", LABEL_OF)
    assert mnist.split_sizes() == {"train": 4708, "val": 524}
    kermany = load_dataset(shared_datasets / "chest_xray_pneumonia_224", LABEL_OF)
    assert kermany.split_sizes() == {"train": 4196, "val": 563}
    assert kermany.split("val").class_counts() == {0: 166, 1: 397}
