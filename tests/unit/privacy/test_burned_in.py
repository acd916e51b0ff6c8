"""Burned-in text: which images are flagged, and how well text blocks are found (measured).

Text detection is measured on rendered text (Pillow's bitmap font, light on dark and
dark on light, on speckle and on smooth backgrounds): at least 99% of the text's pixels
must be masked, and a text-free image (B-mode-like speckle, a smooth ramp, a flat bar)
must keep at least 90% of its pixels.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from medsight.privacy.burned_in import PixelFacts, burned_in_reason, clean_mask, outside_regions, text_mask

US = "1.2.840.10008.5.1.4.1.1.6.1"
SC = "1.2.840.10008.5.1.4.1.1.7"
CT = "1.2.840.10008.5.1.4.1.1.2"


@pytest.mark.parametrize(
    ("facts", "flagged"),
    [
        (PixelFacts("CT", CT, "YES"), True),
        (PixelFacts("CT", CT, None), False),
        (PixelFacts("US", US, None), True),
        (PixelFacts("OT", US, None), True),
        (PixelFacts("US", US, "NO"), False),
        (PixelFacts("OT", SC, None), True),
        (PixelFacts("OT", SC + ".4", None), True),  # multi-frame true colour SC
        (PixelFacts("US", US, "YES", has_pixels=False), False),
    ],
)
def test_flagging(facts: PixelFacts, flagged: bool) -> None:
    assert (burned_in_reason(facts) is not None) is flagged


def _background(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "speckle":  # B-mode-like: grains of about 3 pixels (a 3 x 3 mean of gamma noise)
        noise = rng.gamma(2.0, 20.0, (size + 2, size + 2))
        grains = sum(noise[dy : dy + size, dx : dx + size] for dy in range(3) for dx in range(3)) / 9
        return (2 * grains).clip(0, 180).astype(np.uint8)
    if kind == "smooth":
        ramp = np.linspace(0, 120, size, dtype=np.float32)
        return (ramp[None, :] + ramp[:, None] / 2).astype(np.uint8)
    return np.full((size, size), 220, np.uint8)  # light bar, dark text


def _render(background: np.ndarray, text: str, at: tuple[int, int], fill: int) -> tuple[np.ndarray, np.ndarray]:
    picture = Image.fromarray(background)
    ImageDraw.Draw(picture).text(at, text, fill=fill)
    drawn = np.asarray(picture)
    return drawn, drawn != background


@pytest.mark.parametrize(("kind", "fill"), [("speckle", 255), ("smooth", 250), ("light", 20), ("speckle", 200)])
def test_text_recall(kind: str, fill: int) -> None:
    rng = np.random.default_rng(1)
    recalls = []
    for trial in range(20):
        at = (int(rng.integers(0, 150)), int(rng.integers(0, 230)))
        image, truth = _render(_background(kind, 256, rng), f"DOE^JANE {trial:03d} 12/03/1951", at, fill)
        mask = text_mask(image)
        recalls.append(mask[truth].mean())
    assert min(recalls) >= 0.99, recalls


def test_text_free_images_keep_most_pixels() -> None:
    rng = np.random.default_rng(2)
    for kind in ("speckle", "smooth", "light"):
        masked = text_mask(_background(kind, 256, rng)).mean()
        assert masked <= 0.10, (kind, masked)


def test_pixel_noise_errs_on_masking() -> None:
    # Independent noise at full contrast looks like strokes everywhere: masked, never missed.
    noise = np.random.default_rng(3).integers(0, 256, (64, 64), dtype=np.uint8)
    assert text_mask(noise).mean() > 0.9


def test_flat_image_has_no_text() -> None:
    assert not text_mask(np.zeros((32, 32), np.uint16)).any()


def test_outside_regions_and_clean_mask() -> None:
    mask = outside_regions((10, 20), ((2, 3, 17, 8),))
    assert mask[0].all()
    assert mask[:, 0].all()
    assert not mask[3:9, 2:18].any()
    assert mask[9].all()
    frames = np.zeros((3, 10, 20, 3), np.uint8)
    combined = clean_mask(frames, PixelFacts("US", US, None, ((2, 3, 17, 8),)))
    assert (combined == mask).all()
