"""The shared vocabulary of medsight: images, volumes and cines with their geometry.

Pure numpy (scipy for resampling, imported only when used): nothing here reads a file
or imports torch.
"""

from medsight.imaging.geometry import Geometry, Vec3
from medsight.imaging.image import Image, ImageMeta, Layout, SourceRef, StudyContext
from medsight.imaging.overlay import heat_rgba, heatmap_overlay
from medsight.imaging.resample import reorient, resample
from medsight.imaging.voi import VoiLut
from medsight.imaging.window import (
    WindowPreset,
    apply_voi_lut,
    apply_window,
    display_array,
    display_plane,
    presets_for,
)

__all__ = [
    "Geometry",
    "Image",
    "ImageMeta",
    "Layout",
    "SourceRef",
    "StudyContext",
    "Vec3",
    "VoiLut",
    "WindowPreset",
    "apply_voi_lut",
    "apply_window",
    "display_array",
    "display_plane",
    "heat_rgba",
    "heatmap_overlay",
    "presets_for",
    "reorient",
    "resample",
]
