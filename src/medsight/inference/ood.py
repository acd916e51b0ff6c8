"""Out-of-distribution check: is an input like the images the model was trained on?

Two Mahalanobis distances, each against a Gaussian fitted on the training set:

- **pixel statistics**: the model input shrunk to an 8 x 8 thumbnail (the layout: two dark
  lung fields, a bright mediastinum), its intensity percentiles (exposure and contrast)
  and its fine-detail energy (noise, text, photographs). It knows nothing of the model, so
  it catches inputs that merely look different (noise, a gradient, a CT slice's round
  body outline, an ultrasound fan). 73 numbers: few enough that a few thousand training
  images estimate their covariance well;
- **features**: the model's own pooled features (Lee et al., NeurIPS 2018, "A Simple
  Unified Framework for Detecting Out-of-Distribution Samples"), which catch inputs that
  look plausible at 16 px but that the network represents unlike any chest X-ray. A deep
  ensemble gets one Gaussian per member (:class:`MemberDistances`): one Gaussian over
  every member's features side by side has three times the dimensions for the same
  training images, and its shrunk covariance let through what one member alone refuses
  (brain MR slices through ``us-breast-28`` 2.0.0, docs/models.md).

The covariance is shrunk towards a scaled identity by the Ledoit-Wolf weight, so that it
is invertible and well conditioned with few samples per dimension. Each threshold is a
high quantile of training distances, cross-fitted so that it holds for unseen images
(:meth:`GaussianDistance.fit`); the false-refusal rate is then measured on the validation
images, which the fit never saw, and recorded in the model card.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from medsight.tasks.acceptance import Refusal
from medsight.tasks.preprocess import resize_area_batch

__all__ = ["GaussianDistance", "MemberDistances", "OodDetector", "pixel_statistics"]

THUMBNAIL = 8
_PERCENTILES = (1, 5, 25, 50, 75, 95, 99)


def pixel_statistics(inputs: NDArray[np.float32]) -> NDArray[np.float64]:
    """``(n, 73)``: per model input ``(1, H, W)``, its 8 x 8 thumbnail, 7 intensity
    percentiles, and the mean absolute first differences along rows and columns."""
    planes = np.asarray(inputs[:, 0], dtype=np.float32)
    n = len(planes)
    thumbs = resize_area_batch(planes, (THUMBNAIL, THUMBNAIL)).reshape(n, -1)
    levels = np.percentile(planes.reshape(n, -1), _PERCENTILES, axis=1).T
    detail = np.stack(
        [np.abs(np.diff(planes, axis=1)).mean(axis=(1, 2)), np.abs(np.diff(planes, axis=2)).mean(axis=(1, 2))], axis=1
    )
    return np.concatenate([thumbs, levels, detail], axis=1).astype(np.float64)


@dataclass(frozen=True)
class GaussianDistance:
    """Mahalanobis distance to a Gaussian, with a refusal threshold.

    Attributes:
        mean: mean vector ``(d,)``.
        precision: inverse of the shrunk covariance ``(d, d)``.
        threshold: distances above it are out of distribution.
    """

    mean: NDArray[np.float64]
    precision: NDArray[np.float64]
    threshold: float

    @classmethod
    def fit(cls, samples: NDArray[np.float64], quantile: float, folds: int = 2) -> GaussianDistance:
        """Fit on ``samples`` ``(n, d)``, with a threshold that holds for unseen samples.

        A point's distance to a Gaussian fitted on it is smaller than an unseen point's,
        the more so the fewer samples per dimension; a threshold taken on the fitting
        samples would refuse too many new inputs. So the threshold is cross-fitted. With
        two folds (the default): fit on one half, take the ``quantile`` of the other half's
        distances, swap, average. With more folds: fit on all but one fold, pool every
        held-out fold's distances, take their ``quantile``.

        The mean and covariance kept are then fitted on all samples, which a half-sized
        fit resembles only when samples are many per dimension: with a few hundred
        training images, a point held out of a half-sized fit lies about three times
        farther than a new image from the whole-set fit, and the threshold then lets
        ultrasound through a chest X-ray model (measured for ``cxr-tuberculosis``,
        docs/models.md). More folds fit on nearly all samples and remove most of that gap.
        """
        return cls.fit_with_held_out(samples, quantile, folds)[0]

    @classmethod
    def fit_with_held_out(
        cls, samples: NDArray[np.float64], quantile: float, folds: int = 2
    ) -> tuple[GaussianDistance, list[NDArray[np.float64]]]:
        """:meth:`fit`, and the held-out distances its threshold was taken from (one array per fold)."""
        samples = np.asarray(samples, dtype=np.float64)
        held_out = cls._held_out_distances(samples, folds)
        whole = cls._fit_moments(samples)
        threshold = cross_fitted_quantile(held_out, quantile, folds)
        return cls(mean=whole.mean, precision=whole.precision, threshold=threshold), held_out

    @classmethod
    def _held_out_distances(cls, samples: NDArray[np.float64], folds: int) -> list[NDArray[np.float64]]:
        """Each fold's distances to a Gaussian fitted on the other folds (two folds: the halves)."""
        if folds < 2:
            raise ValueError(f"folds must be at least 2, got {folds}")
        if folds == 2:
            half = len(samples) // 2
            first, second = samples[:half], samples[half:]
            return [cls._fit_moments(first).distance(second), cls._fit_moments(second).distance(first)]
        parts = np.array_split(np.arange(len(samples)), folds)
        return [
            cls._fit_moments(np.delete(samples, part, axis=0)).distance(samples[part]) for part in parts if part.size
        ]

    @classmethod
    def _fit_moments(cls, samples: NDArray[np.float64]) -> GaussianDistance:
        mean = samples.mean(axis=0)
        centred = samples - mean
        n, d = centred.shape
        cov = centred.T @ centred / n
        # Ledoit-Wolf (2004) shrinkage towards a scaled identity: the weight that
        # minimises the expected squared error of the covariance, from the data alone.
        mu = float(np.trace(cov)) / d
        delta = float(np.sum((cov - mu * np.eye(d)) ** 2)) / d
        beta = (float(np.sum(np.sum(centred**2, axis=1) ** 2)) / n - float(np.sum(cov**2))) / (n * d)
        shrinkage = min(1.0, max(0.0, beta / delta)) if delta > 0 else 1.0
        shrunk = (1 - shrinkage) * cov + shrinkage * mu * np.eye(d)
        precision = np.linalg.pinv(shrunk, hermitian=True)
        return cls(mean=mean, precision=precision, threshold=float("inf"))

    def distance(self, samples: NDArray[np.float64]) -> NDArray[np.float64]:
        """Mahalanobis distance of each row of ``samples``."""
        centred = np.asarray(samples, dtype=np.float64) - self.mean
        squared = np.einsum("ij,jk,ik->i", centred, self.precision, centred)
        return np.asarray(np.sqrt(np.maximum(squared, 0.0)), dtype=np.float64)


def cross_fitted_quantile(held_out: list[NDArray[np.float64]], quantile: float, folds: int) -> float:
    """A threshold from held-out distances (:meth:`GaussianDistance.fit_with_held_out`): with two folds the mean
    of the halves' quantiles, with more the quantile of every held-out distance pooled."""
    if folds == 2:
        return float(np.mean([np.quantile(part, quantile) for part in held_out]))
    return float(np.quantile(np.concatenate(held_out), quantile))


@dataclass(frozen=True)
class MemberDistances:
    """One Gaussian per block of features (an ensemble's members'); an input's score is its
    largest distance-to-threshold ratio, so any member that does not recognise it refuses it.

    Each member's threshold is first its own cross-fitted quantile; all are then scaled by
    one factor, the same quantile of the held-out samples' largest ratio, so that the
    union refuses the share of unseen training inputs that one threshold would
    (``1 - quantile``), not up to ``members`` times that. One block is exactly
    :class:`GaussianDistance`.

    Attributes:
        members: the Gaussians, in the order of the feature blocks.
    """

    members: tuple[GaussianDistance, ...]

    @classmethod
    def fit(cls, features: NDArray[np.float64], quantile: float, folds: int = 2, blocks: int = 1) -> MemberDistances:
        """Fit on ``features`` ``(n, blocks * d)``, split into ``blocks`` equal blocks."""
        features = np.asarray(features, dtype=np.float64)
        if blocks < 1 or features.shape[1] % blocks:
            raise ValueError(f"{features.shape[1]} features do not split into {blocks} equal blocks")
        if blocks == 1:
            return cls((GaussianDistance.fit(features, quantile, folds),))
        fitted, held_out = [], []
        for block in np.split(features, blocks, axis=1):
            gauss, distances = GaussianDistance.fit_with_held_out(block, quantile, folds)
            fitted.append(gauss)
            held_out.append(distances)
        ratios = [
            np.max([parts[fold] / gauss.threshold for parts, gauss in zip(held_out, fitted, strict=True)], axis=0)
            for fold in range(len(held_out[0]))
        ]
        scale = cross_fitted_quantile(ratios, quantile, folds)
        return cls(tuple(GaussianDistance(g.mean, g.precision, g.threshold * scale) for g in fitted))

    def ratio(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each row's largest distance-to-threshold ratio over the members (> 1 refuses)."""
        blocks = np.split(np.asarray(features, dtype=np.float64), len(self.members), axis=1)
        ratios = [gauss.distance(block) / gauss.threshold for gauss, block in zip(self.members, blocks, strict=True)]
        return np.asarray(np.max(ratios, axis=0), dtype=np.float64)

    @property
    def thresholds(self) -> list[float]:
        """Each member's threshold."""
        return [gauss.threshold for gauss in self.members]


@dataclass(frozen=True)
class OodDetector:
    """The two distances of the module docstring, and what to tell a user.

    Attributes:
        pixels: distance on :func:`pixel_statistics`.
        features: distances on the model's features, one per ensemble member.
        quantile: training quantile the thresholds were set at.
        description: what the model is for ("a frontal chest X-ray"), for reasons.
    """

    pixels: GaussianDistance
    features: MemberDistances
    quantile: float
    description: str

    @classmethod
    def fit(
        cls,
        inputs: NDArray[np.float32],
        features: NDArray[np.float32],
        *,
        quantile: float,
        description: str,
        folds: int = 2,
        members: int = 1,
    ) -> OodDetector:
        """Fit both distances on training inputs and their features (``folds``: see
        :meth:`GaussianDistance.fit`; ``members``: the ensemble's, whose features lie side by side)."""
        return cls(
            pixels=GaussianDistance.fit(pixel_statistics(inputs), quantile, folds),
            features=MemberDistances.fit(np.asarray(features, dtype=np.float64), quantile, folds, members),
            quantile=quantile,
            description=description,
        )

    def scores(self, inputs: NDArray[np.float32], features: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(n, 2)``: each input's pixel and feature distance divided by its threshold (> 1 refuses)."""
        pixel = self.pixels.distance(pixel_statistics(inputs)) / self.pixels.threshold
        feature = self.features.ratio(np.asarray(features, dtype=np.float64))
        return np.stack([pixel, feature], axis=1)

    def refusals(self, inputs: NDArray[np.float32], features: NDArray[np.float32]) -> list[Refusal | None]:
        """A refusal for each input that either distance puts outside the training data."""
        out: list[Refusal | None] = []
        for pixel, feature in self.scores(inputs, features):
            if pixel > 1.0:
                out.append(
                    Refusal(
                        "pixel_statistics", f"the image does not look like {self.description} ({pixel:.1f}x the limit)"
                    )
                )
            elif feature > 1.0:
                out.append(
                    Refusal(
                        "features", f"the model does not recognise {self.description} here ({feature:.1f}x the limit)"
                    )
                )
            else:
                out.append(None)
        return out

    def save(self, path: Path) -> None:
        """Write the statistics to an ``.npz`` (deterministic bytes for the same values).

        One network's feature Gaussian is stored as it always was (1-D mean, scalar
        threshold); an ensemble's are stacked along a first axis, one row per member.
        """
        members = self.features.members
        if len(members) == 1:
            feature_arrays = {
                "features_mean": members[0].mean,
                "features_precision": members[0].precision,
                "features_threshold": np.float64(members[0].threshold),
            }
        else:
            feature_arrays = {
                "features_mean": np.stack([g.mean for g in members]),
                "features_precision": np.stack([g.precision for g in members]),
                "features_threshold": np.array([g.threshold for g in members], dtype=np.float64),
            }
        arrays = {
            "pixels_mean": self.pixels.mean,
            "pixels_precision": self.pixels.precision,
            "pixels_threshold": np.float64(self.pixels.threshold),
            **feature_arrays,
            "quantile": np.float64(self.quantile),
        }
        with path.open("wb") as stream:
            np.savez(stream, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path, description: str) -> OodDetector:
        """Read what :meth:`save` wrote."""
        with np.load(path, allow_pickle=False) as data:
            means, precisions = data["features_mean"], data["features_precision"]
            thresholds = np.atleast_1d(data["features_threshold"])
            if means.ndim == 1:
                means, precisions = means[None], precisions[None]
            return cls(
                pixels=GaussianDistance(data["pixels_mean"], data["pixels_precision"], float(data["pixels_threshold"])),
                features=MemberDistances(
                    tuple(
                        GaussianDistance(mean, precision, float(threshold))
                        for mean, precision, threshold in zip(means, precisions, thresholds, strict=True)
                    )
                ),
                quantile=float(data["quantile"]),
                description=description,
            )
