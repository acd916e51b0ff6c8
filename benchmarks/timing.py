"""Repeated wall-clock timing: calibrated loops, interleaved rounds, best and median;
per-call latency percentiles."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Latency", "Timing", "interleaved", "latencies"]


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds per call of one function over several rounds.

    Attributes:
        best: fastest round, seconds per call (least disturbed by other work).
        median: median round, seconds per call.
        calls: calls per round (chosen so that one round lasts at least the minimum).
        rounds: rounds measured.
    """

    best: float
    median: float
    calls: int
    rounds: int


@dataclass(frozen=True, slots=True)
class Latency:
    """Seconds of single calls: what one request waits, not an average over a loop.

    Attributes:
        p50: median call, seconds.
        p95: 95th percentile call, seconds (nearest rank).
        calls: calls measured.
    """

    p50: float
    p95: float
    calls: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        """Percentiles of measured call durations."""
        ordered = sorted(seconds)
        rank = max(0, math.ceil(0.95 * len(ordered)) - 1)
        return cls(p50=statistics.median(ordered), p95=ordered[rank], calls=len(ordered))


def interleaved(
    funcs: Sequence[Callable[[], object]],
    *,
    min_seconds: float,
    rounds: int,
) -> list[Timing]:
    """Time each function in turn, round after round, so that drift hits all alike.

    Each function is first called twice: a warm-up (lazy imports, caches), then a
    calibration of how many calls make a round last ``min_seconds``. Then every round
    times each function's loop.
    """
    calls = [_calls_per_round(func, min_seconds) for func in funcs]
    samples: list[list[float]] = [[] for _ in funcs]
    for _ in range(rounds):
        for func, count, times in zip(funcs, calls, samples, strict=True):
            start = time.perf_counter()
            for _ in range(count):
                func()
            times.append((time.perf_counter() - start) / count)
    return [
        Timing(best=min(times), median=statistics.median(times), calls=count, rounds=rounds)
        for times, count in zip(samples, calls, strict=True)
    ]


def _calls_per_round(func: Callable[[], object], min_seconds: float) -> int:
    func()
    start = time.perf_counter()
    func()
    once = max(time.perf_counter() - start, 1e-6)
    return max(1, math.ceil(min_seconds / once))


def latencies(funcs: Sequence[Callable[[], object]], *, calls: int, warmup: int = 2, block: int = 1) -> list[Latency]:
    """Time ``calls`` single calls of each function, taking turns between them.

    Taking turns puts every function under the same drift (another process, thermal
    state), so their ratio stays fair on a shared machine. Each function is first called
    ``warmup`` times (lazy imports, allocator and kernel caches are not the point).
    With ``block`` > 1, a turn is one untimed call and then ``block`` timed calls in a row:
    ONNX Runtime's worker threads spin for a while after each run and would slow down a
    torch call that follows at once, a cost of mixing runtimes, not of either one.
    """
    for func in funcs:
        for _ in range(warmup):
            func()
    samples: list[list[float]] = [[] for _ in funcs]
    for _ in range(math.ceil(calls / block)):
        for func, times in zip(funcs, samples, strict=True):
            if block > 1:
                func()
            for _ in range(block):
                start = time.perf_counter()
                func()
                times.append(time.perf_counter() - start)
    return [Latency.of(times[:calls]) for times in samples]
