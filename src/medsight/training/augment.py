"""Training-time augmentation with MONAI transforms, on inputs already in ``[0, 1]``.

Chosen for radiographs: small rotations, scaling and shifts (patient positioning), gamma
changes (exposure and processing differ between machines), mild blur and noise. No
horizontal flip by default: the heart is on the left, and a mirrored film is not a normal
film. Left-right mirroring can be asked for (``mirror``) where images carry no side; on
breast ultrasound it was measured and did not help (docs/models.md, us-breast).
"""

from __future__ import annotations

import numpy as np
import torch
from monai.transforms.compose import Compose
from monai.transforms.intensity.array import RandAdjustContrast, RandGaussianNoise, RandGaussianSmooth
from monai.transforms.spatial.array import RandAffine, RandFlip
from numpy.typing import NDArray

__all__ = ["Augmenter"]


class Augmenter:
    """Random augmentation of a batch ``(n, 1, S, S)``, reproducible for a seed."""

    def __init__(self, size: int, seed: int, *, mirror: bool = False) -> None:
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

    def __call__(self, batch: NDArray[np.float32]) -> torch.Tensor:
        """An augmented copy of ``batch`` as a float32 tensor, clipped to ``[0, 1]``."""
        out = torch.stack([torch.as_tensor(self.transform(torch.from_numpy(x))) for x in batch])
        return out.float().clamp_(0.0, 1.0)
