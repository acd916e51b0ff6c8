"""Training options beyond the defaults: the ``prevalence`` threshold rule end to end, and
left-right mirroring in the augmentation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medsight.data import load_dataset
from medsight.models import load_bundle
from medsight.models.networks import NetworkConfig
from medsight.services.train import TrainRequest, train
from medsight.tasks import get_task
from medsight.training import FitOptions, TrainOptions
from medsight.training.augment import Augmenter

TINY = NetworkConfig(widths=(4, 8, 8, 8), blocks=(1, 1, 1, 1))


def test_the_prevalence_rule_puts_the_threshold_at_the_val_share_of_positives(
    tmp_path: Path, synthetic_npz: Path
) -> None:
    options = FitOptions(
        resolution=28,
        train=TrainOptions(epochs=2, batch_size=16),
        network=TINY,
        bootstrap=50,
        threshold_rule="prevalence",
        name="tiny-prevalence",
    )
    bundle = train(TrainRequest("cxr-pneumonia", synthetic_npz, tmp_path / "m", options, command="pytest"))
    task = get_task("cxr-pneumonia")
    y_val = np.array([case.label for case in load_dataset(synthetic_npz, task.label_of).split("val").cases])
    section = load_bundle(bundle.path).metadata.medsight
    assert section.threshold_rule == "prevalence"
    assert section.threshold == pytest.approx(y_val.mean())
    card = (bundle.path / "docs" / "model_card.md").read_text(encoding="utf-8")
    assert "likelihood ratio of 1" in card


@pytest.mark.parametrize(
    ("task", "rule", "message"),
    [
        ("cxr-pneumonia", "f1", "--threshold-rule is one of youden, prevalence, not 'f1'"),
        ("us-fetal-head", "prevalence", "--threshold-rule applies to classification tasks; us-fetal-head is"),
    ],
)
def test_a_threshold_rule_that_cannot_apply_is_a_usage_error(
    tmp_path: Path, task: str, rule: str, message: str
) -> None:
    args = ["train", "--task", task, "--data", tmp_path, "--out", tmp_path / "m", "--threshold-rule", rule]
    done = subprocess.run(
        [sys.executable, "-m", "medsight", *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith(f"error[usage.invalid]: {message}")
    assert not (tmp_path / "m").exists()


def _sides(batch: np.ndarray) -> np.ndarray:
    """Per image: is its left half brighter than its right?"""
    half = batch.shape[-1] // 2
    return batch[..., :half].mean(axis=(1, 2, 3)) > batch[..., half:].mean(axis=(1, 2, 3))


def test_mirroring_flips_about_half_the_images_and_is_off_by_default() -> None:
    image = np.zeros((64, 1, 28, 28), dtype=np.float32)
    image[..., :10] = 0.9  # a bright left third: rotation, scaling and shifts keep it on the left
    plain = Augmenter(28, seed=0)(image).numpy()
    mirrored = Augmenter(28, seed=0, mirror=True)(image).numpy()
    assert _sides(plain).all()
    assert 16 <= int((~_sides(mirrored)).sum()) <= 48
    again = Augmenter(28, seed=0, mirror=True)(image).numpy()
    np.testing.assert_array_equal(mirrored, again)  # reproducible for a seed
