"""Refusal rates: Wilson intervals, groups built from what exists, counts that add up."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsight.inference import LoadedModel
from medsight.models import load_bundle
from medsight.services.demo import build_demo_inputs
from medsight.services.refusal import refusal_groups, refusal_report, wilson_interval


@pytest.mark.parametrize(("k", "n", "lo", "hi"), [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0)])
def test_wilson_interval_matches_published_values(k: int, n: int, lo: float, hi: float) -> None:
    got = wilson_interval(k, n)
    assert got[0] == pytest.approx(lo, abs=1e-4)
    assert got[1] == pytest.approx(hi, abs=1e-4)


def test_without_shared_data_the_val_split_and_synthetic_inputs_are_still_measured(
    tiny_bundle: Path, synthetic_npz: Path
) -> None:
    model = LoadedModel.load(load_bundle(tiny_bundle))
    groups = refusal_report(model, refusal_groups(model, synthetic_npz, None))
    names = [g.name for g in groups]
    assert names[0].startswith("validation chest X-rays")
    assert names[-1].startswith("synthetic")
    val, synthetic = groups[0], groups[-1]
    assert val.n == 48
    assert synthetic.n == 52
    assert synthetic.refused == synthetic.n, synthetic.by_check  # noise, blank, colour, ramps: all refused
    assert sum(synthetic.by_check.values()) == synthetic.refused
    row = val.to_dict()
    assert row["rate_ci"][0] <= row["rate"] <= row["rate_ci"][1]


def test_demo_inputs_offline_without_shared_hold_only_inputs_to_refuse(tmp_path: Path) -> None:
    inputs = build_demo_inputs(tmp_path / "demo", None, online=False)
    assert inputs.chest_source.startswith("none")
    assert not any((inputs.folder / "chest_xray").iterdir())
    names = {p.name for p in (inputs.folder / "not_chest_xray").iterdir()}
    assert {"CT_small.dcm", "MR_small.dcm", "CT_small_as_png.png", "noise.png", "blank.png"} <= names


@pytest.mark.shared
def test_demo_inputs_take_validation_chest_xrays_from_shared(tmp_path: Path, shared_datasets: Path) -> None:
    inputs = build_demo_inputs(tmp_path / "demo", shared_datasets.parent, per_class=2, online=False)
    assert "validation" in inputs.chest_source
    assert len(list((inputs.folder / "chest_xray").iterdir())) == 4


def test_every_task_names_foreign_groups_that_exist() -> None:
    from medsight.services.refusal import FOREIGN_GROUPS
    from medsight.tasks import get_task, task_names

    for name in task_names():
        task = get_task(name)
        assert task.own_inputs != "images", name  # each task says what its own inputs are
        assert task.checked_against, name
        assert set(task.checked_against) <= set(FOREIGN_GROUPS), name
        assert set(task.checked_against.values()) <= {"refuse", "either"}, name
        assert "synthetic" in task.checked_against, name  # always measurable, even without ../shared


def test_each_task_is_checked_against_other_tasks_inputs_not_its_own() -> None:
    from medsight.tasks import get_task

    assert "breast-ultrasound" not in get_task("us-breast").checked_against
    assert "fetal-head-ultrasound" not in get_task("us-fetal-head").checked_against
    assert {"fetal-head-ultrasound", "chest-xrays-28", "brain-mri-slices"} <= set(get_task("us-breast").checked_against)
    assert {"breast-ultrasound", "brain-mri-slices"} <= set(get_task("us-fetal-head").checked_against)
    assert "hippocampus-mri-volumes" not in get_task("mri-hippocampus").checked_against
    assert "brain-mri-volumes" in get_task("mri-hippocampus").checked_against
    assert get_task("cxr-pneumonia").checked_against["tb-chest-xrays"] == "either"


def test_a_breast_model_is_measured_on_breast_ultrasound_not_chest_xrays(
    tiny_breast_bundle: Path, synthetic_npz: Path
) -> None:
    model = LoadedModel.load(load_bundle(tiny_breast_bundle))
    names = [name for name, _, _ in refusal_groups(model, synthetic_npz, None)]
    assert names == [
        "validation breast ultrasound images (false refusals)",
        "synthetic: noise, blank, gradients, checkerboards, colour",
    ]


def test_the_fetal_head_segmenter_gets_the_same_table(tiny_segmenter: Path, synthetic_hc18: Path) -> None:
    from medsight.inference.segmentation import LoadedSegmenter

    model = LoadedSegmenter.load(load_bundle(tiny_segmenter))
    groups = refusal_report(model, refusal_groups(model, synthetic_hc18, None))
    assert [g.name for g in groups] == [
        "validation fetal head ultrasound images (false refusals)",
        "synthetic: noise, blank, gradients, checkerboards, colour",
    ]
    val, synthetic = groups
    assert val.expected == "accept"
    assert val.n > 0
    assert synthetic.n == 52
    assert synthetic.refused == synthetic.n, synthetic.by_check


def test_an_mri_model_refuses_synthetic_volumes_and_single_images() -> None:
    from medsight.inference.volume_segmentation import LoadedVolumeSegmenter
    from medsight.models.bundle import resolve_bundle
    from medsight.services.refusal import FOREIGN_GROUPS

    model = LoadedVolumeSegmenter.load(resolve_bundle("mri-hippocampus-48"))
    names = [name for name, _, _ in refusal_groups(model, None, None)]
    assert names == [FOREIGN_GROUPS[key][0] for key in ("ct-like-volumes", "noise-volumes", "synthetic")]
    noise = [group for group in refusal_groups(model, None, None) if group[0].startswith("noise")]
    (result,) = refusal_report(model, noise)
    assert result.n == 5
    assert result.refused == 5, result.by_check


@pytest.mark.shared
def test_with_shared_data_the_breast_model_gets_its_own_rows(tiny_breast_bundle: Path, shared_datasets: Path) -> None:
    model = LoadedModel.load(load_bundle(tiny_breast_bundle))
    groups = refusal_groups(model, shared_datasets / "breastmnist", shared_datasets.parent, per_group=10)
    rows = {name: expected for name, expected, _ in groups}
    assert rows["validation breast ultrasound images (false refusals)"] == "accept"
    assert rows["fetal head ultrasound (HC18 val subjects)"] == "refuse"
    assert rows["chest X-rays at 28 px (PneumoniaMNIST val), no metadata"] == "refuse"
    assert "breast ultrasound (BreastMNIST val)" not in rows  # its own data is not foreign
