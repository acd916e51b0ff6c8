"""Shared fixtures: where the real data lives, and skips with a reason when it does not."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLES = SHARED / "samples"


@pytest.fixture(autouse=True)
def _quiet_pydicom() -> None:
    # pydicom and Pillow warn about odd values in deliberately odd (mangled) test files.
    warnings.filterwarnings("ignore", module=r"(pydicom|PIL)(\..*)?$")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is absent (it holds the DICOM samples); skipping")
    return SAMPLES


@pytest.fixture(scope="session")
def pydicom_test_files() -> Path:
    import pydicom.data

    return Path(pydicom.data.get_testdata_file("CT_small.dcm")).parent
