"""medsight's own PNG encoder: what Pillow (libpng's rules) reads back is exactly what went in."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from medsight.errors import UsageError
from medsight.io import png as png_module
from medsight.io.png import encode_png


@pytest.mark.parametrize(
    ("shape", "mode"),
    [
        ((37, 53), "L"),
        ((37, 53, 3), "RGB"),
        ((37, 53, 4), "RGBA"),
        ((1, 1), "L"),
        ((1, 9, 3), "RGB"),
        ((9, 1, 4), "RGBA"),
    ],
)
@pytest.mark.parametrize("level", [0, 1, 9])
def test_pillow_reads_back_every_pixel(shape: tuple[int, ...], mode: str, level: int) -> None:
    # Random values exercise the "Up" filter's wrap-around modulo 256 on every byte.
    pixels = np.random.default_rng(7).integers(0, 256, size=shape, dtype=np.uint8)
    data = encode_png(pixels, level=level)
    with PILImage.open(io.BytesIO(data)) as png:
        png.verify()  # CRCs and chunk order
    with PILImage.open(io.BytesIO(data)) as png:
        assert png.format == "PNG"
        assert png.mode == mode
        np.testing.assert_array_equal(np.asarray(png), pixels)


def test_a_smooth_image_compresses_and_stride_does_not_matter() -> None:
    ramp = np.tile(np.arange(256, dtype=np.uint8), (256, 1))
    view = np.dstack([ramp, ramp.T, ramp[::-1]])[:, ::2]  # non-contiguous input
    data = encode_png(view)
    assert len(data) < view.nbytes / 10
    with PILImage.open(io.BytesIO(data)) as png:
        np.testing.assert_array_equal(np.asarray(png), view)


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((4, 4), dtype=np.uint16),
        np.zeros((4, 4, 2), dtype=np.uint8),
        np.zeros((4,), dtype=np.uint8),
        np.zeros((0, 4), dtype=np.uint8),
        np.zeros((4, 4, 3, 1), dtype=np.uint8),
    ],
)
def test_other_arrays_are_refused(pixels: np.ndarray) -> None:
    with pytest.raises(UsageError, match="uint8"):
        encode_png(pixels)


@pytest.mark.parametrize("level", [-1, 10])
def test_levels_outside_zlib_are_refused(level: int) -> None:
    with pytest.raises(UsageError, match="zlib level"):
        encode_png(np.zeros((2, 2), dtype=np.uint8), level=level)


@pytest.mark.parametrize("cores", [1, 2, 3, 4])
@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_a_large_image_deflated_in_parts_is_one_valid_stream(
    monkeypatch: pytest.MonkeyPatch, cores: int, level: int
) -> None:
    # 1.2 MB of scanlines: enough for four parts. Noise over a ramp, so the parts' matches
    # reach back across the cuts, which the primed history must allow.
    ramp = np.tile(np.arange(640, dtype=np.uint16) // 3, (640, 1)).astype(np.uint8)
    noise = np.random.default_rng(1).integers(0, 4, size=(640, 640), dtype=np.uint8)
    pixels = np.dstack([ramp + noise, ramp.T, ramp[::-1] + noise])
    monkeypatch.setattr(png_module, "cores", lambda: cores)
    data = encode_png(pixels, level=level)
    with PILImage.open(io.BytesIO(data)) as png:
        png.verify()
    with PILImage.open(io.BytesIO(data)) as png:
        np.testing.assert_array_equal(np.asarray(png), pixels)
    monkeypatch.setattr(png_module, "cores", lambda: 1)
    one_stream = encode_png(pixels, level=level)
    if cores == 1:
        assert data == one_stream
    else:  # each part ends with a few bytes of sync flush; nothing else is lost
        assert len(data) <= len(one_stream) * 1.01 + 64
