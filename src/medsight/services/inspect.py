"""What an input holds: series, dimensions, spacing, encoding and geometry warnings."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from medsight.io import ImageSummary, ReadFailure, scan
from medsight.settings import Settings

__all__ = ["InspectReport", "inspect"]


@dataclass(frozen=True, slots=True)
class InspectReport:
    """Everything ``medsight info`` reports about one input."""

    path: str
    images: tuple[ImageSummary, ...]
    failures: tuple[ReadFailure, ...]
    skipped: tuple[ReadFailure, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; its keys are part of the CLI's documented output."""
        return {
            "path": self.path,
            "images": [asdict(summary) for summary in self.images],
            "failures": [asdict(failure) for failure in self.failures],
            "skipped": [asdict(skip) for skip in self.skipped],
        }


def inspect(path: Path, settings: Settings) -> InspectReport:
    """Scan ``path`` (headers only; no pixel is decoded) and summarise each image.

    Raises:
        InputError: ``path`` is missing, or is a single file that cannot be read.
    """
    result = scan(path, settings.limits)
    return InspectReport(
        path=str(path),
        images=tuple(result.summaries(settings.limits)),  # before failures: pending files may fail here
        failures=tuple(result.failures),
        skipped=tuple(result.skipped),
    )
