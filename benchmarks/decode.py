"""Decode throughput per sample file: ``medsight.io.read_image`` versus pydicom.

medsight's figure covers the whole public path (sniff, parse the header, plan, decode,
apply the Modality LUT) and yields float32 in physical units; pydicom's covers
``pydicom.dcmread(path).pixel_array``, its stored values. Both read the same file in the
same run, interleaved round by round.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file

from benchmarks.timing import Timing, interleaved
from medsight.errors import MedsightError
from medsight.io import read_image
from medsight.settings import ReadLimits

__all__ = ["PYDICOM_FILES", "DecodeResult", "Sample", "find_samples", "measure_decode"]

#: pydicom's bundled test files, for transfer syntaxes the shared samples lack.
PYDICOM_FILES = (
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm",
    "JPGExtended.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "MR_small_bigendian.dcm",
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One file to decode, described from its header."""

    label: str
    path: Path
    syntax: str
    pixels: str
    nbytes: int


@dataclass(frozen=True, slots=True)
class DecodeResult:
    """Both readers' timings on one sample, or why medsight could not read it."""

    sample: Sample
    medsight: Timing | None
    pydicom: Timing | None
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        """medsight throughput / pydicom throughput (best rounds); above 1 is faster."""
        if self.medsight is None or self.pydicom is None:
            return None
        return self.pydicom.best / self.medsight.best


def find_samples(shared: Path | None, workdir: Path) -> tuple[list[Sample], list[str]]:
    """The shared samples (zip archives extracted into ``workdir``) and pydicom's files.

    Returns:
        the samples, and notes on what was skipped.
    """
    notes: list[str] = []
    paths: list[tuple[str, Path]] = []
    samples_dir = shared / "samples" if shared is not None else None
    if samples_dir is None or not samples_dir.is_dir():
        notes.append(f"{samples_dir or 'shared/samples'} is absent: shared sample rows skipped")
    else:
        for path in sorted(p for p in samples_dir.rglob("*") if p.is_file()):
            relative = path.relative_to(samples_dir).as_posix()
            if path.suffix.lower() == ".zip":
                paths.extend(_extract(path, relative, workdir))
            elif path.suffix.lower() not in (".md", ".txt"):
                paths.append((relative, path))
    for name in PYDICOM_FILES:
        found = get_testdata_file(name)
        if found is None:
            notes.append(f"pydicom test file {name} is not installed: skipped")
        else:
            paths.append((f"pydicom:{name}", Path(str(found))))
    return [_describe(label, path) for label, path in paths], notes


def measure_decode(samples: list[Sample], *, min_seconds: float, rounds: int) -> list[DecodeResult]:
    """Time medsight and pydicom on every sample."""
    limits = ReadLimits()
    results: list[DecodeResult] = []
    for sample in samples:
        ours = _medsight_reader(sample.path, limits)
        try:
            ours()
        except MedsightError as error:
            results.append(DecodeResult(sample, None, None, f"{error.code}: {error.message}"))
            continue
        readers = [ours, _pydicom_reader(sample.path)]
        medsight, theirs = interleaved(readers, min_seconds=min_seconds, rounds=rounds)
        results.append(DecodeResult(sample, medsight, theirs))
    return results


def _medsight_reader(path: Path, limits: ReadLimits) -> Callable[[], object]:
    return lambda: read_image(path, limits, workers=1).pixels


def _pydicom_reader(path: Path) -> Callable[[], object]:
    return lambda: pydicom.dcmread(path).pixel_array


def _extract(archive: Path, relative: str, workdir: Path) -> list[tuple[str, Path]]:
    """Extract an archive's files (flattened, names only) and label them archive!member."""
    target = workdir / archive.stem
    target.mkdir(parents=True, exist_ok=True)
    extracted: list[tuple[str, Path]] = []
    with zipfile.ZipFile(archive) as handle:
        for info in handle.infolist():
            if info.is_dir():
                continue
            path = target / Path(info.filename).name
            path.write_bytes(handle.read(info))
            extracted.append((f"{relative}!{info.filename}", path))
    return extracted


def _describe(label: str, path: Path) -> Sample:
    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    frames = int(ds.get("NumberOfFrames") or 1)
    samples = int(ds.get("SamplesPerPixel") or 1)
    shape = [frames] if frames > 1 else []
    shape += [int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)]
    shape += [samples] if samples > 1 else []
    pixels = "x".join(str(n) for n in shape) + f" {int(ds.get('BitsAllocated') or 0)}-bit"
    name = syntax.name if syntax is not None else "Implicit VR Little Endian (no meta)"
    return Sample(label, path, str(name), pixels, path.stat().st_size)
