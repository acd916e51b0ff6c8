"""Read and write NIfTI-1/-2 files (nibabel), converting at this one boundary.

NIfTI stores an array indexed ``(i, j, k[, t])`` and an affine to RAS+ mm; medsight keeps
``(slice, row, column)`` = ``(k, j, i)`` and LPS. So arrays are transposed, and the RAS
affine becomes LPS by negating its first two rows (x and y)::

    A_lps = diag(-1, -1, 1, 1) @ A_ras
    Geometry column for array axis (slice, row, column) = A_lps column (k, j, i)

How dimensions beyond three are read (medsight has no 3D + time image):

* ``(x, y, 1, t)``: a 2D cine, ``Layout.CINE`` with ``t`` frames; frame times come from
  ``pixdim[4]`` when ``xyzt_units`` names a time unit, else stay empty (with a warning).
* ``(x, y, z > 1, t > 1)`` or any fifth dimension: only the first volume is read, as
  ``Layout.VOLUME``, and ``meta.warnings`` says so.
* 1-D, 2-D and ``(x, y, 1)`` files: a ``Layout.VOLUME`` with one slice.

RGB24/RGBA32 data gives an RGB image (alpha dropped). Spatial units of metres or
microns are converted to mm. nibabel, zlib and OS errors become
:class:`~medsight.errors.InvalidImageError` naming only the file.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError, ImageDataError
from nibabel.wrapstruct import WrapStructError
from numpy.typing import NDArray

from medsight.errors import (
    FileNotFoundInputError,
    InvalidImageError,
    ResourceLimitError,
    UnsupportedFormatError,
    UsageError,
)
from medsight.imaging.geometry import Geometry
from medsight.imaging.image import Image, ImageMeta, Layout
from medsight.imaging.labels import LabelVolume
from medsight.io._atomic import PathLike, atomic_write
from medsight.settings import ReadLimits

__all__ = ["NIBABEL_ERRORS", "read_nifti", "write_label_nifti", "write_nifti"]

#: Every foreign error a NIfTI read may raise; each becomes InvalidImageError.
NIBABEL_ERRORS: tuple[type[Exception], ...] = (
    ImageFileError,
    HeaderDataError,
    ImageDataError,
    WrapStructError,
    OSError,
    EOFError,
    zlib.error,
    struct.error,
    ValueError,
)

_UNOPENABLE = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
_TO_MM = {"meter": 1000.0, "mm": 1.0, "micron": 0.001}
_TO_MS = {"sec": 1000.0, "msec": 1.0, "usec": 0.001}
_RGB24 = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])


def read_nifti(path: PathLike, limits: ReadLimits | None = None) -> Image:
    """Read a NIfTI file (``.nii``, ``.nii.gz``, or a ``.hdr``/``.img`` pair).

    Args:
        path: the file.
        limits: read bounds; ``ReadLimits()`` when omitted.

    Raises:
        FileNotFoundInputError: the file does not exist or cannot be opened.
        UnsupportedFormatError: nibabel reads it, but as another format (Analyze, MGH).
        ResourceLimitError: the data to be read, as float32, exceeds
            ``limits.max_pixel_bytes`` (checked from the header, before reading data).
        InvalidImageError: the file is damaged or not an image at all.
    """
    source = Path(path)
    limits = limits or ReadLimits()
    try:
        loaded = nib.load(source, mmap=False)
        if not isinstance(loaded, nib.Nifti1Pair):  # Nifti1Image, Nifti2Image and pairs
            raise UnsupportedFormatError(f"{source.name} is not a NIfTI file")
        nii: Any = loaded  # Any: nibabel's annotations are partial
        layout, index, warnings = _plan(nii.header.get_data_shape())
        channels = 3 if nii.get_data_dtype().names else 1
        _check_size(nii.header.get_data_shape(), index, channels, limits, source.name)
        data = _load(nii, index)
        geometry, more = _geometry(nii)
        frame_times, time_note = _frame_times(nii, layout, data.shape[0])
    except _UNOPENABLE as exc:
        raise FileNotFoundInputError(f"cannot open {source.name}") from exc
    except NIBABEL_ERRORS as exc:
        raise InvalidImageError(f"{source.name} is not a readable NIfTI file ({type(exc).__name__})") from exc
    meta = ImageMeta(
        photometric="RGB" if channels == 3 else "MONOCHROME2",
        frame_times_ms=frame_times,
        warnings=(*warnings, *more, *time_note),
    )
    return Image(pixels=data, layout=layout, geometry=geometry, meta=meta)


def write_nifti(image: Image, path: PathLike) -> Path:
    """Write ``image`` as NIfTI-1, gzip-compressed when ``path`` ends in ``.gz``.

    A 2D image becomes ``(x, y, 1)``; a cine ``(x, y, 1, t)`` with ``pixdim[4]`` the
    median frame interval in ms; RGB becomes RGB24 (values rounded, clipped to 0..255).
    Both qform and sform hold the affine (code 1, scanner). The file appears whole or
    not at all.

    Returns:
        The path written.

    Raises:
        UsageError: ``path`` does not end in ``.nii`` or ``.nii.gz``.
        OutputError: the file cannot be written.
    """
    target = Path(path)
    name = target.name.lower()
    if not (name.endswith(".nii") or name.endswith(".nii.gz")):
        raise UsageError(f"a NIfTI file name must end in .nii or .nii.gz, got {target.name!r}")
    nifti1: Any = nib.Nifti1Image  # Any: nibabel's annotations are partial
    nii = nifti1(_to_nibabel_array(image), _ras_affine(image.geometry))
    nii.set_sform(nii.affine, code=1)
    nii.set_qform(nii.affine, code=1)
    if image.layout is Layout.CINE:
        interval = _frame_interval(image.meta.frame_times_ms)
        nii.header.set_xyzt_units("mm", "msec" if interval else None)
        nii.header.set_zooms((*nii.header.get_zooms()[:3], interval or 1.0))
    else:
        nii.header.set_xyzt_units("mm")

    def write(stream: BinaryIO) -> None:
        if name.endswith(".gz"):
            with gzip.GzipFile(fileobj=stream, mode="wb", mtime=0) as compressed:
                nii.to_stream(compressed)
        else:
            nii.to_stream(stream)

    return atomic_write(target, write)


def write_label_nifti(labels: LabelVolume, path: PathLike) -> Path:
    """Write a label volume as a NIfTI-1 mask on its source's grid (uint8, the source's affine).

    The header says what the values are: intent ``NIFTI_INTENT_LABEL`` and, in
    ``descrip``, ``1=<name> 2=<name> ...`` (80 bytes at most; names past that are cut,
    the values stay). A 2D source gives ``(x, y, 1)``, as :func:`write_nifti` does.

    Raises:
        UsageError: ``path`` does not end in ``.nii`` or ``.nii.gz``.
        OutputError: the file cannot be written.
    """
    target = Path(path)
    name = target.name.lower()
    if not (name.endswith(".nii") or name.endswith(".nii.gz")):
        raise UsageError(f"a NIfTI file name must end in .nii or .nii.gz, got {target.name!r}")
    nifti1: Any = nib.Nifti1Image  # Any: nibabel's annotations are partial
    nii = nifti1(np.ascontiguousarray(labels.labels.transpose(2, 1, 0)), _ras_affine(labels.source.geometry))
    nii.set_sform(nii.affine, code=1)
    nii.set_qform(nii.affine, code=1)
    nii.header.set_xyzt_units("mm")
    nii.header.set_intent("label")
    nii.header.set_data_dtype(np.uint8)
    described = " ".join(f"{k}={n}" for k, n in enumerate(labels.names, start=1))
    nii.header["descrip"] = described.encode("ascii", "replace")[:79]

    def write(stream: BinaryIO) -> None:
        if name.endswith(".gz"):
            with gzip.GzipFile(fileobj=stream, mode="wb", mtime=0) as compressed:
                nii.to_stream(compressed)
        else:
            nii.to_stream(stream)

    return atomic_write(target, write)


def _plan(shape: tuple[int, ...]) -> tuple[Layout, tuple[Any, ...], tuple[str, ...]]:
    """Layout, the index into the data array, and any warning, from the header's shape."""
    if len(shape) <= 3:
        return Layout.VOLUME, (), ()
    everything = slice(None)
    extra = shape[3:]
    if shape[2] == 1 and extra[0] > 1 and all(n == 1 for n in extra[1:]):
        return Layout.CINE, (everything, everything, 0, everything, *([0] * len(extra[1:]))), ()
    index = (everything, everything, everything, *([0] * len(extra)))
    if math.prod(extra) == 1:
        return Layout.VOLUME, index, ()
    note = f"{len(shape)}-D NIfTI of shape {shape}: only the first volume was read"
    return Layout.VOLUME, index, (note,)


def _check_size(shape: tuple[int, ...], index: tuple[Any, ...], channels: int, limits: ReadLimits, name: str) -> None:
    kept = [n for n, i in zip(shape, index, strict=True) if i != 0] if index else list(shape)
    needed = math.prod(kept) * channels * 4
    if needed > limits.max_pixel_bytes:
        raise ResourceLimitError(
            f"{name} would take {needed} bytes as float32, more than the limit of {limits.max_pixel_bytes}"
        )


def _load(nii: Any, index: tuple[Any, ...]) -> NDArray[np.float32]:
    """The pixels in medsight order: (slice|frame, row, column[, 3]) float32."""
    proxy = nii.dataobj
    names = nii.get_data_dtype().names
    if names:
        raw = np.asarray(proxy[index] if index else proxy)
        data = np.stack([raw[n] for n in names[:3]], axis=-1).astype(np.float32)
    elif index:
        data = np.asarray(proxy[index], dtype=np.float32)
    else:
        data = np.asarray(proxy, dtype=np.float32)  # scaled straight into float32
    spatial = data.ndim - (1 if names else 0)
    if spatial < 3:  # 1-D or 2-D: pad to (x, y, 1)
        pad = (1,) * (3 - spatial)
        data = data.reshape(data.shape[:spatial] + pad + data.shape[spatial:])
    order = (2, 1, 0, 3) if names else (2, 1, 0)
    return np.ascontiguousarray(data.transpose(order))


def _geometry(nii: Any) -> tuple[Geometry, tuple[str, ...]]:
    header = nii.header
    warnings: list[str] = []
    if int(header["sform_code"]) == 0 and int(header["qform_code"]) == 0:
        warnings.append("NIfTI has no qform or sform: orientation assumed, not recorded")
    affine = np.asarray(nii.affine, dtype=np.float64) * _TO_MM.get(header.get_xyzt_units()[0], 1.0)
    affine[3, :] = (0.0, 0.0, 0.0, 1.0)
    lps = _RAS_TO_LPS @ affine
    ours = np.eye(4)
    ours[:3, 0], ours[:3, 1], ours[:3, 2] = lps[:3, 2], lps[:3, 1], lps[:3, 0]
    ours[:3, 3] = lps[:3, 3]
    ours, spacing_known = _repair(ours, warnings)
    return replace(Geometry.from_affine(ours), spacing_known=spacing_known), tuple(warnings)


def _repair(ours: NDArray[np.float64], warnings: list[str]) -> tuple[NDArray[np.float64], bool]:
    """Make a degenerate affine usable: fill one zero column, else fall back to identity."""
    if not np.isfinite(ours).all():
        warnings.append("NIfTI affine is not finite: default axial 1 mm geometry assumed")
        return Geometry().affine(), False
    lengths = np.linalg.norm(ours[:3, :3], axis=0)
    zero = [a for a in range(3) if lengths[a] < 1e-9]
    if not zero and abs(np.linalg.det(ours[:3, :3])) > 1e-12:
        return ours, True
    if len(zero) == 1:
        a, b = (c for c in range(3) if c != zero[0])
        normal = np.cross(ours[:3, a], ours[:3, b])
        if np.linalg.norm(normal) > 1e-9:
            ours[:3, zero[0]] = normal / np.linalg.norm(normal)
            if np.linalg.det(ours[:3, :3]) > 0:  # DICOM-handed, as Geometry.from_dicom builds
                ours[:3, zero[0]] *= -1.0
            warnings.append("NIfTI affine has a zero axis: 1 mm assumed along it")
            return ours, True
    warnings.append("NIfTI affine is degenerate: default axial 1 mm geometry assumed")
    return Geometry().affine(), False


def _frame_times(nii: Any, layout: Layout, frames: int) -> tuple[tuple[float, ...], tuple[str, ...]]:
    if layout is not Layout.CINE:
        return (), ()
    header = nii.header
    factor = _TO_MS.get(header.get_xyzt_units()[1])
    zooms = header.get_zooms()
    interval = float(zooms[3]) if len(zooms) > 3 else 0.0
    if factor is None or not math.isfinite(interval) or interval <= 0:
        return (), ("NIfTI time axis has no interval or unit: frame times unknown",)
    return tuple(k * interval * factor for k in range(frames)), ()


def _ras_affine(geometry: Geometry) -> NDArray[np.float64]:
    """The nibabel ``(i, j, k)`` -> RAS affine of a medsight geometry."""
    ours = geometry.affine()
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2] = ours[:3, 2], ours[:3, 1], ours[:3, 0]
    lps[:3, 3] = ours[:3, 3]
    return _RAS_TO_LPS @ lps  # the flip is its own inverse


def _to_nibabel_array(image: Image) -> NDArray[Any]:
    """Pixels in NIfTI order: (x, y, z) or (x, y, 1, t), RGB as RGB24."""
    pixels = image.pixels
    if image.layout is Layout.IMAGE:
        pixels = pixels[np.newaxis]
    spatial = (2, 1, 0)
    data = pixels.transpose((*spatial, 3) if image.channels == 3 else spatial)
    if image.layout is Layout.CINE:  # (x, y, t[, 3]) -> (x, y, 1, t[, 3])
        data = data[:, :, np.newaxis]
    if image.channels == 1:
        return data
    values = np.clip(np.rint(np.nan_to_num(data)), 0, 255).astype(np.uint8)
    rgb = np.empty(values.shape[:-1], dtype=_RGB24)
    for c, field in enumerate(("R", "G", "B")):
        rgb[field] = values[..., c]
    return rgb


def _frame_interval(times: tuple[float, ...]) -> float:
    steps = np.diff(np.asarray(times, dtype=np.float64))
    if steps.size == 0 or not np.isfinite(steps).all() or np.median(steps) <= 0:
        return 0.0
    return float(np.median(steps))
