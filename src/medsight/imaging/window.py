"""Window/level and VOI LUT: from pixel values in physical units to display values.

The linear window follows PS3.3 C.11.2.1.2.1 exactly (the ``- 0.5`` and ``width - 1``
terms included), so a window read from a DICOM object shows as it does on a workstation.
The VOI LUT follows PS3.3 C.11.2.1.1. Every function here returns values in ``[0, 1]``
except :func:`display_array` and :func:`display_plane`, which give 8-bit arrays.

How :func:`display_array` chooses the mapping of a greyscale image, first match wins:

1. the preset named by the caller (``"auto"`` forces the percentile window);
2. the image's VOI LUT (``meta.voi_lut``);
3. the image's own window (``meta.window``), when its width is valid;
4. the ``auto`` window: the 1st..99th percentile of the pixels.

RGB images are not windowed: their values are clipped to 0..255.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from medsight.errors import UsageError
from medsight.imaging.image import Image, Layout
from medsight.imaging.voi import VoiLut
from medsight.parallel import as_rows, map_row_bands
from medsight.types import Modality

__all__ = [
    "AUTO",
    "WindowPreset",
    "apply_voi_lut",
    "apply_window",
    "auto_window",
    "display_array",
    "display_plane",
    "plane_index",
    "preset_names",
    "presets_for",
    "resolve_preset",
    "select_plane",
    "unit_array",
]

#: Name of the window computed from the pixels' percentiles; valid for every modality.
AUTO = "auto"

# Percentiles are taken on at most this many pixels, drawn with a fixed seed. At 2**18 the
# 1st percentile's sampling error is 0.02 percentile points, and a 2048 px film's window
# takes 17 ms instead of 41 (the percentile's partition dominates, and grows with the sample).
_AUTO_SAMPLE = 1 << 18


def _valid_window(center: float, width: float) -> bool:
    return math.isfinite(center) and math.isfinite(width) and width >= 1.0


def _check_window(center: float, width: float) -> None:
    if not _valid_window(center, width):
        raise UsageError(
            f"invalid window center {center:g} / width {width:g}: both must be finite "
            "and the width at least 1 (PS3.3 C.11.2.1.2)"
        )


@dataclass(frozen=True, slots=True)
class WindowPreset:
    """A named linear window (PS3.3 C.11.2.1.2).

    Attributes:
        name: lower-case identifier, as typed on the command line (``"lung"``).
        center: Window Center, in the pixels' units (HU for CT).
        width: Window Width; at least 1, as the standard requires.
    """

    name: str
    center: float
    width: float

    def __post_init__(self) -> None:
        _check_window(self.center, self.width)


# Common CT windows in HU (Radiopaedia "Windowing (CT)"; Hoang et al., AJR 2010).
_CT_PRESETS = (
    WindowPreset("lung", -600.0, 1500.0),
    WindowPreset("mediastinum", 40.0, 400.0),
    WindowPreset("soft_tissue", 40.0, 400.0),
    WindowPreset("bone", 400.0, 1800.0),
    WindowPreset("brain", 40.0, 80.0),
    WindowPreset("liver", 60.0, 160.0),
)

_PRESETS: dict[Modality, tuple[WindowPreset, ...]] = {Modality.CT: _CT_PRESETS}


def presets_for(modality: Modality | str) -> tuple[WindowPreset, ...]:
    """The fixed presets of a modality (CT has several; MR, CR, DX, US... have none).

    An unknown modality (``OT``, as every NIfTI or PNG is) gets every fixed preset:
    the values may well be HU from a converted CT.

    Args:
        modality: a :class:`~medsight.types.Modality` or its DICOM code.
    """
    code = Modality.parse(modality)
    if code is Modality.OT:
        return tuple(p for presets in _PRESETS.values() for p in presets)
    return _PRESETS.get(code, ())


def preset_names(modality: Modality | str) -> tuple[str, ...]:
    """Every preset name valid for ``modality``, ``"auto"`` first."""
    return (AUTO, *(p.name for p in presets_for(modality)))


def resolve_preset(name: str, pixels: NDArray[np.float32], modality: Modality | str) -> WindowPreset:
    """Look a preset up by name, computing ``auto`` from ``pixels``.

    Args:
        name: preset name; case, surrounding blanks and ``-`` for ``_`` are forgiven.
        pixels: the pixels the window is for (used by ``auto`` only).
        modality: the modality whose presets are valid.

    Raises:
        UsageError: the name is not a preset of this modality; the message lists those
            that are.
    """
    preset = _lookup(name, modality)
    return auto_window(pixels) if preset is None else preset


def auto_window(pixels: NDArray[np.float32], low: float = 1.0, high: float = 99.0) -> WindowPreset:
    """The window whose linear ramp spans the ``low``..``high`` percentiles of ``pixels``.

    Non-finite values are ignored. When the two percentiles coincide (a mostly empty
    image, a binary mask) the full finite range is used instead. Center and width are
    chosen so that the PS3.3 formula maps the lower value to 0 and the upper to 1, which
    keeps the width at least 1 even for data in 0..1.
    """
    flat = pixels.reshape(-1)
    if flat.size > _AUTO_SAMPLE:
        picks = np.random.default_rng(0).integers(0, flat.size, size=_AUTO_SAMPLE)
        flat = flat[picks]
    finite = flat[np.isfinite(flat)]
    if finite.size == 0:
        return WindowPreset(AUTO, 0.5, 1.0)
    lo, hi = (float(v) for v in np.percentile(finite, [low, high]))
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max())
    # y = (x - (c - 0.5)) / (w - 1) + 0.5 is 0 at x = lo and 1 at x = hi for these:
    return WindowPreset(AUTO, (lo + hi) / 2.0 + 0.5, hi - lo + 1.0)


def apply_window(pixels: NDArray[np.float32], center: float, width: float) -> NDArray[np.float32]:
    """Map pixels through a linear window to ``[0, 1]`` (PS3.3 C.11.2.1.2.1).

    With ``ymin = 0`` and ``ymax = 1`` the standard's function is::

        x <= c - 0.5 - (w - 1) / 2  ->  0
        x >  c - 0.5 + (w - 1) / 2  ->  1
        else                        ->  (x - (c - 0.5)) / (w - 1) + 0.5

    NaN maps to 0, +inf to 1, -inf to 0.

    Raises:
        UsageError: ``width`` is below 1 or either value is not finite.
    """
    _check_window(center, width)
    x = np.asarray(pixels, dtype=np.float32)
    if width == 1.0:
        return (x > center - 0.5).astype(np.float32)  # NaN compares False: 0
    # (x - lower) / (w - 1) with lower = c - 0.5 - (w - 1) / 2 is the ramp above, in three
    # passes over the pixels (a 2048 px radiograph is 16 MB of float32, and each pass
    # costs milliseconds), on a band of rows per core. Subtracting first keeps float32
    # exact for large centers.
    lower, span = np.float32(center - 0.5 - (width - 1.0) / 2.0), np.float32(width - 1.0)
    out = np.empty(x.shape, dtype=np.float32)
    if out.size == 0:
        return out
    rows, out_rows = as_rows(x), as_rows(out)

    def window_band(band: slice) -> bool:
        part = out_rows[band]
        np.subtract(rows[band], lower, out=part)
        np.divide(part, span, out=part)
        np.clip(part, 0.0, 1.0, out=part)  # +-inf land on the ends; NaN stays NaN
        # A reduction propagates NaN: one read-only pass to rule it out.
        return bool(np.isnan(part.max()))

    if any(map_row_bands(window_band, rows.shape[0], rows.shape[1])):
        np.nan_to_num(out, copy=False, nan=0.0)
    return out


def apply_voi_lut(pixels: NDArray[np.float32], lut: VoiLut) -> NDArray[np.float32]:
    """Map pixels through a VOI LUT to ``[0, 1]`` (PS3.3 C.11.2.1.1).

    Pixels are rounded to the nearest integer input; inputs below ``first_mapped`` take
    the first entry, inputs past the end the last. Entries are scaled by ``2**bits - 1``
    or by the largest entry when that is larger (some writers declare too few bits).
    NaN maps to 0.
    """
    table = lut.table.astype(np.float32)
    top = max(float(2**lut.bits - 1), float(table.max()), 1.0)
    x = np.asarray(pixels, dtype=np.float32)
    nan = np.isnan(x)
    index = np.rint(np.where(nan, np.float32(lut.first_mapped), x)) - np.float32(lut.first_mapped)
    np.clip(index, 0, table.size - 1, out=index)
    out = table[index.astype(np.int32)] / np.float32(top)
    out[nan] = 0.0
    return np.clip(out, 0.0, 1.0, out=out)


def display_array(image: Image, preset: str | None = None) -> NDArray[np.uint8]:
    """8-bit display values for every pixel of ``image``, same shape as its pixels.

    Greyscale images are windowed as the module docstring describes; RGB images are
    rounded and clipped to 0..255 (a preset name is still checked, then ignored).

    Raises:
        UsageError: ``preset`` is not a preset of the image's modality.
    """
    if image.channels == 3:
        if preset is not None:
            _lookup(preset, image.meta.modality)
        rgb = np.nan_to_num(image.pixels, nan=0.0, posinf=255.0, neginf=0.0)
        clipped: NDArray[np.float32] = np.clip(np.rint(rgb), 0, 255)
        return clipped.astype(np.uint8)
    scaled: NDArray[np.float32] = np.rint(_unit_values(image, preset) * np.float32(255.0))
    return scaled.astype(np.uint8)


def plane_index(image: Image, index: int | None = None) -> int:
    """The slice or frame a 2D rendering shows: ``index``, else a sensible default.

    The default is the middle slice of a volume, the first frame of a cine, 0 for a 2D
    image.

    Raises:
        UsageError: ``index`` is outside the image's slices or frames.
    """
    frames = image.frames
    if index is None:
        return frames // 2 if image.layout is Layout.VOLUME else 0
    if not 0 <= index < frames:
        raise UsageError(f"index {index} is out of range: the image has {frames} slice(s)")
    return index


def select_plane(image: Image, index: int | None = None) -> Image:
    """One slice or frame of ``image`` as a 2D image (a 2D image is returned as is).

    The plane's geometry starts at the chosen slice, so positions stay true.

    Raises:
        UsageError: ``index`` is outside the image's slices or frames.
    """
    chosen = plane_index(image, index)
    if image.layout is Layout.IMAGE:
        return image
    geometry = image.geometry
    if image.layout is Layout.VOLUME:
        origin = geometry.index_to_patient((chosen, 0, 0))
        geometry = replace(geometry, origin=(float(origin[0]), float(origin[1]), float(origin[2])))
    meta = replace(image.meta, frame_times_ms=())
    return image.with_pixels(
        np.ascontiguousarray(image.pixels[chosen]),
        layout=Layout.IMAGE,
        geometry=geometry,
        meta=meta,
    )


def display_plane(image: Image, preset: str | None = None, *, index: int | None = None) -> NDArray[np.uint8]:
    """8-bit display values of one plane (see :func:`select_plane`), windowed on its own.

    Returns:
        ``(rows, columns)`` for greyscale, ``(rows, columns, 3)`` for RGB.
    """
    return display_array(select_plane(image, index), preset)


def unit_array(image: Image, preset: str | None = None) -> NDArray[np.float32]:
    """Greyscale display values in ``[0, 1]``, float32: :func:`display_array` before rounding.

    Raises:
        UsageError: ``preset`` is not a preset of the image's modality.
    """
    return _unit_values(image, preset)


def _unit_values(image: Image, preset: str | None) -> NDArray[np.float32]:
    meta = image.meta
    if preset is not None:
        window = resolve_preset(preset, image.pixels, meta.modality)
        return apply_window(image.pixels, window.center, window.width)
    if meta.voi_lut is not None:
        return apply_voi_lut(image.pixels, meta.voi_lut)
    if meta.window is not None and _valid_window(*meta.window):
        return apply_window(image.pixels, *meta.window)
    window = auto_window(image.pixels)
    return apply_window(image.pixels, window.center, window.width)


def _lookup(name: str, modality: Modality | str) -> WindowPreset | None:
    """The fixed preset called ``name``, or None for ``auto``."""
    key = name.strip().lower().replace("-", "_")
    if key == AUTO:
        return None
    for preset in presets_for(modality):
        if preset.name == key:
            return preset
    valid = ", ".join(preset_names(modality))
    raise UsageError(f"unknown window preset {name!r} for {Modality.parse(modality).value}; choose one of: {valid}")
