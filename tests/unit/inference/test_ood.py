"""The Mahalanobis distance check: thresholds at the training quantile, far points refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medsight.inference.ood import GaussianDistance, OodDetector


def test_the_threshold_is_the_training_quantile_and_far_points_exceed_it() -> None:
    rng = np.random.default_rng(0)
    train = rng.standard_normal((2000, 8))
    gauss = GaussianDistance.fit(train, quantile=0.99)
    assert np.mean(gauss.distance(train) > gauss.threshold) <= 0.011
    fresh = rng.standard_normal((2000, 8))
    assert np.mean(gauss.distance(fresh) > gauss.threshold) < 0.03
    assert (gauss.distance(fresh + 10.0) > gauss.threshold).all()


def test_a_detector_round_trips_through_npz(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    inputs = rng.random((200, 1, 28, 28)).astype(np.float32)
    features = rng.standard_normal((200, 6)).astype(np.float32)
    detector = OodDetector.fit(inputs, features, quantile=0.995, description="x")
    detector.save(tmp_path / "ood.npz")
    again = OodDetector.load(tmp_path / "ood.npz", "x")
    np.testing.assert_allclose(again.scores(inputs[:5], features[:5]), detector.scores(inputs[:5], features[:5]))


def test_more_folds_give_a_threshold_that_holds_for_the_whole_set_fit() -> None:
    """With few samples per dimension, halves overestimate an unseen point's distance to the
    whole-set fit; ten folds come close to it: unseen in-distribution points stay under the
    threshold, and a modest shift is refused instead of passing."""
    rng = np.random.default_rng(0)
    d = 40
    train = rng.normal(size=(160, d))
    unseen = rng.normal(size=(2000, d))
    shifted = rng.normal(size=(500, d)) + 0.6
    halves = GaussianDistance.fit(train, 0.99)
    tenfold = GaussianDistance.fit(train, 0.99, folds=10)
    assert tenfold.threshold < halves.threshold
    assert np.mean(tenfold.distance(unseen) > tenfold.threshold) < 0.05
    assert np.mean(tenfold.distance(shifted) > tenfold.threshold) > np.mean(halves.distance(shifted) > halves.threshold)
