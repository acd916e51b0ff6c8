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


def test_the_extra_blur_smooths_its_share_of_the_batch_and_leaves_the_other_draws_as_they_were() -> None:
    rng = np.random.default_rng(0)
    batch = rng.random((64, 1, 56, 56)).astype(np.float32)
    plain = Augmenter(56, seed=3)(batch).numpy()
    blurred = Augmenter(56, seed=3, blur_max=4.0, blur_prob=0.3)(batch).numpy()
    changed = ~np.all(np.isclose(plain, blurred), axis=(1, 2, 3))
    assert 8 <= int(changed.sum()) <= 30  # about 30% (sigmas under 0.3 px are skipped)
    np.testing.assert_array_equal(plain[~changed], blurred[~changed])  # MONAI's draws are untouched

    def detail(x: np.ndarray) -> np.ndarray:
        return np.asarray(np.abs(np.diff(x, axis=-1)).mean(axis=(1, 2, 3)))

    assert (detail(blurred[changed]) < detail(plain[changed])).all()
    again = Augmenter(56, seed=3, blur_max=4.0, blur_prob=0.3)(batch).numpy()
    np.testing.assert_array_equal(blurred, again)


def test_the_batch_blur_is_scipys_gaussian_filter() -> None:
    import torch
    from scipy.ndimage import gaussian_filter

    from medsight.training.augment import gaussian_blur

    image = np.random.default_rng(1).random((40, 40)).astype(np.float32)
    ours = gaussian_blur(torch.from_numpy(image)[None, None], 2.0)[0, 0].numpy()
    np.testing.assert_allclose(ours, gaussian_filter(image, 2.0, mode="mirror", truncate=3.0), atol=1e-5)


def test_the_extra_blur_is_recorded_and_refused_where_it_cannot_apply(tmp_path: Path, synthetic_npz: Path) -> None:
    options = FitOptions(
        resolution=28,
        train=TrainOptions(epochs=1, batch_size=16, blur_max=1.5, blur_prob=0.5),
        network=TINY,
        bootstrap=50,
        name="tiny-blur",
    )
    bundle = train(TrainRequest("cxr-pneumonia", synthetic_npz, tmp_path / "m", options, command="pytest"))
    assert load_bundle(bundle.path).metadata.medsight.training["blur"] == {"max": 1.5, "prob": 0.5}
    args = ["train", "--task", "us-fetal-head", "--data", tmp_path, "--out", tmp_path / "f", "--blur-max", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "medsight", *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith("error[usage.invalid]: --blur-max applies to classification tasks")
