"""Validate DICOM objects with ``dciodvfy`` (Debian's dicom3tools), for the writers' tests.

``dciodvfy`` checks an object against its IOD (PS3.3): required attributes, conditions,
value representations and multiplicities, code sequences. It prints the IOD's name, then
one line per finding, ``Error - ...`` or ``Warning - ...``; only errors fail a test.

Locally a missing ``dciodvfy`` skips with the command that installs it; in CI
(``MEDSIGHT_REQUIRE_DCIODVFY=1``, set by ``.ci/run`` after ``.ci/dicom3tools``) it fails
instead, so the validation can never silently stop running.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["Validation", "dciodvfy", "require_dciodvfy"]

REQUIRE_ENV = "MEDSIGHT_REQUIRE_DCIODVFY"


@dataclass(frozen=True)
class Validation:
    """What ``dciodvfy`` said: the IOD it checked against, its errors and warnings."""

    iod: str
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    output: str


def require_dciodvfy() -> str:
    """The path of ``dciodvfy``; skip (locally) or fail (CI) when it is absent."""
    found = shutil.which("dciodvfy")
    if found:
        return found
    reason = "dciodvfy not found: apt-get install -y dicom3tools (.ci/dicom3tools does it in CI)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 requires it")
    pytest.skip(reason)


def parse(output: str) -> Validation:
    """Split ``dciodvfy``'s output into its IOD line, errors and warnings."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = tuple(line for line in lines if line.startswith("Error"))
    warnings = tuple(line for line in lines if line.startswith("Warning"))
    iod = next((line for line in lines if not line.startswith(("Error", "Warning"))), "")
    return Validation(iod, errors, warnings, output)


def dciodvfy(data: bytes | Path) -> Validation:
    """Run ``dciodvfy`` on a file or on bytes (written to a temporary file)."""
    tool = require_dciodvfy()
    with tempfile.TemporaryDirectory() as folder:
        path = data if isinstance(data, Path) else Path(folder) / "object.dcm"
        if not isinstance(data, Path):
            path.write_bytes(data)
        done = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60, check=False)
    return parse(done.stdout + done.stderr)
