"""The Mahalanobis distance check: thresholds at the training quantile, far points refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsight.inference.ood import GaussianDistance, MemberDistances, OodDetector


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


def _blocks(rng: np.random.Generator, n: int, members: int = 3, d: int = 30) -> np.ndarray:
    return rng.normal(size=(n, members * d))


def test_one_block_is_exactly_the_single_gaussian() -> None:
    train = _blocks(np.random.default_rng(2), 300, members=1)
    single = GaussianDistance.fit(train, 0.99, folds=5)
    (member,) = MemberDistances.fit(train, 0.99, folds=5).members
    assert member.threshold == single.threshold
    np.testing.assert_array_equal(member.precision, single.precision)


def test_the_members_union_refuses_about_one_minus_the_quantile_of_unseen_inputs() -> None:
    """Without the joint scaling three independent members would refuse up to three times
    1 - quantile; with it the union holds the rate one threshold would."""
    rng = np.random.default_rng(3)
    train, unseen = _blocks(rng, 1500), _blocks(rng, 4000)
    members = MemberDistances.fit(train, 0.98, folds=10, blocks=3)
    alone = [GaussianDistance.fit(block, 0.98, folds=10) for block in np.split(train, 3, axis=1)]
    assert all(m.threshold > a.threshold for m, a in zip(members.members, alone, strict=True))
    rate = float(np.mean(members.ratio(unseen) > 1.0))
    assert 0.01 < rate < 0.035


def test_a_shift_one_member_sees_is_refused_more_often_than_by_one_gaussian_over_all_features() -> None:
    """The reason for one Gaussian per member: an input unlike the training data to one
    member's features is diluted among every member's dimensions in a single Gaussian."""
    rng = np.random.default_rng(4)
    d = 30
    train = _blocks(rng, 400, d=d)
    shifted = _blocks(rng, 1000, d=d)
    shifted[:, :d] += 0.8
    members = MemberDistances.fit(train, 0.98, folds=10, blocks=3)
    joint = GaussianDistance.fit(train, 0.98, folds=10)
    by_members = float(np.mean(members.ratio(shifted) > 1.0))
    by_joint = float(np.mean(joint.distance(shifted) > joint.threshold))
    assert by_members > by_joint + 0.1


def test_an_ensemble_detector_round_trips_and_one_network_keeps_its_file_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    inputs = rng.random((200, 1, 28, 28)).astype(np.float32)
    features = rng.standard_normal((200, 12)).astype(np.float32)
    ensemble = OodDetector.fit(inputs, features, quantile=0.99, description="x", folds=4, members=3)
    ensemble.save(tmp_path / "ensemble.npz")
    again = OodDetector.load(tmp_path / "ensemble.npz", "x")
    assert len(again.features.members) == 3
    np.testing.assert_allclose(again.scores(inputs[:5], features[:5]), ensemble.scores(inputs[:5], features[:5]))

    OodDetector.fit(inputs, features, quantile=0.99, description="x").save(tmp_path / "one.npz")
    with np.load(tmp_path / "one.npz") as data:
        assert data["features_mean"].shape == (12,)
        assert data["features_threshold"].shape == ()


def test_features_that_do_not_split_into_the_members_are_an_error() -> None:
    with pytest.raises(ValueError, match="equal blocks"):
        MemberDistances.fit(np.zeros((50, 10)), 0.99, blocks=3)
