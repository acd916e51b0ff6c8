"""The shared preprocessing: the same input whatever the source's bit depth or size."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from medsight.imaging import Image, ImageMeta, Layout, SourceRef
from medsight.tasks import Crop, Preprocessing, prepare, unit_values
from medsight.tasks.preprocess import resize_area
from medsight.types import Modality


def _raster(pixels: np.ndarray, bits: int = 8) -> Image:
    return Image(pixels=pixels.astype(np.float32), meta=ImageMeta(bits_stored=bits))


def test_resize_area_averages_whole_blocks() -> None:
    plane = np.arange(16, dtype=np.float32).reshape(4, 4)
    out = resize_area(plane, (2, 2))
    np.testing.assert_allclose(out, [[2.5, 4.5], [10.5, 12.5]])


@pytest.mark.parametrize(("fr", "fc"), [(2, 3), (4, 4), (7, 7), (3, 8), (9, 9), (1, 12)])
def test_resize_area_is_the_block_mean_for_every_factor(fr: int, fc: int) -> None:
    # Rows and columns past the last whole block are dropped; short and long column blocks
    # take different summing paths, which must agree with the plain mean.
    out_rows, out_cols = 6, 5
    extra_rows, extra_cols = min(fr, out_rows) - 1, min(fc, out_cols) - 1  # fewer than a block or an output row
    shape = (out_rows * fr + extra_rows, out_cols * fc + extra_cols)
    plane = np.random.default_rng(fr * 16 + fc).random(shape).astype(np.float32)
    expected = plane[: out_rows * fr, : out_cols * fc].astype(np.float64)
    expected = expected.reshape(out_rows, fr, out_cols, fc).mean(axis=(1, 3))
    np.testing.assert_allclose(resize_area(plane, (out_rows, out_cols)), expected, rtol=1e-6)
    # A view cut on both axes (as a central crop is) gives the same as its copy.
    view = plane[extra_rows:, extra_cols:]
    size = (out_rows, out_cols)
    np.testing.assert_array_equal(resize_area(view, size), resize_area(view.copy(), size))


@pytest.mark.parametrize("shape", [(2048, 2048), (1000, 777), (30, 30), (28, 28), (10, 50)])
def test_resize_area_gives_the_exact_shape_and_keeps_the_range(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    plane = rng.random(shape).astype(np.float32)
    out = resize_area(plane, (28, 28))
    assert out.shape == (28, 28)
    assert out.dtype == np.float32
    assert out.min() >= 0.0
    assert out.max() <= 1.0


@pytest.mark.parametrize(("shape", "size"), [((227, 227), 224), ((28, 28), 224), ((500, 300), 224), ((29, 31), 28)])
def test_the_bilinear_bridge_is_scipy_zoom_with_aligned_centres(shape: tuple[int, int], size: int) -> None:
    # What resize_area did with scipy.ndimage.zoom before its own (faster) bilinear: the
    # shipped models learnt from those inputs, so the two must agree to float32 rounding.
    plane = np.random.default_rng(2).random(shape).astype(np.float32)
    fr, fc = max(1, shape[0] // size), max(1, shape[1] // size)
    blocks = plane[: shape[0] // fr * fr, : shape[1] // fc * fc]
    blocks = blocks.reshape(shape[0] // fr, fr, shape[1] // fc, fc).mean(axis=(1, 3), dtype=np.float32)
    zoom = (size / blocks.shape[0], size / blocks.shape[1])
    reference = ndimage.zoom(blocks, zoom, order=1, mode="nearest", grid_mode=True)
    np.testing.assert_allclose(resize_area(plane, (size, size)), reference, rtol=0, atol=1e-6)


def test_resize_area_is_the_identity_at_the_same_size() -> None:
    plane = np.random.default_rng(1).random((28, 28)).astype(np.float32)
    np.testing.assert_array_equal(resize_area(plane, (28, 28)), plane)


def test_an_8_bit_raster_is_divided_by_255_and_a_16_bit_one_by_65535() -> None:
    plane = np.full((4, 4), 51.0)
    np.testing.assert_allclose(unit_values(_raster(plane)), 0.2)
    np.testing.assert_allclose(unit_values(_raster(plane * 257, bits=16)), 0.2, atol=1e-6)


def test_a_dicom_image_goes_through_its_window() -> None:
    pixels = np.linspace(0, 4000, 64 * 64, dtype=np.float32).reshape(64, 64)
    dicom = Image(
        pixels=pixels,
        meta=ImageMeta(modality=Modality.DX, window=(1000.0, 1000.0)),
        source=SourceRef(sop_class_uid="1.2.840.10008.5.1.4.1.1.1.1"),
    )
    unit = unit_values(dicom)
    assert unit.min() == 0.0
    assert unit.max() == 1.0
    assert unit[pixels < 490].max() == 0.0
    assert unit[pixels > 1510].min() == 1.0


def test_grey_stored_as_rgb_equals_the_grey_image() -> None:
    grey = np.random.default_rng(2).integers(0, 256, (32, 32)).astype(np.float32)
    rgb = Image(pixels=np.repeat(grey[..., None], 3, axis=-1), meta=ImageMeta(bits_stored=8))
    np.testing.assert_allclose(unit_values(rgb), unit_values(_raster(grey)), atol=1e-7)


def test_prepare_crops_the_central_square_when_asked() -> None:
    wide = np.zeros((100, 200), dtype=np.float32)
    wide[:, 50:150] = 255.0  # the central square is all white
    prepared = prepare(_raster(wide), Preprocessing(size=28, crop=Crop.CENTER_SQUARE))
    assert prepared.box == (0, 50, 100, 150)
    np.testing.assert_allclose(prepared.input, 1.0)
    stretched = prepare(_raster(wide), Preprocessing(size=28, crop=Crop.NONE))
    assert stretched.input.min() == 0.0
    assert stretched.box == (0, 0, 100, 200)


def test_prepare_returns_the_model_input_and_the_whole_display_plane() -> None:
    image = _raster(np.random.default_rng(3).integers(0, 256, (300, 240)))
    prepared = prepare(image, Preprocessing(size=64))
    assert prepared.input.shape == (1, 64, 64)
    assert prepared.input.dtype == np.float32
    assert prepared.display.shape == (300, 240)
    assert prepared.display.dtype == np.uint8


def test_a_stack_is_reduced_to_its_middle_plane() -> None:
    stack = np.stack([np.full((8, 8), v, dtype=np.float32) for v in (0.0, 128.0, 255.0)])
    image = Image(pixels=stack, layout=Layout.VOLUME, meta=ImageMeta(bits_stored=8))
    np.testing.assert_allclose(unit_values(image), 128 / 255)


def test_preprocessing_round_trips_through_json() -> None:
    pre = Preprocessing(size=224, crop=Crop.CENTER_SQUARE)
    assert Preprocessing.from_dict(pre.to_dict()) == pre
    with pytest.raises(ValueError, match="size"):
        Preprocessing(size=2)
