"""Server memory under a mixed load: RSS from ``/proc`` while STOW, QIDO and WADO run.

``workers`` threads loop for ``duration_s``: each turn stores one batch of fresh
instances (new UIDs, rendered by the thread itself), runs three QIDO-RS queries and
retrieves one study. A sampler reads the server's ``VmRSS`` (and the sum over the
process and its descendants, for a server that forks workers) every ``every_s``. The
report compares the median of the first window with the median of the last.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.service.client import DicomWebClient
from benchmarks.service.stats import windows_ratio
from benchmarks.service.workload import Instance, Layout, Query, load_template, plan_instances, render

# Fresh instances of the load: 10 per STOW-RS request (one study of two series).
FRESH_LAYOUT = Layout(studies_per_patient=2, series_per_study=2, instances_per_series=5)

__all__ = ["FRESH_LAYOUT", "MemoryResult", "mixed_load", "rss_bytes", "tree_rss_bytes"]


def rss_bytes(pid: int) -> int:
    """Resident set of one process (``VmRSS`` in ``/proc/PID/status``), bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0  # a zombie has no VmRSS


def tree_rss_bytes(pid: int) -> int:
    """Resident sets of ``pid`` and all its descendants, summed (shared pages count twice)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += rss_bytes(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile
    return total


@dataclass(frozen=True, slots=True)
class MemoryResult:
    """RSS samples ``(seconds since start, bytes)`` and what the load did."""

    duration_s: float
    window_s: float
    samples: tuple[tuple[float, int], ...]
    tree_samples: tuple[tuple[float, int], ...]
    operations: dict[str, int]
    errors: tuple[str, ...] = field(default=())

    def window_medians(self, tree: bool = False) -> tuple[float, float, float]:
        """First-window median, last-window median (bytes) and last / first."""
        samples = self.tree_samples if tree else self.samples
        return windows_ratio([(at, float(value)) for at, value in samples], self.window_s)


@dataclass(frozen=True, slots=True)
class _Load:
    client: DicomWebClient
    queries: Sequence[Query]
    studies: Sequence[tuple[str, int]]
    layout: Layout
    seed: int
    first_study: int


def mixed_load(
    client: DicomWebClient,
    pid: int,
    *,
    duration_s: float,
    queries: Sequence[Query],
    studies: Sequence[tuple[str, int]],
    first_study: int,
    workers: int = 2,
    every_s: float = 1.0,
    layout: Layout = FRESH_LAYOUT,
    seed: int = 0,
) -> MemoryResult:
    """Load the server for ``duration_s`` and sample its RSS; windows are min(60 s, duration / 5)."""
    stop = threading.Event()
    counts: list[dict[str, int]] = []
    errors: list[str] = []
    threads = []
    for worker in range(workers):
        tally: dict[str, int] = {"STOW instances": 0, "QIDO": 0, "WADO studies": 0}
        counts.append(tally)
        load = _Load(client, queries, studies, layout, seed, first_study + worker * 1_000_000)
        thread = threading.Thread(target=_loop, args=(load, stop, tally, errors, worker), daemon=True)
        threads.append(thread)
    samples, tree = [], []
    began = time.monotonic()
    for thread in threads:
        thread.start()
    while (now := time.monotonic() - began) < duration_s and not errors:
        samples.append((now, rss_bytes(pid)))
        tree.append((now, tree_rss_bytes(pid)))
        time.sleep(every_s)
    stop.set()
    for thread in threads:
        thread.join()
    operations = {key: sum(tally[key] for tally in counts) for key in counts[0]}
    return MemoryResult(
        duration_s=duration_s,
        window_s=min(60.0, duration_s / 5),
        samples=tuple(samples),
        tree_samples=tuple(tree),
        operations=operations,
        errors=tuple(errors),
    )


def _loop(load: _Load, stop: threading.Event, tally: dict[str, int], errors: list[str], worker: int) -> None:
    template = copy.deepcopy(load_template())  # render() writes into its template
    queries = itertools.cycle(load.queries[worker:] or load.queries)
    studies = itertools.cycle(load.studies[worker:] or load.studies)
    per_study = load.layout.per_study
    try:
        for study in itertools.count(load.first_study):
            if stop.is_set():
                return
            fresh: list[Instance] = plan_instances(per_study, layout=load.layout, seed=load.seed, first_study=study)
            load.client.stow([render(template, item) for item in fresh])
            tally["STOW instances"] += per_study
            for _ in range(3):
                load.client.qido(next(queries))
                tally["QIDO"] += 1
            path, parts = next(studies)
            load.client.wado(path, parts=parts)
            tally["WADO studies"] += 1
    except Exception as exc:
        errors.append(f"worker {worker}: {type(exc).__name__}: {exc}")
