"""Where the time of ``medsight.io.read_image`` (or any call) goes: cProfile's top entries.

Also runnable alone: ``python -m benchmarks.profiling PATH [--workers N] [--top N]``.
cProfile sees the calling thread only: profile with one worker to see the decoding.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import site
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.timing import Timing, interleaved
from medsight.io import read_image, scan
from medsight.settings import ReadLimits

__all__ = ["profile_calls", "profile_read", "stage_split"]

_HARNESS = ("benchmarks/profiling.py", "benchmarks/models.py", "{method 'disable' of '_lsprof.Profiler' objects}")


def profile_read(path: Path, *, workers: int = 1, top: int = 10, min_seconds: float = 0.5) -> str:
    """Profile repeated reads of ``path`` and show the ``top`` entries three ways.

    Returns:
        Markdown tables (calls, own and cumulative seconds per read, function): all
        functions by cumulative time, medsight's functions by cumulative time, and all
        functions by own time.
    """
    limits = ReadLimits()
    return profile_calls(
        lambda: read_image(path, limits, workers),
        what=f"reads of `{path.name}`, workers={workers}; seconds per read",
        top=top,
        min_seconds=min_seconds,
    )


def profile_calls(func: Callable[[], object], *, what: str, top: int = 10, min_seconds: float = 0.5) -> str:
    """Profile repeated calls of ``func`` (after a warm-up) as :func:`profile_read` shows them.

    Args:
        func: the call to profile.
        what: completes "N ..." in the header, e.g. "reads of `x.dcm`; seconds per read".
        top: entries per table.
        min_seconds: least profiled duration (the call count is calibrated to it).
    """
    func()  # warm-up: lazy imports and caches are not the point
    start = time.perf_counter()
    func()
    calls = max(1, math.ceil(min_seconds / max(time.perf_counter() - start, 1e-6)))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        func()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    ours = {key: value for key, value in stats.items() if "/medsight/" in key[0]}
    return "\n\n".join(
        [
            f"{calls} {what} (cProfile overhead included: Python-heavy code looks slower).",
            "Top by cumulative time:\n\n" + _table(stats, 3, calls, top),
            "medsight's functions by cumulative time:\n\n" + _table(ours, 3, calls, top + 5),
            "Top by own time:\n\n" + _table(stats, 2, calls, top),
        ]
    )


def stage_split(
    path: Path,
    *,
    workers: int = 1,
    min_seconds: float = 0.3,
    rounds: int = 3,
) -> tuple[Timing, Timing]:
    """Time ``read_image``'s two stages apart, without a profiler.

    Returns:
        the timing of :func:`medsight.io.scan` (find files, sniff, parse headers, plan)
        and of :meth:`Scan.load` (decode to float32 and build the image).
    """
    limits = ReadLimits()
    planned = scan(path, limits)
    scanning, loading = interleaved(
        [lambda: scan(path, limits), lambda: planned.load(limits, workers)],
        min_seconds=min_seconds,
        rounds=rounds,
    )
    return scanning, loading


def _table(stats: dict[Any, Any], key: int, reads: int, top: int) -> str:
    entries = sorted(stats.items(), key=lambda item: item[1][key], reverse=True)
    lines = ["| calls/read | own s | cumulative s | function |", "|---:|---:|---:|---|"]
    for (filename, line, name), (_, calls, own, cumulative, _) in entries:
        where = _short(filename)
        if any(marker in f"{where} {name}" for marker in _HARNESS):
            continue
        location = f"{where}:{line}({name})" if line else name
        numbers = f"{calls / reads:g} | {own / reads:.5f} | {cumulative / reads:.5f}"
        lines.append(f"| {numbers} | `{location}` |")
        if len(lines) == top + 2:
            break
    return "\n".join(lines)


def _short(filename: str) -> str:
    """A path relative to site-packages or the repository, for a readable table."""
    roots = [*site.getsitepackages(), str(Path(__file__).resolve().parents[1]), sys.prefix]
    for root in sorted(roots, key=len, reverse=True):
        if filename.startswith(root):
            return filename[len(root) :].lstrip("/")
    return filename


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    print(profile_read(args.path, workers=args.workers, top=args.top))


if __name__ == "__main__":
    main()
