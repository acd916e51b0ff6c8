"""Validation figures per site: computed where the data records sites, and shown in the model card."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medsight.data import load_dataset
from medsight.tasks import get_task
from medsight.training import FitOptions
from medsight.training.fit import _metrics_by_site
from medsight.training.model_card import _by_site


def test_val_metrics_per_site_with_cis(synthetic_tb: Path) -> None:
    task = get_task("cxr-tuberculosis")
    val = load_dataset(synthetic_tb, task.label_of).split("val")
    y = np.asarray(val.labels, dtype=np.int64)
    p = np.clip(0.2 + 0.6 * y + np.random.default_rng(0).normal(0, 0.2, y.size), 0, 1)
    sites = _metrics_by_site(val, y, p, 0.5, FitOptions(resolution=32, bootstrap=100))
    assert [s["source"] for s in sites] == ["montgomery", "shenzhen"]
    assert sum(s["n"] for s in sites) == len(val)
    assert all(s["auc_ci"][0] <= s["auc"] <= s["auc_ci"][1] for s in sites)
    card = "\n".join(_by_site(sites))
    assert "## Validation by site" in card
    assert "| montgomery |" in card


def test_no_site_table_without_sites(synthetic_npz: Path) -> None:
    task = get_task("cxr-pneumonia")
    val = load_dataset(synthetic_npz, task.label_of).split("val")
    y = np.asarray(val.labels, dtype=np.int64)
    assert _metrics_by_site(val, y, y.astype(float), 0.5, FitOptions(resolution=28, bootstrap=100)) == []
    assert _by_site([]) == []
