"""The DICOM sample files that pip installs with pydicom, for demos and tests offline."""

from __future__ import annotations

from pathlib import Path

__all__ = ["pydicom_sample", "pydicom_samples_dir"]


def pydicom_sample(name: str) -> Path | None:
    """The path of pydicom's bundled test file ``name``, or None if this install lacks it."""
    import pydicom.data

    try:
        found = pydicom.data.get_testdata_file(name)
    except (ValueError, OSError):
        return None
    return Path(found) if isinstance(found, str) else None


def pydicom_samples_dir() -> Path:
    """The folder of pydicom's bundled test files."""
    path = pydicom_sample("CT_small.dcm")
    assert path is not None, "pydicom always ships CT_small.dcm"
    return path.parent
