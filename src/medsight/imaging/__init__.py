"""The shared vocabulary of medsight: images, volumes and cines with their geometry.

Pure numpy: nothing here reads a file or imports torch.
"""

from medsight.imaging.geometry import Geometry, Vec3
from medsight.imaging.image import Image, ImageMeta, Layout, SourceRef, StudyContext
from medsight.imaging.voi import VoiLut

__all__ = [
    "Geometry",
    "Image",
    "ImageMeta",
    "Layout",
    "SourceRef",
    "StudyContext",
    "Vec3",
    "VoiLut",
]
