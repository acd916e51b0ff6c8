"""Series assembly: from instance headers to planned images, then to pixels.

Planning works on headers alone. It groups instances by Series Instance UID, sorts
single-frame slices along the slice normal (PS3.3 C.7.6.2.1.1: the position's
projection on row x column cosine), and checks the geometry:

* mixed sizes or orientations, duplicate positions: :class:`SeriesGeometryError`;
* missing slices (gaps that are whole multiples of the usual step): a warning, and the
  gaps are filled by linear interpolation so the volume stays on a uniform grid, as
  long as the invented slices stay few (no gap over 4 slices, no more invented slices
  than real ones); more than that is a :class:`SeriesGeometryError`: the series is
  incomplete, and a volume mostly made of interpolation would show anatomy nobody
  imaged;
* other uneven spacing: a warning, and the slices are resampled onto a uniform grid,
  on the same condition (at most twice as many output slices as real ones).

Loading then allocates the float32 volume once and decodes each slice into it, so
peak memory stays close to the size of the volume.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.errors import ResourceLimitError, SeriesGeometryError
from medsight.imaging import Geometry, Image, ImageMeta, Layout, SourceRef, StudyContext, VoiLut
from medsight.io.dicom import tags as t
from medsight.io.dicom.header import InstanceHeader
from medsight.io.dicom.parse import STUDY_CONTEXT_TAGS
from medsight.io.dicom.pixels import decode_into, physical_range
from medsight.settings import ReadLimits
from medsight.types import Modality, SeriesUID, SOPInstanceUID, StudyUID

__all__ = ["PlannedImage", "plan_images"]

# Positions closer than this along the normal are the same slice.
_SAME_POSITION_MM = 1e-3
# How far (as a fraction of the step) a slice may sit off the uniform grid.
_GRID_TOLERANCE = 0.1
_ORIENTATION_TOLERANCE = 1e-3
# Interpolation invents slices. Fill a gap only while the invented slices stay a
# minority and each gap is short: beyond that the series is reported incomplete.
_MAX_GAP_SLICES = 4


@dataclass(frozen=True, eq=False)
class PlannedImage:
    """One image to be: its instances in order, its geometry, and how to fill its pixels.

    Attributes:
        headers: instances in slice order (one for a single or multi-frame object).
        layout: image, volume or cine.
        geometry: placement of the assembled pixels.
        slots: for each header, its slice index in the output grid.
        slices: number of slices (or frames) in the output.
        warnings: problems found that did not stop assembly.
        positions: distance of each header along the slice normal (volumes only).
        frame_order: order in which a multi-frame object's frames are stacked.
    """

    headers: tuple[InstanceHeader, ...]
    layout: Layout
    geometry: Geometry
    slots: tuple[int, ...]
    slices: int
    warnings: tuple[str, ...] = ()
    positions: tuple[float, ...] = ()
    frame_order: tuple[int, ...] | None = None
    resample: bool = field(default=False)

    @property
    def first(self) -> InstanceHeader:
        return self.headers[0]

    @property
    def label(self) -> str:
        """Where the image comes from, for messages: its first file."""
        return self.first.member.label

    @property
    def shape(self) -> tuple[int, ...]:
        lead: tuple[int, ...] = () if self.layout is Layout.IMAGE else (self.slices,)
        colour: tuple[int, ...] = (3,) if self.first.output_samples == 3 else ()
        return (*lead, self.first.rows, self.first.columns, *colour)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * 4

    def load(self, limits: ReadLimits, workers: int = 1) -> Image:
        """Decode the pixels into one float32 array and build the :class:`Image`."""
        if self.nbytes > limits.max_pixel_bytes:
            raise ResourceLimitError(
                f"{self.label}: the image needs {self.nbytes} bytes, more than the limit of {limits.max_pixel_bytes}"
            )
        pixels = self._decode(workers)
        if self.layout is Layout.IMAGE:
            pixels = pixels[0]
        return Image(
            pixels=pixels,
            layout=self.layout,
            geometry=self.geometry,
            meta=_meta(self),
            source=_source(self.headers),
            study=_study_context(self.first),
        )

    def _decode(self, workers: int) -> NDArray[np.float32]:
        first = self.first
        if len(self.headers) == 1:
            pixels = np.empty((first.frames, *self.shape[-(3 if first.output_samples == 3 else 2) :]), np.float32)
            decode_into(first, pixels)
            return pixels if self.frame_order is None else pixels[list(self.frame_order)]
        volume = np.empty(self.shape, dtype=np.float32)
        if self.resample:
            staging = np.empty((len(self.headers), *self.shape[1:]), dtype=np.float32)
            _decode_slices(self.headers, staging, range(len(self.headers)), workers)
            _resample_slices(staging, np.asarray(self.positions), volume, self.geometry.spacing[0])
            return volume
        _decode_slices(self.headers, volume, self.slots, workers)
        _fill_gaps(volume, self.slots)
        return volume


def plan_images(headers: Iterable[InstanceHeader]) -> tuple[list[PlannedImage], list[tuple[str, SeriesGeometryError]]]:
    """Group headers into planned images; stacks that cannot be assembled come back as errors.

    A series whose single-frame slices differ in orientation or size (a three-plane
    localizer, a radial stack) is split into stacks of like slices, with a warning:
    each stack becomes a volume, or an image when it holds one slice.
    """
    series: dict[str, list[InstanceHeader]] = {}
    for header in headers:
        series.setdefault(header.series_uid or f"no-series:{header.sop_instance_uid}", []).append(header)
    planned: list[PlannedImage] = []
    failed: list[tuple[str, SeriesGeometryError]] = []
    for members in series.values():
        members = _unique_instances(members)
        planned.extend(_plan_single(h) for h in members if h.frames > 1)
        stacks = _stacks([h for h in members if h.frames == 1])
        note = (f"the series mixes orientations or sizes: split into {len(stacks)} stacks",) if len(stacks) > 1 else ()
        for stack in stacks:
            if len(stack) > 1 and all(h.position is not None for h in stack):
                try:
                    volume = _plan_volume(stack)
                except SeriesGeometryError as exc:
                    failed.append((stack[0].member.label, exc))
                    continue
                planned.append(replace(volume, warnings=note + volume.warnings))
            else:
                planned.extend(replace(_plan_single(h), warnings=note) for h in stack)
    return planned, failed


def _stacks(headers: list[InstanceHeader]) -> list[list[InstanceHeader]]:
    """Slices grouped by orientation (to 1e-3) and size; those without orientation stand alone."""
    stacks: dict[object, list[InstanceHeader]] = {}
    for header in headers:
        if header.orientation is None:
            key: object = ("alone", header.sop_instance_uid or header.member.label)
        else:
            key = (tuple(round(v, 3) for v in header.orientation), header.rows, header.columns, header.output_samples)
        stacks.setdefault(key, []).append(header)
    return list(stacks.values())


def _unique_instances(headers: list[InstanceHeader]) -> list[InstanceHeader]:
    """Drop exact duplicates (the same SOP Instance UID read twice, e.g. a copy in a subfolder)."""
    seen: dict[str, InstanceHeader] = {}
    for header in headers:
        seen.setdefault(header.sop_instance_uid or header.member.label, header)
    return list(seen.values())


def _plan_single(header: InstanceHeader) -> PlannedImage:
    geometry = Geometry.from_dicom(header.pixel_spacing, header.orientation, header.position, header.slice_thickness)
    if header.frames == 1:
        return PlannedImage((header,), Layout.IMAGE, geometry, (0,), 1)
    if header.frame_positions is not None and header.orientation is not None:
        return _plan_enhanced_volume(header)
    return PlannedImage((header,), Layout.CINE, geometry, (0,), header.frames)


def _plan_enhanced_volume(header: InstanceHeader) -> PlannedImage:
    """An enhanced CT/MR object: frames carry their own positions (Plane Position Sequence)."""
    assert header.frame_positions is not None
    distances = np.asarray(header.frame_positions) @ _normal(header.orientation)
    order = np.argsort(distances, kind="stable")
    grid = _grid(distances[order], header.member.label)
    if grid.resample or grid.count != header.frames:
        raise SeriesGeometryError(f"{header.member.label}: the frames are not evenly spaced")
    origin = header.frame_positions[int(order[0])]
    geometry = Geometry.from_dicom(
        header.pixel_spacing, header.orientation, origin, grid.step or header.slice_thickness
    )
    frame_order = tuple(int(i) for i in order)
    return PlannedImage((header,), Layout.VOLUME, geometry, (0,), header.frames, frame_order=frame_order)


def _normal(orientation: Sequence[float] | None) -> NDArray[np.float64]:
    assert orientation is not None
    normal = np.cross(np.asarray(orientation[:3]), np.asarray(orientation[3:]))
    return normal / (np.linalg.norm(normal) or 1.0)


def _plan_volume(headers: list[InstanceHeader]) -> PlannedImage:
    label = headers[0].member.label
    if len({(h.rows, h.columns, h.output_samples) for h in headers}) > 1:
        raise SeriesGeometryError(f"{label}: the series mixes slices of different sizes")
    orientations = np.asarray([h.orientation for h in headers], dtype=np.float64)
    if np.abs(orientations - orientations[0]).max() > _ORIENTATION_TOLERANCE:
        raise SeriesGeometryError(f"{label}: the series mixes slice orientations")
    distances = np.asarray([h.position for h in headers], dtype=np.float64) @ _normal(headers[0].orientation)
    order = np.argsort(distances, kind="stable")
    ordered = tuple(headers[i] for i in order)
    grid = _grid(distances[order], label)
    first = ordered[0]
    geometry = Geometry.from_dicom(first.pixel_spacing, first.orientation, first.position, grid.step)
    return PlannedImage(
        ordered, Layout.VOLUME, geometry, grid.slots, grid.count, grid.warnings, grid.positions, resample=grid.resample
    )


@dataclass(frozen=True)
class _Grid:
    step: float
    slots: tuple[int, ...]
    count: int
    positions: tuple[float, ...]
    resample: bool
    warnings: tuple[str, ...]


def _grid(distances: NDArray[np.float64], label: str) -> _Grid:
    """Fit sorted slice distances to a uniform grid: its step, and each slice's place on it."""
    relative = distances - distances[0]
    positions = tuple(float(d) for d in relative)
    steps = np.diff(relative)
    if steps.size == 0:
        return _Grid(0.0, (0,), 1, positions, False, ())
    if np.any(steps < _SAME_POSITION_MM):
        raise SeriesGeometryError(f"{label}: several slices share one position (more than one acquisition?)")
    # The usual step is the most common one; refine it over the whole span so that
    # rounding in the stored positions does not accumulate along a long series.
    values, counts = np.unique(np.round(steps, 2), return_counts=True)
    step = float(values[np.argmax(counts)])
    slots = np.rint(relative / step).astype(int)
    step = float(relative[-1] / slots[-1])
    deviation = np.abs(slots * step - relative).max()
    if deviation <= _GRID_TOLERANCE * step and len(set(slots.tolist())) == len(slots):
        count = int(slots[-1]) + 1
        missing = count - len(slots)
        _check_gaps(slots, label)
        warnings = (
            (f"{missing} missing slice(s): filled by linear interpolation between neighbours",) if missing else ()
        )
        return _Grid(step, tuple(int(s) for s in slots), count, positions, False, warnings)
    step = float(steps.min())
    count = int(np.floor(relative[-1] / step + 1e-6)) + 1
    if count > 2 * len(relative):
        raise SeriesGeometryError(
            f"{label}: uneven slice spacing ({steps.min():.3g} to {steps.max():.3g} mm) would need {count} slices"
            f" resampled from {len(relative)}; too few slices for the span (an incomplete series?)"
        )
    warning = f"uneven slice spacing ({steps.min():.3g} to {steps.max():.3g} mm): resampled to {step:.3g} mm"
    return _Grid(step, tuple(range(len(relative))), count, positions, True, (warning,))


def _check_gaps(slots: NDArray[np.int_], label: str) -> None:
    """Refuse to interpolate more slices than were imaged, or across a long gap."""
    gaps = np.diff(slots) - 1
    missing, longest = int(gaps.sum()), int(gaps.max())
    if missing > len(slots) or longest > _MAX_GAP_SLICES:
        raise SeriesGeometryError(
            f"{label}: {missing} slice(s) missing for {len(slots)} present (longest gap {longest});"
            f" too many to interpolate (at most {_MAX_GAP_SLICES} in a row, and no more than the real ones):"
            " the series is incomplete"
        )


def _decode_slices(
    headers: Sequence[InstanceHeader], volume: NDArray[np.float32], slots: Iterable[int], workers: int
) -> None:
    def job(header: InstanceHeader, slot: int) -> None:
        decode_into(header, volume[slot : slot + 1])

    jobs = list(zip(headers, slots, strict=True))
    if workers <= 1 or len(jobs) < 4:
        for header, slot in jobs:
            job(header, slot)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(job, header, slot) for header, slot in jobs]:
            future.result()


def _fill_gaps(volume: NDArray[np.float32], slots: Sequence[int]) -> None:
    """Linear interpolation between the real slices on either side of each gap."""
    for before, after in itertools.pairwise(slots):
        for missing in range(before + 1, after):
            weight = (missing - before) / (after - before)
            np.multiply(volume[before], 1.0 - weight, out=volume[missing])
            volume[missing] += weight * volume[after]


def _resample_slices(
    staging: NDArray[np.float32], positions: NDArray[np.float64], volume: NDArray[np.float32], step: float
) -> None:
    for index in range(volume.shape[0]):
        where = index * step
        upper = int(np.clip(np.searchsorted(positions, where), 1, len(positions) - 1))
        lower = upper - 1
        span = positions[upper] - positions[lower]
        weight = float(np.clip((where - positions[lower]) / span, 0.0, 1.0))
        np.multiply(staging[lower], 1.0 - weight, out=volume[index])
        volume[index] += weight * staging[upper]


def _meta(plan: PlannedImage) -> ImageMeta:
    first = plan.first
    values = first.values
    return ImageMeta(
        modality=first.modality,
        body_part=(values.text(t.BODY_PART_EXAMINED) or "").upper() or None,
        view=(values.text(t.VIEW_POSITION) or "").upper() or None,
        photometric=first.photometric,
        units="HU" if first.modality is Modality.CT else (values.text(t.RESCALE_TYPE) or ""),
        frame_times_ms=first.frame_times_ms if plan.layout is Layout.CINE else (),
        window=_window(first),
        voi_lut=_voi_lut(first),
        bits_stored=first.bits_stored,
        warnings=plan.warnings,
    )


def _window(header: InstanceHeader) -> tuple[float, float] | None:
    centers, widths = header.values.numbers(t.WINDOW_CENTER), header.values.numbers(t.WINDOW_WIDTH)
    if not centers or not widths or widths[0] <= 0:
        return None
    c, w = centers[0], widths[0]
    if header.photometric == "MONOCHROME1":
        low, high = physical_range(header)
        c = low + high - c  # the pixels were turned around; so is the window
    return (c, w)


def _voi_lut(header: InstanceHeader) -> VoiLut | None:
    if t.VOI_LUT_SEQUENCE not in header.values or header.photometric == "MONOCHROME1":
        return None
    sequence = header.dataset.get("VOILUTSequence")  # rare: let pydicom read the table
    if not sequence:
        return None
    item = sequence[0]
    try:
        descriptor = [int(v) for v in item.LUTDescriptor]
        data = np.asarray(item.LUTData, dtype=np.float32).ravel()
        return VoiLut(
            first_mapped=descriptor[1], table=data, bits=descriptor[2], explanation=str(item.get("LUTExplanation", ""))
        )
    except (AttributeError, TypeError, ValueError, IndexError):
        return None


def _source(headers: Sequence[InstanceHeader]) -> SourceRef:
    first = headers[0]
    return SourceRef(
        study_uid=StudyUID(first.study_uid) if first.study_uid else None,
        series_uid=SeriesUID(first.series_uid) if first.series_uid else None,
        sop_instance_uids=tuple(SOPInstanceUID(h.sop_instance_uid) for h in headers),
        frame_of_reference_uid=first.frame_of_reference_uid,
        sop_class_uid=first.sop_class_uid,
        transfer_syntax=first.transfer_syntax,
        series_number=first.series_number,
    )


def _study_context(header: InstanceHeader) -> StudyContext:
    values = header.values  # the header's parsed values only: no file stays open

    def load() -> dict[str, Any]:
        found = {keyword: values.study_value(tag) for keyword, tag in STUDY_CONTEXT_TAGS.items()}
        return {keyword: value for keyword, value in found.items() if value not in (None, "")}

    return StudyContext.deferred(load)
