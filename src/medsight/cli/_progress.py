"""Progress bars on stderr for long commands (silent when stderr is not a terminal or --json)."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["progress_bar", "stderr_console", "stdout_console"]


def stderr_console() -> Console:
    """A console on stderr, so stdout stays clean for results and JSON."""
    return Console(stderr=True)


def progress_bar(enabled: bool = True) -> AbstractContextManager[Progress]:
    """A rich progress bar on stderr; disabled when ``enabled`` is false or stderr is not a TTY."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
        disable=not enabled or not sys.stderr.isatty(),
        transient=False,
    )


def stdout_console() -> Console:
    """A console on stdout; piped output (logs) is not folded at 80 columns."""
    return Console(width=None if sys.stdout.isatty() else 200)
