"""Is a saliency map faithful to the model? Three checks a reviewer can read.

1. **Deletion** (Petsiuk et al., BMVC 2018, "RISE: Randomized Input Sampling for
   Explanation of Black-box Models"): the pixels the map ranks highest are replaced
   first, a fraction at a time, by a baseline image's, and the model's calibrated
   probability of the explained class is followed. If the map points at the model's
   evidence, the probability falls faster than when the pixels go in the order of a
   random map. The area under that curve (fraction 0 to 1) is compared image by image
   with a random map's: ``gain`` = random area - map area, above 0 when the map beats
   chance.
2. **Insertion**: the reverse, from the baseline, the map's pixels first;
   ``gain`` = map area - random area.

   The random maps are as smooth as the real ones (noise on the explained stage's grid,
   upsampled as Grad-CAM is), so both orders move contiguous regions of the same scale:
   the comparison is about *where*, not about how scattered the changed pixels are. The
   baseline must carry no evidence for the class. RISE blurs the image, but to a
   pneumonia model a blurred chest film *is* evidence (hazy lungs): the 28 px model
   scores its blurred val films 0.99. So the default baseline is another image of the
   same split that the model calls negative (a "donor", :func:`donor_baselines`): a
   removed region then looks like the same region of a film without the finding.
   :func:`blurred` remains for images where blur means nothing.
3. **Model randomization** (Adebayo et al., NeurIPS 2018, "Sanity Checks for Saliency
   Maps"): the maps of the same images from the same architecture with re-initialised
   weights. A method whose maps barely change shows the image (edges, bright regions),
   not what the model learnt. Per image, the Spearman rank correlation between the
   trained and the randomised model's maps; it should be low.

Each check is a mean over images with a 95% percentile-bootstrap CI (images resampled),
and passes when its interval lies on the right side: both gains above 0, the
correlation's upper bound below :data:`MAX_RANDOM_CORRELATION`. A check that fails is a
result, not an error.

Pure numpy and scipy: the model enters as a scoring function and as maps already made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter
from scipy.stats import rankdata

from medsight.metrics.segmentation import bootstrap_statistic

__all__ = [
    "MAX_RANDOM_CORRELATION",
    "Check",
    "PerturbationCurves",
    "SaliencyReport",
    "blurred",
    "donor_baselines",
    "failed_checks",
    "perturbation_curves",
    "rank_correlations",
    "saliency_report",
]

#: A map whose rank correlation with a random-weight model's map may reach this is not
#: shown to depend on the weights (Adebayo et al. judge by eye; 0.5 is our line, stated).
MAX_RANDOM_CORRELATION = 0.5

#: Scores model inputs ``(m, 1, H, W)``: the calibrated probability of the explained class ``(m,)``.
Scorer = Callable[[NDArray[np.float32]], NDArray[np.float64]]


@dataclass(frozen=True)
class PerturbationCurves:
    """Probability against the fraction of pixels moved, per image, for the map and a random map.

    Attributes:
        fractions: ``(steps + 1,)`` from 0 to 1.
        deletion, deletion_random: ``(n, steps + 1)``; pixels replaced by the baseline's.
        insertion, insertion_random: ``(n, steps + 1)``; pixels restored into the baseline.
    """

    fractions: NDArray[np.float64]
    deletion: NDArray[np.float64]
    deletion_random: NDArray[np.float64]
    insertion: NDArray[np.float64]
    insertion_random: NDArray[np.float64]

    def areas(self, name: str) -> NDArray[np.float64]:
        """Each image's area under curve ``name`` (trapezoids over the fractions)."""
        curves: NDArray[np.float64] = getattr(self, name)
        return np.asarray(np.trapezoid(curves, self.fractions, axis=1), dtype=np.float64)


def blurred(inputs: NDArray[np.float32], sigma_fraction: float = 1 / 8) -> NDArray[np.float32]:
    """Each input ``(n, 1, H, W)`` blurred by a Gaussian of ``sigma_fraction`` of its side."""
    sigma = max(1.0, sigma_fraction * inputs.shape[-1])
    out = np.empty_like(inputs)
    for i in range(len(inputs)):
        out[i, 0] = gaussian_filter(inputs[i, 0], sigma=sigma, mode="nearest")
    return out


def donor_baselines(
    inputs: NDArray[np.float32], chosen: NDArray[np.intp], donors: NDArray[np.intp], seed: int = 0
) -> NDArray[np.float32]:
    """For each of ``inputs[chosen]``, one of ``inputs[donors]`` (drawn with a seeded generator,
    never the image itself), as ``(len(chosen), 1, H, W)``.

    Raises:
        ValueError: no donor other than the image itself.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((len(chosen), *inputs.shape[1:]), dtype=np.float32)
    for k, index in enumerate(chosen):
        pool = donors[donors != index]
        if pool.size == 0:
            raise ValueError("no donor image other than the image explained")
        out[k] = inputs[int(rng.choice(pool))]
    return out


def perturbation_curves(
    score: Scorer,
    inputs: NDArray[np.float32],
    maps: NDArray[np.float32],
    random_maps: NDArray[np.float32],
    baselines: NDArray[np.float32],
    *,
    steps: int = 16,
    batch_size: int = 256,
) -> PerturbationCurves:
    """Deletion and insertion curves of ``inputs`` ``(n, 1, H, W)`` in the order of ``maps``
    and of ``random_maps`` ``(n, H, W)``, pixels moved from or to ``baselines``.

    Ties in a map are broken by position (a stable sort), the same way for every order.
    """
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    n, pixels = len(inputs), inputs.shape[-2] * inputs.shape[-1]
    if maps.shape != (n, *inputs.shape[-2:]) or random_maps.shape != maps.shape or baselines.shape != inputs.shape:
        raise ValueError("inputs, maps, random maps and baselines must describe the same images")
    fractions = np.linspace(0.0, 1.0, steps + 1)
    counts = np.round(fractions * pixels).astype(np.int64)
    # For each image and order, the rank of each pixel (0 = moved first).
    ranks = {
        "map": _ranks(maps),
        "random": _ranks(random_maps),
    }
    per_image = 4 * len(counts)
    chunk = max(1, batch_size // per_image)
    out = {key: np.empty((n, len(counts))) for key in ("deletion", "deletion_random", "insertion", "insertion_random")}
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        batch = []
        for i in range(start, stop):
            x, base = inputs[i, 0], baselines[i, 0]
            for order in ("map", "random"):
                moved = ranks[order][i][None] < counts[:, None, None]  # (steps + 1, H, W)
                batch.append(np.where(moved, base, x))  # deletion
                batch.append(np.where(moved, x, base))  # insertion
        scores = np.asarray(score(np.stack(batch).reshape(-1, 1, *inputs.shape[-2:])), dtype=np.float64)
        scores = scores.reshape(stop - start, 2, 2, len(counts))  # image, order, curve, step
        out["deletion"][start:stop] = scores[:, 0, 0]
        out["insertion"][start:stop] = scores[:, 0, 1]
        out["deletion_random"][start:stop] = scores[:, 1, 0]
        out["insertion_random"][start:stop] = scores[:, 1, 1]
    return PerturbationCurves(fractions=fractions, **out)


def _ranks(maps: NDArray[np.float32]) -> NDArray[np.int64]:
    """``(n, H, W)``: each pixel's place when the map is sorted from most to least salient."""
    flat = maps.reshape(len(maps), -1)
    order = np.argsort(-flat, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(flat.shape[1])[None].repeat(len(flat), axis=0), axis=1)
    return ranks.reshape(maps.shape)


def rank_correlations(maps: NDArray[np.float32], others: NDArray[np.float32]) -> NDArray[np.float64]:
    """Per image, the Spearman rank correlation of two maps ``(n, H, W)`` (0 where one is constant)."""
    out = np.zeros(len(maps))
    for i, (a, b) in enumerate(zip(maps, others, strict=True)):
        ra, rb = rankdata(a.ravel()), rankdata(b.ravel())
        if ra.std() > 0 and rb.std() > 0:
            out[i] = float(np.corrcoef(ra, rb)[0, 1])
    return out


@dataclass(frozen=True)
class Check:
    """One check's per-image values summarised, and its verdict.

    Attributes:
        name: ``deletion``, ``insertion``, ``randomization_head`` or ``randomization_all``.
        values: per-image values (a gain or a correlation).
        mean: their mean; ci: its 95% bootstrap CI.
        passed: whether the CI lies on the side the rule asks.
        rule: the rule, in words.
    """

    name: str
    values: NDArray[np.float64]
    mean: float
    ci: tuple[float, float]
    passed: bool
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": _round(self.mean),
            "ci": [_round(self.ci[0]), _round(self.ci[1])],
            "passed": self.passed,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class SaliencyReport:
    """The three checks on ``n`` images, with the mean curves for a plot."""

    curves: PerturbationCurves
    checks: tuple[Check, ...]

    @property
    def n(self) -> int:
        return len(self.curves.deletion)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def check(self, name: str) -> Check:
        return next(check for check in self.checks if check.name == name)

    def to_dict(self) -> dict[str, Any]:
        """``n``, ``passed``, per check its mean, CI, verdict and rule; the perturbation
        areas; and the mean curves (``curves``: fractions and one list per curve)."""
        c = self.curves
        areas = {name: _round(float(np.mean(c.areas(name)))) for name in _CURVES}
        return {
            "n": self.n,
            "passed": self.passed,
            "checks": {check.name: check.to_dict() for check in self.checks},
            "areas": areas,
            "curves": {
                "fractions": [_round(float(f)) for f in c.fractions],
                **{name: [_round(float(v)) for v in getattr(c, name).mean(axis=0)] for name in _CURVES},
            },
        }


_CURVES = ("deletion", "deletion_random", "insertion", "insertion_random")


def saliency_report(
    curves: PerturbationCurves,
    correlations: Mapping[str, NDArray[np.float64]],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> SaliencyReport:
    """Judge the curves and the randomization correlations (``{"head": ..., "all": ...}``)."""
    gains = {
        "deletion": (curves.areas("deletion_random") - curves.areas("deletion"), "below"),
        "insertion": (curves.areas("insertion") - curves.areas("insertion_random"), "above"),
    }
    checks = [
        _check(
            name,
            values,
            above=0.0,
            rule=f"the map's {name} area is {side} a random map's (gain > 0, 95% CI)",
            n_boot=n_boot,
            seed=seed,
        )
        for name, (values, side) in gains.items()
    ]
    for which, values in correlations.items():
        checks.append(
            _check(
                f"randomization_{which}",
                values,
                below=MAX_RANDOM_CORRELATION,
                rule=f"rank correlation with the maps of a model whose {_RANDOMIZED.get(which, which)} "
                f"re-initialised stays below {MAX_RANDOM_CORRELATION} (95% CI)",
                n_boot=n_boot,
                seed=seed,
            )
        )
    return SaliencyReport(curves=curves, checks=tuple(checks))


_RANDOMIZED = {"head": "output layer is", "all": "weights are all"}


def failed_checks(audit: Mapping[str, Any]) -> list[str]:
    """The checks an audit (its JSON, or the summary recorded in a bundle) failed, in order."""
    return [name for name, check in audit.get("checks", {}).items() if not check.get("passed")]


def _check(
    name: str,
    values: NDArray[np.float64],
    *,
    rule: str,
    n_boot: int,
    seed: int,
    above: float | None = None,
    below: float | None = None,
) -> Check:
    values = np.asarray(values, dtype=np.float64)
    mean = float(np.mean(values)) if values.size else float("nan")
    ci = bootstrap_statistic(values, lambda v: float(np.mean(v)), n_boot=n_boot, seed=seed)
    passed = bool(values.size) and ((above is None or ci[0] > above) and (below is None or ci[1] < below))
    return Check(name=name, values=values, mean=mean, ci=ci, passed=passed, rule=rule)


def _round(value: float) -> float | None:
    return None if not np.isfinite(value) else round(value, 4)
