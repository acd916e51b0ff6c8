"""Heatmap overlay: shapes, the blend rule, the resize and the colormaps against references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from medsight.errors import UsageError
from medsight.imaging import heat_rgba, heatmap_overlay
from medsight.imaging.overlay import COLORMAPS, colormap_lut, resize_bilinear, resize_bilinear_window


def _grey(shape: tuple[int, ...] = (64, 48)) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


def test_shapes_and_dtype() -> None:
    heat = np.random.default_rng(1).random((7, 7))
    for base in (_grey(), _grey((64, 48, 3))):
        out = heatmap_overlay(base, heat)
        assert out.shape == (64, 48, 3)
        assert out.dtype == np.uint8


def test_alpha_zero_returns_the_base() -> None:
    heat = np.random.default_rng(1).random((5, 9)).astype(np.float32)
    grey = _grey()
    assert np.array_equal(heatmap_overlay(grey, heat, alpha=0.0), np.repeat(grey[:, :, None], 3, axis=2))
    rgb = _grey((64, 48, 3))
    assert np.array_equal(heatmap_overlay(rgb, heat, alpha=0.0), rgb)


def test_cold_regions_leave_the_image_and_hot_ones_take_the_colour() -> None:
    grey = _grey((4, 4))
    heat = np.zeros((4, 4))
    heat[:2] = 1.0
    out = heatmap_overlay(grey, heat, alpha=1.0, colormap="jet")
    assert np.array_equal(out[2:], np.repeat(grey[2:, :, None], 3, axis=2))
    assert np.all(out[:2] == colormap_lut("jet")[255])


@pytest.mark.parametrize("colormap", COLORMAPS)
def test_blend_matches_the_float_formula(colormap: str) -> None:
    rgb = _grey((32, 32, 3))
    heat = np.random.default_rng(2).random((32, 32))
    level = np.rint(heat * 255).astype(int)
    weight = (0.4 * level / 255)[:, :, None]
    expected = np.rint(rgb * (1 - weight) + colormap_lut(colormap)[level] * weight)
    assert np.array_equal(heatmap_overlay(rgb, heat, alpha=0.4, colormap=colormap), expected)


def test_resize_matches_scipy_with_aligned_pixel_centres() -> None:
    small = np.random.default_rng(3).random((7, 5))
    ours = resize_bilinear(small, (50, 31))
    reference = ndimage.zoom(small, (50 / 7, 31 / 5), order=1, grid_mode=True, mode="nearest")
    assert ours.shape == reference.shape == (50, 31)
    assert np.allclose(ours, reference, atol=1e-5)
    assert ours.flags.c_contiguous


def test_a_batch_of_planes_is_resized_plane_by_plane() -> None:
    planes = np.random.default_rng(4).random((3, 9, 13)).astype(np.float32)
    batch = resize_bilinear(planes, (20, 6))
    assert batch.shape == (3, 20, 6)
    for plane, resized in zip(planes, batch, strict=True):
        np.testing.assert_array_equal(resized, resize_bilinear(plane, (20, 6)))


@pytest.mark.parametrize(
    ("rows", "cols"), [((3, 9), (4, 10)), ((0, 12), (0, 5)), ((14, 15), (0, 15)), ((6, 6), (7, 7))]
)
def test_a_window_of_the_resize_is_the_same_values_and_nothing_outside_reads_the_block(
    rows: tuple[int, int], cols: tuple[int, int]
) -> None:
    small = np.random.default_rng(4).random((16, 16)).astype(np.float32) - np.float32(2.0)  # all below 0
    small[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1] += np.float32(4.0)  # the block: above 0
    full = resize_bilinear(small, (540, 800))
    window, (top, left) = resize_bilinear_window(small, (540, 800), rows, cols)
    inside = np.zeros(full.shape, dtype=bool)
    inside[top : top + window.shape[0], left : left + window.shape[1]] = True
    assert np.array_equal(window, full[inside].reshape(window.shape))  # bit for bit
    assert (full[~inside] < 0).all()  # outside, only pixels from outside the block
    assert (window > 0).any()


def test_colormaps_match_matplotlib() -> None:
    from matplotlib import colormaps  # the reference only; imaging itself never imports it

    grid = np.linspace(0.0, 1.0, 256)
    for name, tolerance in (("inferno", 5), ("jet", 1)):
        reference = np.rint(colormaps[name](grid)[:, :3] * 255)
        lut = colormap_lut(name)
        assert lut.shape == (256, 3)
        assert lut.dtype == np.uint8
        assert np.abs(lut.astype(int) - reference).max() <= tolerance, name


@pytest.mark.parametrize(
    ("base", "heat", "kwargs", "message"),
    [
        (np.zeros((4, 4), np.float32), np.zeros((2, 2)), {}, "uint8"),
        (np.zeros((4, 4, 4), np.uint8), np.zeros((2, 2)), {}, "uint8"),
        (np.zeros((4, 4), np.uint8), np.zeros((2, 2, 1)), {}, "2-D float"),
        (np.zeros((4, 4), np.uint8), np.zeros((2, 2), int), {}, "2-D float"),
        (np.zeros((4, 4), np.uint8), np.full((2, 2), np.nan), {}, "finite"),
        (np.zeros((4, 4), np.uint8), np.full((2, 2), 1.5), {}, r"\[0, 1\]"),
        (np.zeros((4, 4), np.uint8), np.zeros((2, 2)), {"alpha": 1.5}, "alpha"),
        (np.zeros((4, 4), np.uint8), np.zeros((2, 2)), {"colormap": "viridis"}, "unknown colormap"),
    ],
)
def test_invalid_input(base: np.ndarray, heat: np.ndarray, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        heatmap_overlay(base, heat, **kwargs)  # type: ignore[arg-type]


def test_heat_rgba_composited_over_the_base_gives_the_blend() -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, size=(16, 12), dtype=np.uint8)
    heat = rng.random((16, 12), dtype=np.float32)
    rgba = heat_rgba(heat)
    assert rgba.shape == (16, 12, 4)
    assert rgba.dtype == np.uint8
    level = np.rint(heat * 255).astype(np.uint8)
    np.testing.assert_array_equal(rgba[..., 3], level)  # opacity is the heat itself
    np.testing.assert_array_equal(rgba[..., :3], colormap_lut("inferno")[level])
    # Source-over at opacity 0.45 lands within rounding of heatmap_overlay(alpha=0.45).
    a = 0.45 * rgba[..., 3:4] / 255.0
    composite = base[..., None] * (1 - a) + rgba[..., :3] * a
    assert np.abs(composite - heatmap_overlay(base, heat, alpha=0.45)).max() <= 1.0


def test_heat_rgba_refuses_bad_heat() -> None:
    with pytest.raises(UsageError):
        heat_rgba(np.full((4, 4), 2.0, dtype=np.float32))
    with pytest.raises(UsageError):
        heat_rgba(np.zeros((4, 4), dtype=np.float32), alpha=1.5)
