"""Repeated wall-clock timing: calibrated loops, interleaved rounds, best and median."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Timing", "interleaved"]


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
