"""One large array's work shared among the machine's cores, in bands of rows.

numpy's element-wise functions and reductions release the GIL on large arrays but use
one core. A 2048 x 2048 radiograph's float32 plane is 16 MiB, and each pass over it
(stored values to float32, the window, min and max, the block sums of a resize) costs
1-3 ms on one core: :func:`map_row_bands` runs such a pass on one band of rows per
core, the first in the calling thread, the others in a pool of threads shared by the
process (2 cores: 3.3 -> 1.9 ms for the window of that plane). Arrays under
:data:`MIN_BAND_CELLS` per band stay on one thread: below that, handing work over costs
more than it saves.

:func:`run_parts` is the same for work already cut into parts (a PNG's deflate).

Those threads share the cores with torch's OpenMP threads, which spin for about 3 ms
(libgomp's default of 300,000 rounds) after each parallel region before they sleep: a
band handed over right after Grad-CAM waited for a spinning thread's core, and the
heatmap's banded resize took 2 ms longer instead of 0.5 ms shorter.
:func:`short_openmp_spin`, called by the ``medsight`` command on start, cuts the spin
to a tenth; the 2048 px DICOM's overlay and PNG step 11.9 -> 8.8 ms, while a model's
forward pass and a training step kept their times (5.4 / 5.6 ms and 55.9 / 56.1 ms).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from numpy.typing import NDArray

__all__ = [
    "MIN_BAND_CELLS",
    "OPENMP_SPIN_COUNT",
    "as_rows",
    "cores",
    "map_row_bands",
    "row_bands",
    "run_parts",
    "short_openmp_spin",
]

T = TypeVar("T")

#: Fewest array cells (pixels times channels) worth a band of their own: 1 MiB of float32.
MIN_BAND_CELLS = 256 * 1024

#: Busy-wait rounds of an idle OpenMP thread before it sleeps (libgomp's default: 300,000).
OPENMP_SPIN_COUNT = 30_000

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def short_openmp_spin(spin_count: int = OPENMP_SPIN_COUNT) -> bool:
    """Let torch's idle OpenMP threads sleep after ``spin_count`` rounds (see the module docstring).

    libgomp reads ``GOMP_SPINCOUNT`` once, when torch loads it: this sets the variable for
    this process (and its children) only while torch is not yet imported, and never over
    a value the user gave.

    Returns:
        True when it set the variable.
    """
    if "torch" in sys.modules or "GOMP_SPINCOUNT" in os.environ:
        return False
    os.environ["GOMP_SPINCOUNT"] = str(spin_count)
    return True


def row_bands(rows: int, cells_per_row: int, *, min_cells: int | None = None) -> list[slice]:
    """Consecutive bands of ``rows`` rows, one per core at most, each of at least ``min_cells``
    cells (default :data:`MIN_BAND_CELLS`).

    A single band (``slice(0, rows)``) when the array is too small to share.
    """
    least = MIN_BAND_CELLS if min_cells is None else max(min_cells, 1)
    parts = max(1, min(cores(), rows, (rows * max(cells_per_row, 1)) // least))
    cuts = [rows * i // parts for i in range(parts + 1)]
    return [slice(cuts[i], cuts[i + 1]) for i in range(parts)]


def as_rows(array: NDArray[Any]) -> NDArray[Any]:
    """``array`` as ``(rows, last axis)`` for :func:`map_row_bands`: a view where the layout
    allows (a copy otherwise, so write into a fresh contiguous array's rows); a 0- or 1-D
    array is one row."""
    return array.reshape(-1, array.shape[-1]) if array.ndim > 1 else array.reshape(1, -1)


def map_row_bands(
    func: Callable[[slice], T], rows: int, cells_per_row: int, *, min_cells: int | None = None
) -> list[T]:
    """``func(band)`` for each of :func:`row_bands`, at once on several cores; results in band order.

    ``func`` must only write rows of its own band: bands run concurrently.
    """
    bands = row_bands(rows, cells_per_row, min_cells=min_cells)
    return run_parts(lambda i: func(bands[i]), len(bands))


def run_parts(func: Callable[[int], T], count: int) -> list[T]:
    """``func(i)`` for ``i`` in ``range(count)``, part 0 in the calling thread and the rest in the shared pool.

    The caller works rather than waits, so one part costs no hand-over at all. An
    exception in any part is raised here, after every part has finished.
    """
    if count <= 1:
        return [func(0)] if count == 1 else []
    pool = _shared_pool()
    helpers: list[Future[T]] = [pool.submit(func, i) for i in range(1, count)]
    try:
        first = func(0)
    finally:
        # Wait for every helper even when part 0 failed: they may be writing into the
        # caller's arrays, which must not be reused while they do.
        for helper in helpers:
            helper.exception()
    return [first, *(helper.result() for helper in helpers)]


def _forget_pool() -> None:
    # A forked child inherits the pool object but not its threads: work handed to it
    # would wait forever. The child makes its own on first use.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _shared_pool() -> ThreadPoolExecutor:
    # One pool for the process, made on first use: threads are not started for commands
    # that never touch a large array. Parts never wait on other parts, so callers in
    # several threads at once (the service's workers) can share it without deadlock.
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(1, cores() - 1), thread_name_prefix="medsight-band")
        return _pool
