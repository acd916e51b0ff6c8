"""Four synthetic image kinds that a small gate tells apart in a few steps (32 px planes)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tests.data.synthetic_cxr import chest_like
from tests.data.synthetic_hc18 import head_frame

SIZE = 32


def kind_planes(kind: int, n: int, seed: int = 0) -> NDArray[np.float32]:
    """``(n, 1, 32, 32)`` unit planes of kind 0 (chest), 1 (stripes), 2 (head ring), 3 (checkerboard).

    The indices follow ``list(ImageKind)``: chest X-ray, breast ultrasound, fetal
    ultrasound, brain MRI (only the chest and the ring look anything like their kind).
    """
    rng = np.random.default_rng(seed + 101 * kind)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    planes = []
    for _ in range(n):
        if kind == 0:
            plane = chest_like(SIZE, bool(rng.random() < 0.5), rng) / 255.0
        elif kind == 1:
            plane = 0.5 + 0.4 * np.sin(xx / rng.uniform(1.0, 2.0))
        elif kind == 2:
            plane = head_frame(rng, (SIZE, SIZE))[0] / 255.0
        else:
            tile = int(rng.integers(3, 6))
            plane = ((yy // tile + xx // tile) % 2) * 0.8 + 0.1
        planes.append(np.clip(plane + 0.02 * rng.standard_normal((SIZE, SIZE)), 0, 1))
    return np.stack(planes)[:, np.newaxis].astype(np.float32)
