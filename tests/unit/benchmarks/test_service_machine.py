"""CPU accounting of the service bench: /proc/stat parsing and the share of other work."""

from __future__ import annotations

import os

import pytest
from benchmarks.service.machine import CpuShare, CpuWatch, busy_seconds, own_seconds


def test_busy_seconds_sums_the_busy_columns() -> None:
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal guest guest_nice
    line = f"cpu  {tick} {tick} {tick} 999999 999999 {tick} {tick} {tick} 5 5\n"
    assert busy_seconds(line) == pytest.approx(6.0)


def test_others_are_what_the_bench_did_not_use() -> None:
    share = CpuShare(wall_s=10.0, machine_s=15.0, bench_s=11.0, cores=2)
    assert share.others_s == 4.0
    assert share.others_fraction == pytest.approx(0.2)
    assert CpuShare(wall_s=10.0, machine_s=5.0, bench_s=6.0, cores=2).others_s == 0.0


def test_watch_on_this_machine() -> None:
    before = own_seconds()
    watch = CpuWatch()
    sum(i * i for i in range(200_000))
    share = watch.stop(wall_s=1.0)
    assert share.machine_s >= 0
    assert own_seconds() >= before
    assert share.cores == os.cpu_count()
