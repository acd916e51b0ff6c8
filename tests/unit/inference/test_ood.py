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
