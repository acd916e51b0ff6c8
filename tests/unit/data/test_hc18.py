"""The HC18 layout: cases, the split by subject, reference masks; BreastMNIST's swapped labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsight.data import load_dataset
from medsight.data.hc18 import load_hc18, subject_split
from medsight.errors import FileNotFoundInputError, InvalidDatasetError
from medsight.imaging.ellipse import edge_points, fit_ellipse
from medsight.tasks import get_task


def test_a_synthetic_folder_loads_with_spacing_and_reference(synthetic_hc18: Path) -> None:
    data = load_hc18(synthetic_hc18)
    assert len(data) == 30
    assert data.split_sizes()["train"] + data.split_sizes()["val"] == 30
    case = data.cases[0]
    image = data.image(case)
    assert image.geometry.spacing_known
    assert image.geometry.spacing[1:] == (case.pixel_mm, case.pixel_mm)
    ellipse, mask = data.reference(case, image.pixels.shape)
    assert mask.shape == image.pixels.shape
    assert ellipse.perimeter * case.pixel_mm == pytest.approx(case.hc_mm, rel=0.03)
    assert fit_ellipse(*edge_points(mask)).perimeter == pytest.approx(ellipse.perimeter, rel=0.01)


def test_the_training_set_folder_itself_also_loads(synthetic_hc18: Path) -> None:
    assert len(load_hc18(synthetic_hc18 / "training_set")) == 30


def test_the_split_is_by_subject_and_fixed() -> None:
    assert subject_split("010") == subject_split("010")
    splits = [subject_split(f"{s:03d}") for s in range(1000)]
    assert 0.15 < splits.count("val") / 1000 < 0.25


@pytest.mark.parametrize("split", ["test", "holdout"])
def test_an_unknown_split_is_an_input_error(synthetic_hc18: Path, split: str) -> None:
    with pytest.raises(InvalidDatasetError):
        load_hc18(synthetic_hc18).split(split)


def test_missing_or_wrong_folders_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundInputError):
        load_hc18(tmp_path / "absent")
    with pytest.raises(InvalidDatasetError):
        load_hc18(tmp_path)


def test_stored_labels_are_swapped_on_loading(synthetic_npz: Path) -> None:
    raw = load_dataset(synthetic_npz, get_task("cxr-pneumonia").label_of)
    task = get_task("us-breast")
    swapped = load_dataset(synthetic_npz, task.label_of, relabel=task.class_of_stored)
    assert [1 - y for y in raw.labels] == swapped.labels


def test_real_hc18_split_by_subject(shared_datasets: Path) -> None:
    data = load_hc18(shared_datasets / "hc18")
    assert len(data) == 798
    train = {c.subject for c in data.split("train")}
    val = {c.subject for c in data.split("val")}
    assert not train & val
    assert data.split_sizes() == {"train": 645, "val": 153}
    for case in data.cases[:20]:
        ellipse, _ = data.reference(case, (540, 800))
        assert ellipse.perimeter * case.pixel_mm == pytest.approx(case.hc_mm, rel=0.02)


def test_real_breastmnist_reports_malignant_as_the_positive_class(shared_datasets: Path) -> None:
    task = get_task("us-breast")
    data = load_dataset(shared_datasets / "breastmnist", task.label_of, relabel=task.class_of_stored)
    assert data.split("train").class_counts() == {0: 399, 1: 147}
    assert data.split("val").class_counts() == {0: 57, 1: 21}
    assert np.mean(data.split("val").labels) == pytest.approx(21 / 78)
