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
