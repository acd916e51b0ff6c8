"""keep_freed_memory: a freed image-sized block is reused, not faulted in afresh."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from medsight.allocator import keep_freed_memory

# Minor page faults per 16 MiB plane made and freed (after a warm-up), in a fresh process.
_FAULTS = """
import resource, sys
import numpy as np
from medsight.allocator import keep_freed_memory
if sys.argv[1] == "on":
    assert keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    plane = np.ones((2048, 2048), np.float32) * 2
    del plane
before = faults()
for _ in range(10):
    plane = np.ones((2048, 2048), np.float32) * 2
    del plane
print((faults() - before) / 10)
"""

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")


def _faults_per_plane(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True)
    return float(done.stdout)


@glibc_only
def test_freed_planes_are_reused_instead_of_faulted_in_again() -> None:
    off, on = _faults_per_plane("off"), _faults_per_plane("on")
    assert on < 16, on  # nothing left to fault in: the heap holds the freed planes
    assert off > 4 * max(on, 1.0), (off, on)  # and the default allocator really did fault


@glibc_only
def test_it_reports_that_the_thresholds_were_set() -> None:
    assert keep_freed_memory() is True
