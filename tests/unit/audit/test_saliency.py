"""The saliency checks on a model whose evidence is known: a bright square in one corner.

The "model" scores how bright that square is, so a map over the square is faithful by
construction, a map over the opposite corner is not, and each check must tell them apart.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from medsight.audit.saliency import (
    blurred,
    donor_baselines,
    perturbation_curves,
    rank_correlations,
    saliency_report,
)

SIZE = 24
EVIDENCE = (slice(2, 10), slice(2, 10))  # the square the model reads


def _images(n: int, seed: int = 0) -> NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 0.4, size=(n, 1, SIZE, SIZE)).astype(np.float32)
    x[:, 0, EVIDENCE[0], EVIDENCE[1]] = rng.uniform(0.85, 1.0, size=(n, 1, 1)).astype(np.float32)
    return x


def _score(x: NDArray[np.float32]) -> NDArray[np.float64]:
    brightness = x[:, 0, EVIDENCE[0], EVIDENCE[1]].mean(axis=(1, 2)).astype(np.float64)
    return np.asarray(1 / (1 + np.exp(-20 * (brightness - 0.6))), dtype=np.float64)


def _square_map(n: int, where: tuple[slice, slice]) -> NDArray[np.float32]:
    maps = np.zeros((n, SIZE, SIZE), dtype=np.float32)
    maps[:, where[0], where[1]] = 1.0
    # A little smooth falloff so that the order outside the square is defined too.
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    centre = ((where[0].start + where[0].stop) / 2, (where[1].start + where[1].stop) / 2)
    maps += (0.5 * np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / 50.0)).astype(np.float32)
    return maps


def _random_maps(n: int, seed: int = 1) -> NDArray[np.float32]:
    coarse = np.random.default_rng(seed).random((n, 3, 3)).astype(np.float32)
    return np.repeat(np.repeat(coarse, SIZE // 3, axis=1), SIZE // 3, axis=2)


def test_curves_start_at_the_image_and_end_at_its_blurred_copy() -> None:
    x = _images(5)
    base = blurred(x)
    curves = perturbation_curves(_score, x, _square_map(5, EVIDENCE), _random_maps(5), base, steps=6)
    assert curves.deletion.shape == (5, 7)
    for start, end, name in ((x, base, "deletion"), (base, x, "insertion")):
        for order in (name, f"{name}_random"):
            np.testing.assert_allclose(getattr(curves, order)[:, 0], _score(start))
            np.testing.assert_allclose(getattr(curves, order)[:, -1], _score(end))


def test_a_map_over_the_evidence_passes_deletion_and_insertion() -> None:
    x = _images(30)
    curves = perturbation_curves(_score, x, _square_map(30, EVIDENCE), _random_maps(30), blurred(x), steps=12)
    report = saliency_report(curves, {}, n_boot=300)
    assert report.check("deletion").passed
    assert report.check("insertion").passed
    assert report.check("deletion").mean > 0.2
    assert report.passed


def test_a_map_over_the_wrong_corner_fails_them() -> None:
    x = _images(30)
    elsewhere = (slice(14, 22), slice(14, 22))
    curves = perturbation_curves(_score, x, _square_map(30, elsewhere), _random_maps(30), blurred(x), steps=12)
    report = saliency_report(curves, {}, n_boot=300)
    assert not report.check("deletion").passed
    assert not report.check("insertion").passed
    assert report.check("deletion").mean < 0
    assert not report.passed


def test_maps_that_survive_randomising_the_weights_fail_the_sanity_check() -> None:
    x = _images(20)
    maps = _square_map(20, EVIDENCE) + np.random.default_rng(2).random((20, SIZE, SIZE)).astype(np.float32) * 0.01
    same = rank_correlations(maps, maps)
    unrelated = rank_correlations(maps, np.random.default_rng(3).random((20, SIZE, SIZE)).astype(np.float32))
    np.testing.assert_allclose(same, 1.0)
    assert abs(float(unrelated.mean())) < 0.1
    curves = perturbation_curves(_score, x, maps, _random_maps(20), blurred(x), steps=4)
    report = saliency_report(curves, {"head": unrelated, "all": same}, n_boot=300)
    assert report.check("randomization_head").passed
    assert not report.check("randomization_all").passed
    assert not report.passed
    document = report.to_dict()
    assert set(document["checks"]) == {"deletion", "insertion", "randomization_head", "randomization_all"}
    assert document["checks"]["randomization_all"]["mean"] == pytest.approx(1.0)
    assert len(document["curves"]["deletion"]) == len(document["curves"]["fractions"]) == 5


def test_a_constant_map_correlates_with_nothing() -> None:
    flat = np.ones((2, SIZE, SIZE), dtype=np.float32)
    assert rank_correlations(flat, _random_maps(2)).tolist() == [0.0, 0.0]


def test_mismatched_shapes_and_too_few_steps_are_errors() -> None:
    x = _images(3)
    with pytest.raises(ValueError, match="same images"):
        perturbation_curves(_score, x, _square_map(2, EVIDENCE), _random_maps(3), blurred(x))
    with pytest.raises(ValueError, match="steps"):
        perturbation_curves(_score, x, _square_map(3, EVIDENCE), _random_maps(3), blurred(x), steps=1)


def test_donors_are_other_images_drawn_with_the_seed() -> None:
    x = _images(6)
    chosen, donors = np.array([0, 1, 2]), np.array([2, 4, 5])
    first = donor_baselines(x, chosen, donors, seed=0)
    np.testing.assert_array_equal(first, donor_baselines(x, chosen, donors, seed=0))
    for k, index in enumerate(chosen):
        matches = [d for d in donors if np.array_equal(first[k], x[d])]
        assert matches
        assert index not in matches
    with pytest.raises(ValueError, match="no donor"):
        donor_baselines(x, np.array([3]), np.array([3]))
