"""Series assembly: ``medsight.io.read_image`` on a folder versus SimpleITK.

The parent (:func:`measure_series`) writes a synthetic CT series once, reads every file
so the page cache is warm for all readers, then runs each measurement in a fresh child
process (``python -m benchmarks.series READER FOLDER``), so that no reader inherits
another's memory. A child imports everything and reads a tiny warm-up series first;
then it times one read and reports the increase of its peak RSS over its RSS just
before the read: the peak is ``VmHWM`` of ``/proc/self/status``, reset to the current RSS
just before the read (``/proc/self/clear_refs``), minus ``/proc/self/statm``. Not
``ru_maxrss``: Linux carries it across ``exec`` from the parent, so a child of a parent
holding 500 MB (``benchmarks.run`` with torch loaded and the decode section done)
reported 493 MiB for a read that peaks at 304 MiB.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK
from numpy.typing import NDArray
from tests.data.synthetic import expected_volume, write_ct_series

from medsight.io import read_image
from medsight.settings import ReadLimits

__all__ = ["SeriesResult", "SeriesRow", "measure_series"]

# SimpleITK's SWIG bindings declare no types; treat the module as untyped once, here.
sitk: Any = SimpleITK

REPO_ROOT = Path(__file__).resolve().parents[1]
ROWS = COLUMNS = 512
READERS = ("medsight", "simpleitk")


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """One reader configuration over all its runs.

    Attributes:
        reader: ``medsight`` or ``simpleitk``.
        workers: medsight's thread count (SimpleITK: its default, reported as 0).
        best: fastest run, seconds.
        median: median run, seconds.
        runs: fresh processes measured.
        peak_rss_delta: largest peak-RSS increase over the runs, bytes.
    """

    reader: str
    workers: int
    best: float
    median: float
    runs: int
    peak_rss_delta: int


@dataclass(frozen=True, slots=True)
class SeriesResult:
    """Everything measured on one synthetic series."""

    slices: int
    files: int
    folder_bytes: int
    write_seconds: float
    rows: tuple[SeriesRow, ...]
    checks: dict[str, bool]

    @property
    def volume_bytes(self) -> int:
        """Size of the assembled volume as float32."""
        return self.slices * ROWS * COLUMNS * 4

    def row(self, reader: str, workers: int | None = None) -> SeriesRow:
        return next(r for r in self.rows if r.reader == reader and workers in (None, r.workers))


def measure_series(workdir: Path, *, slices: int, repeats: int) -> SeriesResult:
    """Write the series, verify medsight against SimpleITK, and time both."""
    folder, warmup = workdir / "series", workdir / "warmup"
    start = time.perf_counter()
    paths = write_ct_series(folder, slices=slices, rows=ROWS, columns=COLUMNS)
    write_seconds = time.perf_counter() - start
    write_ct_series(warmup, slices=4, rows=32, columns=32, seed=1)
    folder_bytes = sum(len(path.read_bytes()) for path in paths)  # warms the page cache
    checks = _child("verify", folder, warmup, 1)["checks"]
    configs = [("simpleitk", 0), ("medsight", 1)]
    if (os.cpu_count() or 1) > 1:
        configs.append(("medsight", os.cpu_count() or 1))
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {config: [] for config in configs}
    for _ in range(repeats):
        for reader, workers in configs:
            runs[(reader, workers)].append(_child(reader, folder, warmup, workers))
    rows = tuple(
        SeriesRow(
            reader=reader,
            workers=workers,
            best=min(run["seconds"] for run in measured),
            median=statistics.median(run["seconds"] for run in measured),
            runs=len(measured),
            peak_rss_delta=max(run["peak_rss_delta"] for run in measured),
        )
        for (reader, workers), measured in runs.items()
    )
    return SeriesResult(slices, len(paths), folder_bytes, write_seconds, rows, checks)


def _child(reader: str, folder: Path, warmup: Path, workers: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.series", reader, str(folder)]
    command += ["--warmup", str(warmup), "--workers", str(workers)]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child {reader} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- the child process ---------------------------------------------------------------


def _read_medsight(folder: Path, workers: int) -> NDArray[np.float32]:
    return read_image(folder, ReadLimits(), workers=workers).pixels


def _read_simpleitk(folder: Path) -> tuple[NDArray[Any], Any]:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    return sitk.GetArrayFromImage(image), image


def _current_rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> None:
    """Set this process's high-water RSS mark to its current RSS (Linux 4.0+; else left as it is)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss() -> int:
    """The high-water RSS of this process image (``VmHWM``), bytes; ``ru_maxrss`` where there is none."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _timed(reader: str, folder: Path, workers: int) -> dict[str, Any]:
    gc.collect()
    _reset_peak_rss()
    before = _current_rss()
    start = time.perf_counter()
    if reader == "medsight":
        array: NDArray[Any] = _read_medsight(folder, workers)
    else:
        array, _ = _read_simpleitk(folder)
    seconds = time.perf_counter() - start
    peak = _peak_rss()
    return {
        "seconds": seconds,
        "peak_rss_delta": peak - before,
        "shape": list(array.shape),
        "dtype": str(array.dtype),
    }


def _verify(folder: Path) -> dict[str, Any]:
    """Compare medsight's volume with SimpleITK's and with the synthetic formula."""
    image = read_image(folder, ReadLimits(), workers=1)
    theirs, sitk_image = _read_simpleitk(folder)
    ours, geometry = image.pixels, image.geometry
    expected = expected_volume(len(list(folder.glob("*.dcm"))), ROWS, COLUMNS)
    axes = np.asarray(sitk_image.GetDirection()).reshape(3, 3)  # column i: index axis i (x,y,z)
    same_shape = ours.shape == theirs.shape
    checks = {
        "same shape as SimpleITK": same_shape,
        "same values as SimpleITK": same_shape and bool(np.array_equal(ours, theirs)),
        "values match the synthetic formula": bool(np.array_equal(ours, expected)),
        "same spacing": bool(np.allclose(geometry.spacing, sitk_image.GetSpacing()[::-1])),
        "same origin": bool(np.allclose(geometry.origin, sitk_image.GetOrigin(), atol=1e-4)),
        "same direction": bool(np.allclose(geometry.direction, axes.T[::-1], atol=1e-6)),
        "no warnings": not image.meta.warnings,
    }
    return {"checks": checks}


def main(argv: list[str] | None = None) -> None:
    """Child entry point: print one JSON line with the measurement."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reader", choices=[*READERS, "verify"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--warmup", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.reader == "verify":
        print(json.dumps(_verify(args.folder)))
        return
    if args.reader == "medsight":
        _read_medsight(args.warmup, args.workers)
    else:
        _read_simpleitk(args.warmup)
    print(json.dumps(_timed(args.reader, args.folder, args.workers)))


if __name__ == "__main__":
    main()
