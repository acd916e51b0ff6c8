"""Resampling onto a new spacing and reorienting axes, with geometry kept true."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from medsight.errors import ResourceLimitError, UsageError
from medsight.imaging.geometry import Geometry
from medsight.imaging.image import Image, ImageMeta, Layout, SourceRef
from medsight.imaging.resample import reorient, resample
from medsight.types import SOPInstanceUID


def _rotation(ax: float, ay: float, az: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _geometry(rows: np.ndarray, spacing=(2.0, 0.8, 0.6), origin=(-20.0, 15.0, 40.0)) -> Geometry:
    """Geometry whose direction[a] is rows[a] (unit vectors)."""
    d = [tuple(float(v) for v in row) for row in rows]
    return Geometry(spacing=spacing, origin=origin, direction=(d[0], d[1], d[2]))  # type: ignore[arg-type]


def _linear_volume(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, spacing, strict=True)), indexing="ij")
    return (2.0 * z + 3.0 * y + x).astype(np.float32)  # linear in mm: linear interpolation is exact


@pytest.mark.parametrize(
    ("shape", "old", "new", "expected"),
    [
        ((10, 20, 30), (2.0, 1.0, 1.0), (1.0, 1.0, 1.0), (20, 20, 30)),
        ((10, 20, 30), (1.0, 0.5, 0.5), (1.0, 1.0, 1.0), (10, 10, 15)),
        ((3, 7, 9), (3.0, 0.7, 0.7), (1.5, 1.4, 2.1), (6, 4, 3)),
        ((1, 4, 4), (1.0, 1.0, 1.0), (5.0, 10.0, 10.0), (1, 1, 1)),
    ],
)
def test_output_shape_keeps_physical_extent(shape, old, new, expected) -> None:
    image = Image(np.zeros(shape, np.float32), layout=Layout.VOLUME, geometry=Geometry(spacing=old))
    out = resample(image, new)
    assert out.shape == expected
    assert out.geometry.spacing == pytest.approx(new)


def test_linear_resampling_is_exact_for_linear_data_and_keeps_origin() -> None:
    old, new = (2.0, 0.8, 0.6), (1.0, 1.2, 0.45)
    rows = _rotation(0.2, -0.1, 0.3)
    image = Image(_linear_volume((6, 10, 12), old), layout=Layout.VOLUME, geometry=_geometry(rows, old))
    out = resample(image, new)
    assert out.geometry.origin == image.geometry.origin
    assert out.geometry.direction == image.geometry.direction
    expected = _linear_volume(out.shape, new)  # type: ignore[arg-type]
    inside = tuple(
        slice(0, int(np.floor((n - 1) * s_old / s_new)) + 1)
        for n, s_old, s_new in zip(image.shape, old, new, strict=True)
    )
    np.testing.assert_allclose(out.pixels[inside], expected[inside], atol=1e-3)


def test_nearest_neighbour_only_produces_input_values() -> None:
    pixels = np.random.default_rng(0).integers(0, 5, (4, 6, 6)).astype(np.float32)
    out = resample(Image(pixels, layout=Layout.VOLUME), (0.4, 0.7, 1.3), order=0)
    assert set(np.unique(out.pixels)) <= set(np.unique(pixels))


@pytest.mark.parametrize("spacing", [(0.5, 0.25), (99.0, 0.5, 0.25)])
def test_2d_image_uses_only_in_plane_spacing(spacing) -> None:
    image = Image(_linear_volume((1, 8, 8), (1.0, 1.0, 1.0))[0], geometry=Geometry(spacing=(3.0, 1.0, 1.0)))
    out = resample(image, spacing)
    assert out.layout is Layout.IMAGE
    assert out.shape == (16, 32)
    assert out.geometry.spacing == (3.0, 0.5, 0.25)
    np.testing.assert_allclose(out.pixels[2, 4], 3.0 * 1.0 + 1.0, atol=1e-5)  # y = 1 mm, x = 1 mm


def test_rgb_channels_are_resampled_separately() -> None:
    base = _linear_volume((1, 6, 6), (1.0, 1.0, 1.0))[0]
    pixels = np.stack([base, base + 100.0, base + 200.0], axis=-1)
    out = resample(Image(pixels), (0.5, 0.5))
    assert out.shape == (12, 12, 3)
    np.testing.assert_allclose(out.pixels[..., 1] - out.pixels[..., 0], 100.0, atol=1e-4)
    np.testing.assert_allclose(out.pixels[..., 2] - out.pixels[..., 0], 200.0, atol=1e-4)


def test_spacing_known_flag_survives() -> None:
    image = Image(np.zeros((4, 4), np.float32), geometry=Geometry(spacing_known=False))
    assert resample(image, (0.5, 0.5)).geometry.spacing_known is False


@pytest.mark.parametrize(
    ("layout", "shape", "spacing", "order", "match"),
    [
        (Layout.CINE, (3, 4, 4), (1.0, 1.0, 1.0), 1, "cine"),
        (Layout.VOLUME, (3, 4, 4), (1.0, 1.0), 1, "3 values"),
        (Layout.IMAGE, (4, 4), (1.0,), 1, "2 or 3"),
        (Layout.VOLUME, (3, 4, 4), (1.0, 0.0, 1.0), 1, "positive"),
        (Layout.VOLUME, (3, 4, 4), (1.0, float("nan"), 1.0), 1, "positive"),
        (Layout.VOLUME, (3, 4, 4), (1.0, 1.0, 1.0), 6, "order"),
    ],
)
def test_bad_requests_are_usage_errors(layout, shape, spacing, order, match) -> None:
    image = Image(np.zeros(shape, np.float32), layout=layout)
    with pytest.raises(UsageError, match=match):
        resample(image, spacing, order=order)


def test_output_over_the_byte_limit_is_refused() -> None:
    image = Image(np.zeros((4, 4, 4), np.float32), layout=Layout.VOLUME)
    with pytest.raises(ResourceLimitError, match="limit"):
        resample(image, (0.1, 0.1, 0.1), max_bytes=40 * 40 * 40 * 4 - 1)
    assert resample(image, (0.1, 0.1, 0.1), max_bytes=40 * 40 * 40 * 4).shape == (40, 40, 40)
    rgb = Image(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ResourceLimitError):
        resample(rgb, (0.5, 0.5), max_bytes=8 * 8 * 4 * 3 - 1)


def test_default_byte_limit_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDSIGHT_MAX_PIXEL_BYTES", "1000")
    image = Image(np.zeros((4, 4, 4), np.float32), layout=Layout.VOLUME)
    with pytest.raises(ResourceLimitError):
        resample(image, (0.5, 0.5, 0.5))


# --- reorient ---------------------------------------------------------------------------

_OBLIQUE = _rotation(0.15, -0.1, 0.2)
# Source orientations: axial LPS, a flipped/permuted sagittal-like one, and both tilted.
_SOURCES = {
    "axial": np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=float),
    "sagittal": np.array([[-1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float),
    "coronal_tilted": np.array([[0, 1, 0], [0, 0, -1], [1, 0, 0]], dtype=float) @ _OBLIQUE.T,
    "axial_tilted": np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=float) @ _OBLIQUE.T,
}
_LETTER = {"L": (0, 1), "R": (0, -1), "P": (1, 1), "A": (1, -1), "S": (2, 1), "I": (2, -1)}


def _unique_volume(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(7).permutation(np.prod(shape)).reshape(shape).astype(np.float32)


def _positions_by_value(image: Image) -> dict[float, np.ndarray]:
    affine = image.geometry.affine()
    spatial = image.pixels.shape if image.layout is Layout.VOLUME else image.pixels.shape[-2:]
    out = {}
    for index in itertools.product(*(range(n) for n in spatial)):
        full = index if image.layout is Layout.VOLUME else (0, *index)
        out[float(image.pixels[index])] = (affine @ np.array([*full, 1.0]))[:3]
    return out


@pytest.mark.parametrize("source", sorted(_SOURCES))
@pytest.mark.parametrize("target", ["LPS", "RAS", "RPI", "SAL", "ILA"])
def test_reorient_keeps_every_voxel_in_place_and_aligns_axes(source: str, target: str) -> None:
    geometry = _geometry(_SOURCES[source], spacing=(2.0, 0.9, 0.6))
    image = Image(_unique_volume((3, 4, 5)), layout=Layout.VOLUME, geometry=geometry)
    out = reorient(image, target)

    before, after = _positions_by_value(image), _positions_by_value(out)
    for value, position in after.items():
        np.testing.assert_allclose(position, before[value], atol=1e-9)
    direction = np.asarray(out.geometry.direction)
    for k, letter in enumerate(target):
        world, sign = _LETTER[letter]
        row = direction[2 - k]
        assert int(np.argmax(np.abs(row))) == world
        assert np.sign(row[world]) == sign
    assert sorted(out.geometry.spacing) == sorted(image.geometry.spacing)


@pytest.mark.parametrize("source", sorted(_SOURCES))
def test_reorient_is_idempotent_and_reversible(source: str) -> None:
    image = Image(_unique_volume((3, 4, 5)), layout=Layout.VOLUME, geometry=_geometry(_SOURCES[source]))
    once = reorient(image, "RAS")
    twice = reorient(once, "RAS")
    np.testing.assert_array_equal(once.pixels, twice.pixels)
    assert twice.geometry == once.geometry
    back = reorient(reorient(once, "LPS"), "RAS")
    np.testing.assert_array_equal(back.pixels, once.pixels)
    np.testing.assert_allclose(back.geometry.affine(), once.geometry.affine(), atol=1e-12)


def test_reorienting_a_canonical_image_to_its_own_code_changes_nothing() -> None:
    image = Image(_unique_volume((3, 4, 5)), layout=Layout.VOLUME, geometry=Geometry(origin=(1.0, 2.0, 3.0)))
    out = reorient(image, "LPS")
    np.testing.assert_array_equal(out.pixels, image.pixels)
    assert out.geometry == image.geometry
    ras = reorient(image, "RAS")
    np.testing.assert_array_equal(ras.pixels, image.pixels[:, ::-1, ::-1])
    assert ras.geometry.origin == pytest.approx((1.0 + 4.0, 2.0 + 3.0, 3.0))


def test_2d_image_is_rearranged_in_plane_only() -> None:
    # A coronal radiograph: columns toward the patient's left, rows toward the feet.
    geometry = _geometry(np.array([[0, -1, 0], [0, 0, -1], [1, 0, 0]], dtype=float))
    image = Image(_unique_volume((4, 5)), geometry=geometry)
    out = reorient(image, "LPS")  # columns -> L, then rows -> S (the earlier of P, S)
    assert out.layout is Layout.IMAGE
    np.testing.assert_array_equal(out.pixels, image.pixels[::-1, :])
    assert out.geometry.direction[1] == pytest.approx((0.0, 0.0, 1.0))
    before, after = _positions_by_value(image), _positions_by_value(out)
    for value, position in after.items():
        np.testing.assert_allclose(position, before[value], atol=1e-9)


def test_cine_keeps_frame_order() -> None:
    frames = _unique_volume((3, 4, 5))
    cine = Image(frames, layout=Layout.CINE, meta=ImageMeta(frame_times_ms=(0.0, 30.0, 60.0)))
    out = reorient(cine, "RAS")
    np.testing.assert_array_equal(out.pixels, frames[:, ::-1, ::-1])
    assert out.meta.frame_times_ms == (0.0, 30.0, 60.0)


def test_rgb_channel_axis_stays_last() -> None:
    pixels = _unique_volume((2, 3, 4, 3))
    image = Image(pixels, layout=Layout.VOLUME, geometry=_geometry(_SOURCES["sagittal"]))
    out = reorient(image, "LPS")
    assert out.shape[-1] == 3
    np.testing.assert_array_equal(out.pixels[..., 0] + 1, reorient(image.with_pixels(pixels[..., 0] + 1), "LPS").pixels)


def test_per_slice_uids_follow_a_flipped_slice_axis() -> None:
    uids = tuple(SOPInstanceUID(f"1.2.3.{i}") for i in range(3))
    image = Image(
        _unique_volume((3, 2, 2)),
        layout=Layout.VOLUME,
        source=SourceRef(sop_instance_uids=uids),
    )
    assert reorient(image, "LPI").source.sop_instance_uids == tuple(reversed(uids))
    assert reorient(image, "LPS").source.sop_instance_uids == uids


@pytest.mark.parametrize("code", ["LP", "LPSX", "LPX", "LLS", "RLS", "", "lpq"])
def test_invalid_orientation_codes_are_usage_errors(code: str) -> None:
    with pytest.raises(UsageError, match="orientation code"):
        reorient(Image(np.zeros((2, 2, 2), np.float32), layout=Layout.VOLUME), code)


def test_lower_case_codes_are_accepted() -> None:
    image = Image(_unique_volume((2, 2, 2)), layout=Layout.VOLUME)
    np.testing.assert_array_equal(reorient(image, "ras").pixels, reorient(image, "RAS").pixels)
