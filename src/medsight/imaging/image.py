"""The one in-memory model for 2D images, volumes and cines.

An :class:`Image` holds pixels as float32 in physical units (Rescale Slope/Intercept
applied, MONOCHROME1 inverted so that higher always means brighter, palette and YBR
converted to RGB), its :class:`~medsight.imaging.geometry.Geometry`, and descriptive
metadata. Patient-identifying attributes travel in :class:`StudyContext`, whose ``repr``
is redacted, so that printing or logging an image never leaks patient data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.imaging.geometry import Geometry
from medsight.imaging.voi import VoiLut
from medsight.types import Modality, SeriesUID, SOPInstanceUID, StudyUID

__all__ = ["Image", "ImageMeta", "Layout", "SourceRef", "StudyContext"]


class Layout(StrEnum):
    """How the leading axes of :attr:`Image.pixels` are to be read.

    A trailing channel axis (RGB) follows in every layout when ``Image.channels == 3``.
    """

    IMAGE = "image"  # (rows, columns)
    VOLUME = "volume"  # (slices, rows, columns): slices advance along geometry.direction[0]
    CINE = "cine"  # (frames, rows, columns): frames advance in time (ImageMeta.frame_times_ms)


@dataclass(frozen=True, slots=True)
class SourceRef:
    """DICOM identifiers of what an image was read from (empty for non-DICOM sources).

    UIDs are not shown by ``repr``: they link to a patient's record.
    """

    study_uid: StudyUID | None = field(default=None, repr=False)
    series_uid: SeriesUID | None = field(default=None, repr=False)
    sop_instance_uids: tuple[SOPInstanceUID, ...] = field(default=(), repr=False)
    frame_of_reference_uid: str | None = field(default=None, repr=False)
    sop_class_uid: str | None = None
    transfer_syntax: str | None = None
    series_number: int | None = None


class StudyContext(Mapping[str, Any]):
    """Patient and General Study module attributes, by DICOM keyword, kept for writers.

    A derived object (Secondary Capture, SR, SEG) must carry the same patient and study
    identity to be filed beside its source. These values are patient data: ``repr`` and
    ``str`` name the keywords present, never the values.

    ``StudyContext.deferred(load)`` reads them only when first asked for: most reads
    never write a derived object, and converting a dozen values costs as much as
    decoding a small image.
    """

    __slots__ = ("_load", "_loaded")

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._loaded: dict[str, Any] | None = dict(values or {})
        self._load: Callable[[], Mapping[str, Any]] | None = None

    @classmethod
    def deferred(cls, load: Callable[[], Mapping[str, Any]]) -> StudyContext:
        context = cls()
        context._loaded, context._load = None, load
        return context

    @property
    def _values(self) -> dict[str, Any]:
        if self._loaded is None:
            assert self._load is not None
            self._loaded, self._load = dict(self._load()), None
        return self._loaded

    def __reduce__(self) -> tuple[type[StudyContext], tuple[dict[str, Any]]]:
        # Pickled (another process, a cluster worker) or copied as the values themselves.
        return (StudyContext, (self._values,))

    def __getitem__(self, keyword: str) -> Any:
        return self._values[keyword]

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"StudyContext(<{len(self._values)} attributes redacted>)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class ImageMeta:
    """What an image shows and how it was acquired; nothing here identifies a patient.

    Attributes:
        modality: DICOM modality (OT when unknown or not DICOM).
        body_part: Body Part Examined, upper case, or None.
        view: View Position (PA, AP, LAT...) for projection radiographs, or None.
        photometric: photometric interpretation of the *source*; pixels are always
            MONOCHROME2-like greyscale or RGB after decoding.
        units: what a pixel value means (``HU`` for CT, else the Rescale Type or ``""``).
        frame_times_ms: time of each frame from the first, for cines; else empty.
        window: the source's default (center, width), if it recorded one.
        voi_lut: the source's VOI LUT, if it recorded one (it wins over ``window``).
        bits_stored: Bits Stored of the source, for display and quantisation.
        warnings: non-fatal problems found while reading (gaps, uneven spacing).
    """

    modality: Modality = Modality.OT
    body_part: str | None = None
    view: str | None = None
    photometric: str = "MONOCHROME2"
    units: str = ""
    frame_times_ms: tuple[float, ...] = ()
    window: tuple[float, float] | None = None
    voi_lut: VoiLut | None = None
    bits_stored: int | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Image:
    """Pixels in physical units with their geometry and metadata.

    Attributes:
        pixels: float32 array laid out as :attr:`layout` says, with a trailing axis of 3
            for RGB.
        layout: how to read the leading axes.
        geometry: spacing, origin and direction of the spatial axes.
        meta: modality, body part, view, frame times, window and reading warnings.
        source: DICOM identifiers of the source objects.
        study: patient and study attributes for derived objects (redacted repr).
    """

    pixels: NDArray[np.float32]
    layout: Layout = Layout.IMAGE
    geometry: Geometry = field(default_factory=Geometry)
    meta: ImageMeta = field(default_factory=ImageMeta)
    source: SourceRef = field(default_factory=SourceRef)
    study: StudyContext = field(default_factory=StudyContext, repr=False)

    def __post_init__(self) -> None:
        if self.pixels.dtype != np.float32:
            raise ValueError(f"pixels must be float32, got {self.pixels.dtype}")
        spatial = 2 if self.layout is Layout.IMAGE else 3
        if self.pixels.ndim not in (spatial, spatial + 1):
            raise ValueError(f"{self.layout} needs {spatial} or {spatial + 1} axes, got shape {self.pixels.shape}")
        if self.pixels.ndim == spatial + 1 and self.pixels.shape[-1] != 3:
            raise ValueError(f"a channel axis must hold 3 samples (RGB), got shape {self.pixels.shape}")

    @property
    def channels(self) -> int:
        """1 for greyscale, 3 for RGB."""
        spatial = 2 if self.layout is Layout.IMAGE else 3
        return 3 if self.pixels.ndim == spatial + 1 else 1

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the pixel array."""
        return tuple(self.pixels.shape)

    @property
    def frames(self) -> int:
        """Number of slices or frames (1 for a 2D image)."""
        return 1 if self.layout is Layout.IMAGE else int(self.pixels.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the pixel array."""
        return int(self.pixels.nbytes)

    def with_pixels(self, pixels: NDArray[np.float32], **changes: Any) -> Image:
        """A copy with new pixels (and any other field changed), the rest kept."""
        return replace(self, pixels=pixels, **changes)

    def __repr__(self) -> str:
        spacing = ", ".join(f"{s:g}" for s in self.geometry.spacing)
        return (
            f"Image(layout={self.layout.value}, shape={self.shape}, "
            f"modality={self.meta.modality.value}, spacing=({spacing}) mm, "
            f"channels={self.channels})"
        )
