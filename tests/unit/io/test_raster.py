"""PNG, JPEG and TIFF reading (values kept, spacing from resolution) and PNG writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from medsight.errors import FileNotFoundInputError, InvalidImageError, OutputError, ResourceLimitError, UsageError
from medsight.imaging.geometry import Geometry
from medsight.imaging.image import Image, ImageMeta, Layout
from medsight.imaging.window import apply_window, display_plane
from medsight.io import raster
from medsight.io.raster import PIL_ERRORS, read_raster, write_png
from medsight.settings import ReadLimits


def _ramp(dtype: type, top: int, shape: tuple[int, int] = (20, 30)) -> np.ndarray:
    return (np.arange(shape[0] * shape[1]).reshape(shape) * top // (shape[0] * shape[1] - 1)).astype(dtype)


@pytest.mark.parametrize(
    ("name", "array", "bits"),
    [
        ("l8.png", _ramp(np.uint8, 255), 8),
        ("l16.png", _ramp(np.uint16, 65535), 16),
        ("l16.tif", _ramp(np.uint16, 65535), 16),
        ("i32.tif", _ramp(np.int32, 2_000_000) - 1_000_000, 32),
        ("l8.tif", _ramp(np.uint8, 255), 8),
    ],
)
def test_greyscale_values_are_kept(tmp_path: Path, name: str, array: np.ndarray, bits: int) -> None:
    PILImage.fromarray(array).save(tmp_path / name)
    image = read_raster(tmp_path / name)
    assert image.layout is Layout.IMAGE
    assert image.channels == 1
    assert image.pixels.dtype == np.float32
    np.testing.assert_array_equal(image.pixels, array.astype(np.float32))
    assert image.meta.bits_stored == bits
    assert image.meta.photometric == "MONOCHROME2"
    assert not image.geometry.spacing_known


def test_float_tiff_keeps_fractional_and_negative_values(tmp_path: Path) -> None:
    array = np.array([[-1.5, 0.25], [3.75, 1e6]], dtype=np.float32)
    PILImage.fromarray(array).save(tmp_path / "f.tif")
    np.testing.assert_array_equal(read_raster(tmp_path / "f.tif").pixels, array)


def test_bilevel_gives_zero_and_one(tmp_path: Path) -> None:
    PILImage.fromarray(np.eye(8, dtype=bool)).convert("1").save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_raster(tmp_path / "b.png").pixels, np.eye(8, dtype=np.float32))


def test_colour_png_is_rgb(tmp_path: Path) -> None:
    array = np.random.default_rng(0).integers(0, 256, (6, 7, 3)).astype(np.uint8)
    PILImage.fromarray(array).save(tmp_path / "c.png")
    image = read_raster(tmp_path / "c.png")
    assert image.channels == 3
    assert image.meta.photometric == "RGB"
    np.testing.assert_array_equal(image.pixels, array.astype(np.float32))


def test_rgba_drops_alpha(tmp_path: Path) -> None:
    array = np.random.default_rng(1).integers(0, 256, (6, 7, 4)).astype(np.uint8)
    PILImage.fromarray(array, mode="RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_raster(tmp_path / "a.png").pixels, array[..., :3].astype(np.float32))


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "LA"])
def test_grey_content_in_colour_modes_becomes_greyscale(tmp_path: Path, mode: str) -> None:
    grey = _ramp(np.uint8, 255, (10, 12))
    PILImage.fromarray(grey).convert(mode).save(tmp_path / "g.png")
    image = read_raster(tmp_path / "g.png")
    assert image.channels == 1
    np.testing.assert_array_equal(image.pixels, grey.astype(np.float32))


def test_colour_palette_becomes_rgb(tmp_path: Path) -> None:
    palette_image = PILImage.new("P", (4, 3))
    palette_image.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    palette_image.putdata([0, 1, 2, 1] * 3)
    palette_image.save(tmp_path / "p.png")
    image = read_raster(tmp_path / "p.png")
    assert image.channels == 3
    np.testing.assert_array_equal(image.pixels[0, 1], [255, 0, 0])
    np.testing.assert_array_equal(image.pixels[0, 2], [0, 0, 255])


def test_jpeg_is_read_with_jpeg_density_ignored(tmp_path: Path) -> None:
    array = np.full((16, 16), 128, dtype=np.uint8)
    PILImage.fromarray(array).save(tmp_path / "x.jpg", dpi=(300, 300))
    image = read_raster(tmp_path / "x.jpg")
    assert image.channels == 1
    np.testing.assert_allclose(image.pixels, 128.0, atol=2)
    assert not image.geometry.spacing_known


def test_png_phys_in_metres_gives_spacing(tmp_path: Path) -> None:
    PILImage.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "s.png", dpi=(254.0, 127.0))
    geometry = read_raster(tmp_path / "s.png").geometry
    assert geometry.spacing_known
    assert geometry.spacing[1:] == pytest.approx((0.2, 0.1), rel=1e-3)  # (row from y, column from x)


@pytest.mark.parametrize(("unit", "resolution", "mm"), [(2, 254.0, 0.1), (3, 20.0, 0.5)])
def test_tiff_resolution_with_explicit_unit_gives_spacing(
    tmp_path: Path, unit: int, resolution: float, mm: float
) -> None:
    PILImage.fromarray(np.zeros((4, 4), np.uint16)).save(
        tmp_path / "r.tif", resolution=resolution, resolution_unit=unit
    )
    geometry = read_raster(tmp_path / "r.tif").geometry
    assert geometry.spacing_known
    assert geometry.spacing[1:] == pytest.approx((mm, mm))


def test_tiff_resolution_without_unit_is_ignored(tmp_path: Path) -> None:
    PILImage.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "n.tif", resolution=72.0, resolution_unit=1)
    assert not read_raster(tmp_path / "n.tif").geometry.spacing_known


def test_multi_page_tiff_is_a_volume(tmp_path: Path) -> None:
    pages = [np.full((5, 6), 1000 * i, dtype=np.uint16) for i in range(3)]
    first, *rest = (PILImage.fromarray(p) for p in pages)
    first.save(tmp_path / "stack.tif", save_all=True, append_images=rest)
    image = read_raster(tmp_path / "stack.tif")
    assert image.layout is Layout.VOLUME
    np.testing.assert_array_equal(image.pixels, np.stack(pages).astype(np.float32))
    assert not image.geometry.spacing_known
    assert any("3-page TIFF" in w for w in image.meta.warnings)


def test_tiff_with_pages_of_other_sizes_reads_the_first(tmp_path: Path) -> None:
    first = PILImage.fromarray(np.full((8, 8), 7, np.uint8))
    first.save(tmp_path / "pyr.tif", save_all=True, append_images=[PILImage.fromarray(np.zeros((4, 4), np.uint8))])
    image = read_raster(tmp_path / "pyr.tif")
    assert image.layout is Layout.IMAGE
    np.testing.assert_array_equal(image.pixels, np.full((8, 8), 7.0, np.float32))
    assert any("only the first" in w for w in image.meta.warnings)


def test_size_limit_is_checked_before_decoding(tmp_path: Path) -> None:
    colour = np.random.default_rng(5).integers(0, 256, (100, 100, 3)).astype(np.uint8)
    PILImage.fromarray(colour).save(tmp_path / "big.png")
    with pytest.raises(ResourceLimitError, match=r"big\.png"):
        read_raster(tmp_path / "big.png", ReadLimits(max_pixel_bytes=100 * 100 * 3 * 4 - 1))
    assert read_raster(tmp_path / "big.png", ReadLimits(max_pixel_bytes=100 * 100 * 3 * 4)).shape == (100, 100, 3)
    # the check comes from the header: a truncated file over the limit still gets it
    raw = (tmp_path / "big.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(raw[:60])
    with pytest.raises(ResourceLimitError):
        read_raster(tmp_path / "cut.png", ReadLimits(max_pixel_bytes=1000))


def test_pillow_bomb_check_is_a_resource_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    PILImage.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 100)  # 64 * 64 > 2 * 100: an error
    with pytest.raises(ResourceLimitError, match=r"bomb\.png"):
        read_raster(tmp_path / "bomb.png")


def _png_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    PILImage.fromarray(np.random.default_rng(2).integers(0, 255, (64, 64), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.png", b""),
        ("text.png", b"hello, not an image at all"),
        ("truncated.png", _png_bytes()[:200]),
        ("bad_signature.png", b"\x89PNG\r\n\x1a\n" + b"x" * 100),
        ("corrupt_idat.png", _png_bytes()[:80] + b"\x00" * 200 + _png_bytes()[280:]),
        ("truncated.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 20),
    ],
)
def test_damaged_files_are_invalid_images(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InvalidImageError, match=name):
        read_raster(tmp_path / name)


def test_other_formats_are_invalid_images(tmp_path: Path) -> None:
    PILImage.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "x.gif")
    with pytest.raises(InvalidImageError):
        read_raster(tmp_path / "x.gif")


@pytest.mark.parametrize("error", PIL_ERRORS)
def test_every_listed_pillow_error_is_translated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error("secret patient detail")

    monkeypatch.setattr(raster.PILImage, "open", fail)
    with pytest.raises(InvalidImageError) as info:
        read_raster(tmp_path / "x.png")
    assert "secret" not in info.value.message
    assert isinstance(info.value.__cause__, error)


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundInputError, match=r"nope\.png"):
        read_raster(tmp_path / "nope.png")


# --- write_png --------------------------------------------------------------------------


def test_png_of_a_volume_is_its_middle_slice_windowed(tmp_path: Path) -> None:
    pixels = np.stack([np.full((4, 5), v, np.float32) for v in (-1000.0, 0.0, 40.0, 500.0, 1000.0)])
    volume = Image(pixels, layout=Layout.VOLUME, geometry=Geometry(spacing=(2.0, 0.5, 0.25)))
    path = write_png(volume, tmp_path / "mid.png", preset="soft_tissue")
    written = np.asarray(PILImage.open(path))
    assert written.dtype == np.uint8
    expected = np.rint(apply_window(pixels[2], 40.0, 400.0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(written, expected)
    back = read_raster(path)
    assert back.geometry.spacing[1:] == pytest.approx((0.5, 0.25), rel=1e-3)


@pytest.mark.parametrize("index", [0, 3, 4])
def test_png_index_picks_the_slice(tmp_path: Path, index: int) -> None:
    pixels = np.random.default_rng(3).normal(size=(5, 4, 4)).astype(np.float32)
    volume = Image(pixels, layout=Layout.VOLUME, meta=ImageMeta(window=(0.0, 4.0)))
    written = np.asarray(PILImage.open(write_png(volume, tmp_path / "i.png", index=index)))
    np.testing.assert_array_equal(written, display_plane(volume, index=index))


def test_png_of_rgb_keeps_colour(tmp_path: Path) -> None:
    pixels = np.random.default_rng(4).integers(0, 256, (3, 4, 3)).astype(np.float32)
    back = read_raster(write_png(Image(pixels), tmp_path / "c.png"))
    np.testing.assert_array_equal(back.pixels, pixels)
    assert back.geometry.spacing[1:] == pytest.approx((1.0, 1.0), rel=1e-3)


def test_png_of_unknown_spacing_states_none(tmp_path: Path) -> None:
    image = Image(np.zeros((3, 3), np.float32), geometry=Geometry(spacing_known=False))
    assert not read_raster(write_png(image, tmp_path / "u.png")).geometry.spacing_known


def test_png_with_bad_preset_or_index_writes_nothing(tmp_path: Path) -> None:
    image = Image(np.zeros((3, 3, 3), np.float32), layout=Layout.VOLUME)
    with pytest.raises(UsageError):
        write_png(image, tmp_path / "x.png", preset="nope")
    with pytest.raises(UsageError):
        write_png(image, tmp_path / "x.png", index=3)
    assert list(tmp_path.iterdir()) == []


def test_failed_png_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "old.png"
    target.write_bytes(b"previous")

    def broken(self: object, *args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PILImage.Image, "save", broken)
    with pytest.raises(OutputError, match=r"old\.png"):
        write_png(Image(np.zeros((2, 2), np.float32)), target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["old.png"]


def test_a_folder_of_png_files_lists_and_reads_each_one(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    from medsight.io import read, scan
    from medsight.settings import ReadLimits

    for i in range(3):
        PILImage.fromarray(np.full((8, 12), i * 50, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    found = scan(tmp_path, ReadLimits())
    assert len(found.pending) == 3
    assert len(found.summaries(ReadLimits())) == 3
    images, failures = read(tmp_path, ReadLimits())
    assert sorted(float(i.pixels.max()) for i in images) == [0.0, 50.0, 100.0]
    assert not failures
