"""Row bands on several cores give the same arrays, bit for bit, as one pass on one core."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from medsight import parallel
from medsight.imaging.window import apply_window
from medsight.io.dicom.pixels import _rescale
from medsight.parallel import map_row_bands, row_bands, run_parts
from medsight.tasks.acceptance import _value_range
from medsight.tasks.preprocess import resize_area_batch


@pytest.fixture
def four_cores_small_bands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend four cores and bands of 64 cells, so that small arrays are cut too."""
    monkeypatch.setattr(parallel, "cores", lambda: 4)
    monkeypatch.setattr(parallel, "MIN_BAND_CELLS", 64)


def _one_band(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "cores", lambda: 1)


@pytest.mark.parametrize(("rows", "cells", "least", "cores", "expected"), [
    (2048, 2048, 256 * 1024, 2, 2),  # a 2048 px plane: one band per core
    (2048, 2048, 256 * 1024, 64, 16),  # no band under the least cells, however many cores
    (100, 100, 256 * 1024, 2, 1),  # too small to share
    (3, 10**6, 1, 8, 3),  # never more bands than rows
    (0, 10, 1, 4, 1),  # nothing at all is still one (empty) band
])  # fmt: skip
def test_row_bands_cover_every_row_once_in_order(
    monkeypatch: pytest.MonkeyPatch, rows: int, cells: int, least: int, cores: int, expected: int
) -> None:
    monkeypatch.setattr(parallel, "cores", lambda: cores)
    bands = row_bands(rows, cells, min_cells=least)
    assert len(bands) == expected
    covered = [row for band in bands for row in range(band.start, band.stop)]
    assert covered == list(range(rows))


@pytest.mark.usefixtures("four_cores_small_bands")
def test_map_row_bands_returns_results_in_band_order_and_uses_other_threads() -> None:
    seen: list[str] = []
    results = map_row_bands(lambda band: (seen.append(threading.current_thread().name), band.start)[1], 40, 16)
    assert results == [0, 10, 20, 30]
    assert seen.count(threading.current_thread().name) >= 1  # the caller works its own band
    assert any(name.startswith("medsight-band") for name in seen)


def test_a_failing_part_is_raised_after_every_part_has_finished() -> None:
    finished: list[int] = []
    release = threading.Event()

    def part(i: int) -> int:
        if i == 0:
            raise ValueError("part 0 failed")
        release.wait(5)
        finished.append(i)
        return i

    threading.Timer(0.05, release.set).start()
    with pytest.raises(ValueError, match="part 0 failed"):
        run_parts(part, 3)
    assert sorted(finished) == [1, 2]  # nobody was still writing when the error came out


def _child_runs_parts(queue: multiprocessing.Queue[list[int]]) -> None:
    queue.put(run_parts(lambda i: i * i, 3))


def test_a_forked_child_gets_a_pool_of_its_own() -> None:
    run_parts(lambda i: i, 2)  # the parent's pool exists, with its threads
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[list[int]] = context.Queue()
    child = context.Process(target=_child_runs_parts, args=(queue,))
    child.start()
    child.join(30)
    assert child.exitcode == 0  # the inherited pool has no threads: using it would hang
    assert queue.get(timeout=5) == [0, 1, 4]


def test_window_in_bands_is_bit_for_bit_one_pass_and_finds_nan_in_any_band(monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = np.random.default_rng(0).normal(1000, 400, size=(37, 29)).astype(np.float32)
    pixels[30, 5] = np.nan  # in the last band only
    pixels[2, 2], pixels[20, 1] = np.inf, -np.inf
    _one_band(monkeypatch)
    single = apply_window(pixels, 1040.0, 801.0)
    monkeypatch.setattr(parallel, "cores", lambda: 4)
    monkeypatch.setattr(parallel, "MIN_BAND_CELLS", 64)
    assert len(row_bands(37, 29)) == 4
    banded = apply_window(pixels, 1040.0, 801.0)
    np.testing.assert_array_equal(banded, single)
    assert (banded[30, 5], banded[2, 2], banded[20, 1]) == (0.0, 1.0, 0.0)


@pytest.mark.usefixtures("four_cores_small_bands")
@pytest.mark.parametrize(("slope", "intercept"), [(1.0, 0.0), (1.0, -1024.0), (0.5, 0.0), (-2.0, 7.0)])
def test_rescale_in_bands_writes_every_row(slope: float, intercept: float) -> None:
    stored = np.random.default_rng(1).integers(0, 4096, size=(3, 21, 17), dtype=np.uint16)
    out = np.full(stored.shape, np.nan, dtype=np.float32)
    _rescale(stored, slope, intercept, out)
    expected = stored.astype(np.float32) * np.float32(slope) + np.float32(intercept)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.usefixtures("four_cores_small_bands")
def test_rescale_into_a_strided_target_still_writes_it() -> None:
    stored = np.arange(12 * 10, dtype=np.uint16).reshape(12, 10)
    backing = np.zeros((12, 20), dtype=np.float32)
    target = backing[:, ::2]  # not contiguous: a reshape would write into a copy
    _rescale(stored, 2.0, 1.0, target)
    np.testing.assert_array_equal(target, stored.astype(np.float32) * 2 + 1)


@pytest.mark.parametrize("shape", [(2, 90, 64), (1, 100, 77)])
def test_block_means_in_bands_are_bit_for_bit_one_pass(monkeypatch: pytest.MonkeyPatch, shape: tuple[int, ...]) -> None:
    planes = np.random.default_rng(2).random(shape, dtype=np.float32)
    _one_band(monkeypatch)
    single = resize_area_batch(planes, (20, 15))
    monkeypatch.setattr(parallel, "cores", lambda: 4)
    monkeypatch.setattr(parallel, "MIN_BAND_CELLS", 64)
    np.testing.assert_array_equal(resize_area_batch(planes, (20, 15)), single)


@pytest.mark.usefixtures("four_cores_small_bands")
def test_value_range_in_bands_is_the_whole_arrays_and_propagates_nan() -> None:
    pixels = np.random.default_rng(3).normal(size=(50, 40)).astype(np.float32)
    assert _value_range(pixels) == (float(pixels.min()), float(pixels.max()))
    pixels[45, 3] = np.nan
    low, high = _value_range(pixels)
    assert np.isnan([low, high]).all()


def _spin_in_fresh_interpreter(code: str, **env: str) -> str:
    environment = {key: value for key, value in os.environ.items() if key != "GOMP_SPINCOUNT"} | env
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_short_openmp_spin_is_set_before_torch_loads_and_never_over_the_users_value() -> None:
    show = (
        "import os; from medsight.parallel import short_openmp_spin as s; print(s(), os.environ.get('GOMP_SPINCOUNT'))"
    )
    assert _spin_in_fresh_interpreter(show) == "True 30000"
    assert _spin_in_fresh_interpreter(show, GOMP_SPINCOUNT="5") == "False 5"
    # libgomp has read its settings once torch is loaded: setting the variable then would only mislead.
    assert _spin_in_fresh_interpreter("import torch; " + show) == "False None"
