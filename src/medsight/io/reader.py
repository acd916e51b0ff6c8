"""Reading any supported input into :class:`~medsight.imaging.Image` objects.

Two steps, so that callers who only need to know what is there never decode pixels:

1. :func:`scan` finds the files (file, folder, DICOMDIR, zip), parses DICOM headers,
   groups and checks series, and returns a :class:`Scan` of planned images plus
   the files that failed, each with its typed error;
2. :meth:`Scan.load` (or :func:`read`) decodes the pixels.

A bad file never stops a folder: it is reported by path and the rest is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from medsight.errors import (
    InputError,
    MedsightError,
    MissingPixelDataError,
    NoImagesFoundError,
    UnsupportedFormatError,
)
from medsight.imaging import Image, Layout
from medsight.io.detect import FileKind, sniff
from medsight.io.dicom.header import InstanceHeader, read_header
from medsight.io.dicom.parse import parse_member, translating
from medsight.io.dicom.series import PlannedImage, plan_images
from medsight.io.dicom.tags import BODY_PART_EXAMINED
from medsight.io.sources import Member, iter_folder, iter_zip, open_path
from medsight.settings import ReadLimits

__all__ = ["ImageSummary", "PendingFile", "ReadFailure", "Scan", "read", "read_image", "scan"]

#: A single file smaller than this is read in one call and parsed from memory (see
#: :func:`~medsight.io.sources.open_path`); larger ones are read where they are needed.
_READ_WHOLE_BELOW = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReadFailure:
    """A file that could not be read, and why (a MedsightError code and message)."""

    label: str
    code: str
    message: str

    @classmethod
    def of(cls, label: str, error: MedsightError) -> ReadFailure:
        return cls(label=label, code=error.code, message=error.message)


@dataclass(frozen=True, slots=True)
class ImageSummary:
    """What ``medsight info`` shows of one image; no patient data."""

    label: str
    format: str
    layout: Layout
    modality: str
    body_part: str | None
    shape: tuple[int, ...]
    spacing: tuple[float, ...] | None
    frames: int
    transfer_syntax: str | None
    transfer_syntax_name: str | None
    instances: int
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PendingFile:
    """A non-DICOM image file found in a folder, read only when asked (folders can be large)."""

    label: str
    format: str  # "raster" or "nifti"
    path: Path

    def load(self, limits: ReadLimits, workers: int = 1) -> Image:
        """Read the image (typed errors as :func:`read_image`)."""
        if self.format == "nifti":
            from medsight.io.nifti import read_nifti

            return read_nifti(self.path, limits)
        from medsight.io.raster import read_raster

        return read_raster(self.path, limits)


@dataclass(eq=False)
class Scan:
    """What an input holds: planned DICOM images, other images (read or pending), and failures."""

    planned: list[PlannedImage] = field(default_factory=list)
    loaded: list[tuple[str, str, Image]] = field(default_factory=list)  # (label, format, image)
    pending: list[PendingFile] = field(default_factory=list)
    failures: list[ReadFailure] = field(default_factory=list)
    skipped: list[ReadFailure] = field(default_factory=list)  # not images: not DICOM, or no pixels

    def summaries(self, limits: ReadLimits | None = None) -> list[ImageSummary]:
        """One summary per image, DICOM series first, in the order found.

        Pending files are read to be summarised; those that fail join :attr:`failures`.
        """
        out = [_summarise_plan(p) for p in self.planned]
        out += [_summarise_image(label, fmt, image) for label, fmt, image in self.loaded]
        for pending in self.pending:
            try:
                out.append(_summarise_image(pending.label, pending.format, pending.load(limits or ReadLimits())))
            except MedsightError as error:
                self.failures.append(ReadFailure.of(pending.label, error))
        self.pending = []
        return out

    def load(self, limits: ReadLimits, workers: int = 1) -> tuple[list[Image], list[ReadFailure]]:
        """Decode every image; images that fail to decode join the failures."""
        images = [image for _, _, image in self.loaded]
        failures = list(self.failures)
        items: list[PlannedImage | PendingFile] = [*self.planned, *self.pending]
        for item in items:
            try:
                images.append(item.load(limits, workers))
            except MedsightError as error:
                failures.append(ReadFailure.of(item.label, error))
        return images, failures


def scan(path: Path, limits: ReadLimits) -> Scan:
    """Find and plan every image under ``path`` without decoding pixels.

    Raises:
        InputError: ``path`` itself is missing, or is a single file that cannot be read.
    """
    path = Path(path)
    if path.is_dir():
        return _scan_members(iter_folder(path), limits)
    member = open_path(path, read_below=_READ_WHOLE_BELOW)
    with member.open() as stream:
        kind = sniff(stream, member.label)
    if kind is FileKind.ZIP:
        return _scan_members(iter_zip(path, limits), limits)
    if kind is FileKind.DICOMDIR:
        return _scan_members(_iter_dicomdir(path), limits)
    if kind is FileKind.DICOM:
        result = _scan_members([member], limits, known=kind)  # sniffed already: not again
        if result.failures:  # a single file: its failure is the answer
            failure = result.failures[0]
            raise _error_from(failure)
        return result
    if kind is FileKind.NIFTI:
        from medsight.io.nifti import read_nifti

        return Scan(loaded=[(member.label, "nifti", read_nifti(path, limits))])
    if kind is FileKind.RASTER:
        from medsight.io.raster import read_raster

        return Scan(loaded=[(member.label, "raster", read_raster(path, limits))])
    raise UnsupportedFormatError(f"{path}: not a DICOM, NIfTI, PNG, JPEG, TIFF or zip file")


def read(path: Path, limits: ReadLimits, workers: int = 1) -> tuple[list[Image], list[ReadFailure]]:
    """Read every image under ``path``; bad files are returned as failures, not raised."""
    return scan(path, limits).load(limits, workers)


def read_image(path: Path, limits: ReadLimits, workers: int = 1) -> Image:
    """Read exactly one image (a file, or a folder holding one series).

    Raises:
        NoImagesFoundError: nothing readable was found.
        InputError: ``path`` holds several images, or its only image failed.
    """
    images, failures = read(path, limits)
    if len(images) == 1:
        return images[0]
    if not images:
        if failures:
            raise _error_from(failures[0])
        raise NoImagesFoundError(f"{path}: no readable image found")
    raise InputError(f"{path}: holds {len(images)} images; give the file or series folder of one")


def _scan_members(members: Iterable[Member], limits: ReadLimits, known: FileKind | None = None) -> Scan:
    """Plan every member; ``known``, when given, is every member's kind, sniffed already."""
    result = Scan()
    dicom: list[Member] = []
    sniffed = ((member, known) for member in members) if known is not None else _sniffed(members, limits, result)
    for member, kind in sniffed:
        if kind is FileKind.DICOM:
            dicom.append(member)
        elif kind in (FileKind.RASTER, FileKind.NIFTI) and member.path is not None:
            result.pending.append(
                PendingFile(member.label, "raster" if kind is FileKind.RASTER else "nifti", member.path)
            )
        elif kind is not FileKind.DICOMDIR:  # a DICOMDIR's files are in the folder already
            result.skipped.append(ReadFailure(member.label, UnsupportedFormatError.code, "not DICOM"))
    headers: list[InstanceHeader] = []
    # Headers are parsed serially: pydicom's parser is pure Python and holds the GIL, so
    # threads only contend here (measured in BENCHMARKS.md). Pixel decoding is threaded.
    for member in dicom:
        outcome = _header_or_failure(member, limits)
        if isinstance(outcome, ReadFailure):
            # An object without pixels (a report, a plan) is valid DICOM, just not an image.
            target = result.skipped if outcome.code == MissingPixelDataError.code else result.failures
            target.append(outcome)
        else:
            headers.append(outcome)
    planned, failed = plan_images(headers)
    result.planned.extend(planned)
    result.failures.extend(ReadFailure.of(label, error) for label, error in failed)
    if not result.planned and not result.failures and not result.pending:
        if len(result.skipped) == 1 and result.skipped[0].code == MissingPixelDataError.code:
            raise MissingPixelDataError(result.skipped[0].message)
        raise NoImagesFoundError("no image found in the input")
    return result


def _sniffed(members: Iterable[Member], limits: ReadLimits, result: Scan) -> Iterator[tuple[Member, FileKind]]:
    """Each member with its kind; zip archives found in a folder are opened in place."""
    for member in members:
        try:
            with member.open() as stream:
                kind = sniff(stream, member.label)
        except MedsightError as error:
            result.failures.append(ReadFailure.of(member.label, error))
            continue
        if kind is FileKind.ZIP and member.path is not None:
            try:
                yield from _sniffed(list(iter_zip(member.path, limits)), limits, result)
            except MedsightError as error:
                result.failures.append(ReadFailure.of(member.label, error))
            continue
        yield member, kind


def _header_or_failure(member: Member, limits: ReadLimits) -> InstanceHeader | ReadFailure:
    try:
        parsed = parse_member(member)
        with translating(member.label, "reading the header"):
            return read_header(member, parsed, limits)
    except MedsightError as error:
        return ReadFailure.of(member.label, error)


def _iter_dicomdir(path: Path) -> Iterator[Member]:
    """The files a DICOMDIR references (PS3.10 media directory), relative to its folder."""
    import pydicom

    with path.open("rb") as stream, translating(str(path), "reading the DICOMDIR"):
        directory = pydicom.dcmread(stream)
        records = list(directory.get("DirectoryRecordSequence") or ())
        references = [record.get("ReferencedFileID") for record in records]
    root = path.parent
    for reference in references:
        if not reference:
            continue
        parts = [reference] if isinstance(reference, str) else list(reference)
        if any(part in ("..", "") or os.sep in part for part in parts):
            continue  # refuse references that leave the media folder
        candidate = root.joinpath(*parts)
        yield open_path(candidate)


def _error_from(failure: ReadFailure) -> MedsightError:
    """Rebuild the typed error of a failure (the same class, by code)."""
    from medsight import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, MedsightError) and cls.code == failure.code:
            return cls(failure.message)
    return InputError(failure.message)


def _summarise_plan(plan: PlannedImage) -> ImageSummary:
    geometry = plan.geometry
    spacing = geometry.spacing if plan.layout is Layout.VOLUME else geometry.spacing[1:]
    return ImageSummary(
        label=plan.label,
        format="dicom",
        layout=plan.layout,
        modality=plan.first.modality.value,
        body_part=(plan.first.values.text(BODY_PART_EXAMINED) or "").upper() or None,
        shape=plan.shape,
        spacing=spacing if geometry.spacing_known else None,
        frames=plan.slices,
        transfer_syntax=plan.first.transfer_syntax,
        transfer_syntax_name=_syntax_name(plan.first.transfer_syntax),
        instances=len(plan.headers),
        warnings=plan.warnings,
    )


def _summarise_image(label: str, fmt: str, image: Image) -> ImageSummary:
    geometry = image.geometry
    spacing = geometry.spacing if image.layout is Layout.VOLUME else geometry.spacing[1:]
    return ImageSummary(
        label=label,
        format=fmt,
        layout=image.layout,
        modality=image.meta.modality.value,
        body_part=image.meta.body_part,
        shape=image.shape,
        spacing=spacing if geometry.spacing_known else None,
        frames=image.frames,
        transfer_syntax=None,
        transfer_syntax_name=None,
        instances=1,
        warnings=image.meta.warnings,
    )


def _syntax_name(uid: str) -> str:
    from pydicom.uid import UID

    name = UID(uid).name
    return name if name != uid else "unknown"
