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
  look plausible at 16 px but that the network represents unlike any chest X-ray.

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

__all__ = ["GaussianDistance", "OodDetector", "pixel_statistics"]

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
        samples = np.asarray(samples, dtype=np.float64)
        if folds < 2:
            raise ValueError(f"folds must be at least 2, got {folds}")
        whole = cls._fit_moments(samples)
        if folds == 2:
            half = len(samples) // 2
            first, second = samples[:half], samples[half:]
            pairs = ((first, second), (second, first))
            threshold = float(np.mean([np.quantile(cls._fit_moments(a).distance(b), quantile) for a, b in pairs]))
            return cls(mean=whole.mean, precision=whole.precision, threshold=threshold)
        parts = np.array_split(np.arange(len(samples)), folds)
        held_out = [
            cls._fit_moments(np.delete(samples, part, axis=0)).distance(samples[part]) for part in parts if part.size
        ]
        threshold = float(np.quantile(np.concatenate(held_out), quantile))
        return cls(mean=whole.mean, precision=whole.precision, threshold=threshold)

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


@dataclass(frozen=True)
class OodDetector:
    """The two distances of the module docstring, and what to tell a user.

    Attributes:
        pixels: distance on :func:`pixel_statistics`.
        features: distance on the model's features.
        quantile: training quantile the thresholds were set at.
        description: what the model is for ("a frontal chest X-ray"), for reasons.
    """

    pixels: GaussianDistance
    features: GaussianDistance
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
    ) -> OodDetector:
        """Fit both distances on training inputs and their features (``folds``: see :meth:`GaussianDistance.fit`)."""
        return cls(
            pixels=GaussianDistance.fit(pixel_statistics(inputs), quantile, folds),
            features=GaussianDistance.fit(np.asarray(features, dtype=np.float64), quantile, folds),
            quantile=quantile,
            description=description,
        )

    def scores(self, inputs: NDArray[np.float32], features: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(n, 2)``: each input's pixel and feature distance divided by its threshold (> 1 refuses)."""
        pixel = self.pixels.distance(pixel_statistics(inputs)) / self.pixels.threshold
        feature = self.features.distance(np.asarray(features, dtype=np.float64)) / self.features.threshold
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
        """Write the statistics to an ``.npz`` (deterministic bytes for the same values)."""
        arrays = {
            "pixels_mean": self.pixels.mean,
            "pixels_precision": self.pixels.precision,
            "pixels_threshold": np.float64(self.pixels.threshold),
            "features_mean": self.features.mean,
            "features_precision": self.features.precision,
            "features_threshold": np.float64(self.features.threshold),
            "quantile": np.float64(self.quantile),
        }
        with path.open("wb") as stream:
            np.savez(stream, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path, description: str) -> OodDetector:
        """Read what :meth:`save` wrote."""
        with np.load(path, allow_pickle=False) as data:
            return cls(
                pixels=GaussianDistance(data["pixels_mean"], data["pixels_precision"], float(data["pixels_threshold"])),
                features=GaussianDistance(
                    data["features_mean"], data["features_precision"], float(data["features_threshold"])
                ),
                quantile=float(data["quantile"]),
                description=description,
            )
