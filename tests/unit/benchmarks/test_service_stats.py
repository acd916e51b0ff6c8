"""Percentiles and memory windows of the service bench, against hand-computed values."""

from __future__ import annotations

import pytest
from benchmarks.service.stats import Percentiles, nearest_rank, windows_ratio


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 99, 5.0),
        ([3.0, 1.0, 2.0, 4.0], 50, 2.0),  # rank ceil(0.5 * 4) = 2
        ([3.0, 1.0, 2.0, 4.0], 75, 3.0),
        ([3.0, 1.0, 2.0, 4.0], 100, 4.0),
        ([float(v) for v in range(1, 101)], 99, 99.0),
        ([float(v) for v in range(1, 101)], 1, 1.0),
        ([float(v) for v in range(1, 201)], 99, 198.0),
    ],
)
def test_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert nearest_rank(values, q) == expected


@pytest.mark.parametrize("q", [0, -1, 100.5])
def test_nearest_rank_refuses_a_percentile_out_of_range(q: float) -> None:
    with pytest.raises(ValueError, match="percentile"):
        nearest_rank([1.0], q)


def test_nearest_rank_refuses_no_values() -> None:
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 50)


def test_percentiles_of_a_skewed_sample() -> None:
    seconds = [0.001] * 98 + [0.5, 1.0]
    assert Percentiles.of(seconds) == Percentiles(p50=0.001, p99=0.5, count=100)


def test_windows_ratio_compares_first_and_last_window() -> None:
    samples = [(float(t), 100.0 if t < 10 else 110.0) for t in range(60)]
    assert windows_ratio(samples, window_s=5) == (100.0, 110.0, 1.1)


def test_windows_ratio_takes_medians() -> None:
    samples = [(0.0, 100.0), (1.0, 1000.0), (2.0, 102.0), (8.0, 50.0), (9.0, 200.0), (10.0, 204.0)]
    assert windows_ratio(samples, window_s=2) == (102.0, 200.0, 200.0 / 102.0)


def test_windows_ratio_needs_samples() -> None:
    with pytest.raises(ValueError, match="no samples"):
        windows_ratio([], window_s=1)
