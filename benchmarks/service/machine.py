"""How busy the machine was with other work while the bench ran.

Busy CPU seconds of the whole machine come from ``/proc/stat``; the bench's own come from
:func:`os.times` (this process, plus the servers once they have been waited for). The
difference is what other processes took: on a shared machine, the figures of a run
that competed with much other work are slower than the servers can be.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["CpuShare", "CpuWatch", "busy_seconds", "own_seconds"]

# /proc/stat "cpu" columns: user nice system idle iowait irq softirq steal (guest time is in user)
_BUSY_COLUMNS = (0, 1, 2, 5, 6, 7)


def busy_seconds(stat: str | None = None) -> float:
    """CPU seconds the machine spent busy since boot, all cores (``/proc/stat``'s first line)."""
    if stat is None:
        with open("/proc/stat", encoding="ascii") as handle:
            stat = handle.readline()
    fields = [int(value) for value in stat.split()[1:9]]
    return sum(fields[column] for column in _BUSY_COLUMNS) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds of this process and of the children it has waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass(frozen=True, slots=True)
class CpuShare:
    """CPU seconds over a span of wall time: the machine's, the bench's, and the rest."""

    wall_s: float
    machine_s: float
    bench_s: float
    cores: int

    @property
    def others_s(self) -> float:
        return max(0.0, self.machine_s - self.bench_s)

    @property
    def others_fraction(self) -> float:
        """Share of the machine's capacity (cores x wall time) that other processes used."""
        return self.others_s / (self.cores * self.wall_s) if self.wall_s > 0 else 0.0


class CpuWatch:
    """``CpuWatch()`` at the start, ``.stop(wall_s)`` at the end (after the servers have exited)."""

    def __init__(self) -> None:
        self._machine, self._own = busy_seconds(), own_seconds()

    def stop(self, wall_s: float) -> CpuShare:
        return CpuShare(
            wall_s=wall_s,
            machine_s=busy_seconds() - self._machine,
            bench_s=own_seconds() - self._own,
            cores=os.cpu_count() or 1,
        )
