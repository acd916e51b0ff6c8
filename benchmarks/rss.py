"""Peak RSS and wall time of one command, measured from a fresh helper process.

``python -m benchmarks.rss -- COMMAND...`` runs COMMAND, waits for it, and prints one
JSON line: ``seconds`` (wall, cold start included), ``peak_rss`` (bytes, the largest
resident set of the command or its own children, from ``getrusage(RUSAGE_CHILDREN)``),
``returncode`` and ``stdout``. A fresh helper per measurement keeps children apart:
RUSAGE_CHILDREN is the maximum over every child a process has waited for. The helper
imports only the standard library, so its own start is not what is measured.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["measure_command"]


def measure_command(command: list[str], cwd: Path) -> dict[str, Any]:
    """Run ``command`` under a fresh helper and return the helper's JSON report.

    Raises:
        RuntimeError: the helper itself failed (not the command: its return code is reported).
    """
    helper = [sys.executable, "-m", "benchmarks.rss", "--", *command]
    done = subprocess.run(helper, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"rss helper failed:\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def main(argv: list[str] | None = None) -> None:
    """Helper entry point."""
    command = list(sys.argv[1:] if argv is None else argv)
    if command[:1] == ["--"]:
        command = command[1:]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    report = {"seconds": seconds, "peak_rss": peak, "returncode": done.returncode, "stdout": done.stdout}
    if done.returncode != 0:
        report["stderr"] = done.stderr[-2000:]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
