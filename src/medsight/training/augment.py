"""Training-time augmentation with MONAI transforms, on inputs already in ``[0, 1]``.

Chosen for radiographs: small rotations, scaling and shifts (patient positioning), gamma
changes (exposure and processing differ between machines), mild blur and noise. No
horizontal flip by default: the heart is on the left, and a mirrored film is not a normal
film. Left-right mirroring can be asked for (``mirror``) where images carry no side; on
breast ultrasound it was measured and did not help (docs/models.md, us-breast).

The per-image blur (0.25-0.8 px) is the same whatever the input size, which at 224 px is
no blur at all; the saliency audit found that both pneumonia models read a blurred film
as pneumonia (docs/models.md, "Saliency audit"). ``blur_max`` adds, after the rest, a
Gaussian blur of sigma ~ U(0, blur_max) px on ``blur_prob`` of each batch's images, from
its own seeded generator (so that the other transforms draw as before), as a batch step
with separable torch convolutions (MONAI's per-image smoothing at sigma 4 on 224 px
images tripled the epoch time: measured).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own convention)
from monai.transforms.compose import Compose
from monai.transforms.intensity.array import RandAdjustContrast, RandGaussianNoise, RandGaussianSmooth
from monai.transforms.spatial.array import RandAffine, RandFlip
from numpy.typing import NDArray

__all__ = ["Augmenter", "gaussian_blur"]


class Augmenter:
    """Random augmentation of a batch ``(n, 1, S, S)``, reproducible for a seed."""

    def __init__(
        self, size: int, seed: int, *, mirror: bool = False, blur_max: float = 0.0, blur_prob: float = 0.3
    ) -> None:
        # Without mirroring the list is exactly the one the shipped models were trained with
        # (Compose seeds each transform in turn, so an added one would move the others' draws).
        mirroring = [RandFlip(prob=0.5, spatial_axis=1)] if mirror else []
        self.transform = Compose(
            [
                *mirroring,
                RandAffine(
                    prob=0.8,
                    rotate_range=(np.deg2rad(10),),
                    scale_range=(0.1, 0.1),
                    translate_range=(0.06 * size, 0.06 * size),
                    padding_mode="border",
                ),
                RandAdjustContrast(prob=0.5, gamma=(0.7, 1.4)),
                RandGaussianSmooth(prob=0.15, sigma_x=(0.25, 0.8), sigma_y=(0.25, 0.8)),
                RandGaussianNoise(prob=0.2, std=0.02),
            ]
        ).set_random_state(seed=seed)
        self.blur_max = blur_max
        self.blur_prob = blur_prob
        self._blur_rng = np.random.default_rng(seed + _BLUR_SEED_OFFSET)

    def __call__(self, batch: NDArray[np.float32]) -> torch.Tensor:
        """An augmented copy of ``batch`` as a float32 tensor, clipped to ``[0, 1]``."""
        out = torch.stack([torch.as_tensor(self.transform(torch.from_numpy(x))) for x in batch])
        out = out.float().clamp_(0.0, 1.0)
        if self.blur_max > 0:  # a blur of values in [0, 1] stays in [0, 1]
            for i in np.flatnonzero(self._blur_rng.random(len(out)) < self.blur_prob):
                sigma = float(self._blur_rng.uniform(0.0, self.blur_max))
                if sigma >= _SMALLEST_SIGMA:
                    out[i : i + 1] = gaussian_blur(out[i : i + 1], sigma)
        return out


# The blur's generator is seeded apart from MONAI's, so that turning it on leaves the
# other transforms' draws as they were.
_BLUR_SEED_OFFSET = 7919
# Below this a blur moves a pixel by well under 1% of its neighbours' difference; skipped.
_SMALLEST_SIGMA = 0.3


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """``images`` ``(n, 1, H, W)`` blurred by a Gaussian of ``sigma`` px (separable, reflected edges)."""
    radius = max(1, round(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    rows = F.conv2d(F.pad(images, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(rows, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
