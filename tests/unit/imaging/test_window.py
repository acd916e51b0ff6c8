"""Window/level, VOI LUT and display rendering (PS3.3 C.11.2)."""

from __future__ import annotations

import numpy as np
import pytest

from medsight.errors import UsageError
from medsight.imaging.geometry import Geometry
from medsight.imaging.image import Image, ImageMeta, Layout
from medsight.imaging.voi import VoiLut
from medsight.imaging.window import (
    AUTO,
    WindowPreset,
    apply_voi_lut,
    apply_window,
    auto_window,
    display_array,
    display_plane,
    plane_index,
    preset_names,
    presets_for,
    resolve_preset,
    select_plane,
)
from medsight.types import Modality


def _reference_window(x: float, c: float, w: float) -> float:
    """PS3.3 C.11.2.1.2.1 written out literally, with ymin = 0 and ymax = 1."""
    if x <= c - 0.5 - (w - 1) / 2:
        return 0.0
    if x > c - 0.5 + (w - 1) / 2:
        return 1.0
    return ((x - (c - 0.5)) / (w - 1) + 0.5) * (1 - 0) + 0


@pytest.mark.parametrize(
    ("x", "center", "width", "expected"),
    [
        (-160.0, 40.0, 400.0, 0.0),  # exactly at the lower edge: ymin
        (239.0, 40.0, 400.0, 1.0),  # exactly at the upper edge: the ramp ends at 1
        (39.5, 40.0, 400.0, 0.5),  # c - 0.5 is the midpoint
        (-600.0, -600.0, 1500.0, 0.5 + 0.5 / 1499),
        (1000.0, 40.0, 80.0, 1.0),
        (-1000.0, 40.0, 80.0, 0.0),
    ],
)
def test_apply_window_follows_the_standard_at_chosen_points(
    x: float, center: float, width: float, expected: float
) -> None:
    out = apply_window(np.array([x], dtype=np.float32), center, width)
    assert out.dtype == np.float32
    assert out[0] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("center", "width"), [(40.0, 400.0), (-600.0, 1500.0), (0.5, 2.0)])
def test_apply_window_matches_literal_formula_everywhere(center: float, width: float) -> None:
    x = np.random.default_rng(1).uniform(center - width, center + width, 2000).astype(np.float32)
    expected = np.array([_reference_window(float(v), center, width) for v in x])
    np.testing.assert_allclose(apply_window(x, center, width), expected, atol=1e-5)


def test_width_one_is_a_step_at_center_minus_half() -> None:
    out = apply_window(np.array([9.4, 9.5, 9.6, 10.0], dtype=np.float32), 10.0, 1.0)
    np.testing.assert_array_equal(out, [0.0, 0.0, 1.0, 1.0])


def test_non_finite_pixels_map_to_the_ends() -> None:
    out = apply_window(np.array([np.nan, np.inf, -np.inf], dtype=np.float32), 0.0, 100.0)
    np.testing.assert_array_equal(out, [0.0, 1.0, 0.0])


@pytest.mark.parametrize(("center", "width"), [(0.0, 0.5), (0.0, 0.0), (0.0, -10.0), (np.nan, 10.0)])
def test_invalid_window_is_refused(center: float, width: float) -> None:
    with pytest.raises(UsageError, match="width"):
        apply_window(np.zeros(3, dtype=np.float32), center, width)


def test_voi_lut_clamps_rounds_and_scales_by_bits() -> None:
    lut = VoiLut(first_mapped=-2, table=np.array([0, 100, 200, 4095], dtype=np.float32), bits=12)
    pixels = np.array([-50.0, -2.0, -1.4, -0.4, 1.0, 900.0, np.nan], dtype=np.float32)
    out = apply_voi_lut(pixels, lut)
    expected = np.array([0, 0, 100, 200, 4095, 4095, 0], dtype=np.float32) / 4095.0
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_voi_lut_with_too_few_declared_bits_uses_the_table_maximum() -> None:
    lut = VoiLut(first_mapped=0, table=np.array([0, 300, 600], dtype=np.float32), bits=8)
    out = apply_voi_lut(np.array([0.0, 1.0, 2.0], dtype=np.float32), lut)
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0])


def test_auto_window_spans_the_percentiles() -> None:
    pixels = np.arange(10_001, dtype=np.float32)  # percentiles are exact: 100 and 9900
    window = auto_window(pixels)
    assert window.name == AUTO
    out = apply_window(np.array([100.0, 5000.0, 9900.0], dtype=np.float32), window.center, window.width)
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0], atol=1e-6)


def test_auto_window_of_a_sparse_mask_uses_the_full_range() -> None:
    mask = np.zeros((100, 100), dtype=np.float32)
    mask[:5, :5] = 1.0  # 0.25 % ones: both percentiles are 0
    window = auto_window(mask)
    np.testing.assert_array_equal(apply_window(np.array([0.0, 1.0], np.float32), window.center, window.width), [0, 1])


def test_auto_window_ignores_non_finite_and_survives_constant_images() -> None:
    pixels = np.array([np.nan, np.inf, 5.0, 5.0], dtype=np.float32)
    window = auto_window(pixels)
    assert window.width == 1.0
    assert auto_window(np.full(3, np.nan, dtype=np.float32)).width == 1.0


def test_ct_presets_have_the_documented_values() -> None:
    presets = {p.name: (p.center, p.width) for p in presets_for(Modality.CT)}
    assert presets["lung"] == (-600.0, 1500.0)
    assert presets["mediastinum"] == presets["soft_tissue"] == (40.0, 400.0)
    assert presets["bone"] == (400.0, 1800.0)
    assert presets["brain"] == (40.0, 80.0)
    assert presets["liver"] == (60.0, 160.0)


@pytest.mark.parametrize("modality", ["MR", "CR", "DX", "US", Modality.MG])
def test_projection_and_mr_modalities_offer_auto_only(modality: str) -> None:
    assert presets_for(modality) == ()
    assert preset_names(modality) == (AUTO,)


def test_unknown_modality_offers_every_fixed_preset() -> None:
    assert presets_for("OT") == presets_for("CT")
    assert presets_for("whatever") == presets_for("CT")


@pytest.mark.parametrize("name", ["lung", " LUNG ", "Soft-Tissue"])
def test_resolve_preset_forgives_case_and_hyphens(name: str) -> None:
    preset = resolve_preset(name, np.zeros(1, np.float32), "CT")
    assert isinstance(preset, WindowPreset)
    assert preset.name in {"lung", "soft_tissue"}


def test_unknown_preset_lists_the_valid_ones() -> None:
    with pytest.raises(UsageError, match=r"auto, lung, mediastinum") as info:
        resolve_preset("lungs", np.zeros(1, np.float32), "CT")
    assert info.value.code == "usage.invalid"
    with pytest.raises(UsageError, match=r"choose one of: auto$"):
        resolve_preset("lung", np.zeros(1, np.float32), "MR")


def _ct(pixels: np.ndarray, **meta: object) -> Image:
    return Image(pixels.astype(np.float32), meta=ImageMeta(modality=Modality.CT, **meta))  # type: ignore[arg-type]


def test_display_prefers_explicit_preset_then_voi_lut_then_window_then_auto() -> None:
    pixels = np.linspace(-1000, 1000, 64, dtype=np.float32).reshape(8, 8)
    lut = VoiLut(first_mapped=-1000, table=np.linspace(0, 255, 2001, dtype=np.float32), bits=8)
    lung = np.rint(apply_window(pixels, -600, 1500) * 255).astype(np.uint8)
    via_lut = np.rint(apply_voi_lut(pixels, lut) * 255).astype(np.uint8)
    via_window = np.rint(apply_window(pixels, 40, 400) * 255).astype(np.uint8)
    auto = auto_window(pixels)
    via_auto = np.rint(apply_window(pixels, auto.center, auto.width) * 255).astype(np.uint8)

    np.testing.assert_array_equal(display_array(_ct(pixels, voi_lut=lut, window=(40, 400)), "lung"), lung)
    np.testing.assert_array_equal(display_array(_ct(pixels, voi_lut=lut, window=(40, 400))), via_lut)
    np.testing.assert_array_equal(display_array(_ct(pixels, window=(40.0, 400.0))), via_window)
    np.testing.assert_array_equal(display_array(_ct(pixels)), via_auto)
    np.testing.assert_array_equal(display_array(_ct(pixels, window=(40.0, 0.0))), via_auto)
    np.testing.assert_array_equal(display_array(_ct(pixels, window=(40.0, 400.0)), "auto"), via_auto)


def test_display_of_rgb_clips_and_rounds() -> None:
    pixels = np.array([[[-5.0, 12.4, 12.6], [255.0, 300.0, np.nan]]], dtype=np.float32)
    out = display_array(Image(pixels))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[[0, 12, 13], [255, 255, 0]]])
    with pytest.raises(UsageError):
        display_array(Image(pixels), "nonsense")


def test_display_of_a_volume_keeps_its_shape() -> None:
    volume = Image(np.zeros((3, 4, 5), np.float32), layout=Layout.VOLUME)
    assert display_array(volume).shape == (3, 4, 5)


def test_select_plane_takes_middle_slice_and_moves_origin() -> None:
    pixels = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    geometry = Geometry(spacing=(2.5, 1.0, 1.0), origin=(10.0, 20.0, 30.0))
    volume = Image(pixels, layout=Layout.VOLUME, geometry=geometry)
    plane = select_plane(volume)
    assert plane.layout is Layout.IMAGE
    np.testing.assert_array_equal(plane.pixels, pixels[2])
    assert plane.geometry.origin == pytest.approx((10.0, 20.0, 35.0))  # 2 slices along +z
    np.testing.assert_array_equal(select_plane(volume, 4).pixels, pixels[4])


def test_cine_plane_is_the_first_frame_and_drops_frame_times() -> None:
    pixels = np.arange(4 * 2 * 2, dtype=np.float32).reshape(4, 2, 2)
    cine = Image(pixels, layout=Layout.CINE, meta=ImageMeta(frame_times_ms=(0.0, 40.0, 80.0, 120.0)))
    plane = select_plane(cine)
    np.testing.assert_array_equal(plane.pixels, pixels[0])
    assert plane.meta.frame_times_ms == ()
    assert plane_index(cine) == 0


@pytest.mark.parametrize("index", [-1, 5, 100])
def test_plane_index_out_of_range_is_a_usage_error(index: int) -> None:
    volume = Image(np.zeros((5, 2, 2), np.float32), layout=Layout.VOLUME)
    with pytest.raises(UsageError, match="out of range"):
        display_plane(volume, index=index)


def test_plane_of_a_2d_image_is_itself() -> None:
    image = Image(np.zeros((2, 2), np.float32))
    assert select_plane(image) is image
    with pytest.raises(UsageError):
        select_plane(image, 1)
