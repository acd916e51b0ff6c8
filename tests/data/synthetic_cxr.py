"""Synthetic "chest X-rays" for tests that train or run a model: two dark lung fields
on a bright body, with a bright patch (the "opacity") in one lung for the positive class.

Nothing here is meant to look real; it is meant to be learnable in a few steps, so that
tests exercise training, calibration, export and analysis in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["chest_like", "write_npz"]


def chest_like(size: int, positive: bool, rng: np.random.Generator) -> NDArray[np.uint8]:
    """One synthetic radiograph, uint8 ``(size, size)``."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    body = 0.75 - 0.25 * ((xx - 0.5) ** 2 + (yy - 0.55) ** 2)
    for cx in (0.32, 0.68):
        lung = ((xx - cx) / 0.16) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1
        body = np.where(lung, 0.25 + 0.05 * rng.standard_normal(), body)
    if positive:
        cx, cy = rng.choice([0.32, 0.68]), rng.uniform(0.4, 0.65)
        blob = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 0.07**2)))
        body = body + 0.45 * blob
    noisy = body + 0.04 * rng.standard_normal((size, size))
    return np.clip(noisy * 255, 0, 255).astype(np.uint8)


def write_npz(path: Path, *, size: int = 28, n_train: int = 96, n_val: int = 48, seed: int = 0) -> Path:
    """A MedMNIST-layout npz with train and val splits, 35% normal as in PneumoniaMNIST."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("val", n_val)):
        labels = (rng.random(n) > 0.35).astype(np.uint8)
        labels[:2] = (0, 1)  # both classes, whatever the draw
        arrays[f"{split}_images"] = np.stack([chest_like(size, bool(y), rng) for y in labels])
        arrays[f"{split}_labels"] = labels[:, None]
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    return path


def write_dx_dicom(
    path: Path,
    display: NDArray[np.uint8],
    *,
    monochrome1: bool = False,
    bits: int = 16,
    window: bool = True,
    modality: str = "DX",
    body_part: str | None = "CHEST",
    view: str | None = "PA",
    upscale: int = 1,
) -> Path:
    """A Digital X-Ray (for presentation) DICOM whose display is ``display``.

    The 8-bit display values are stored at ``bits`` (x257 for 16 bits), inverted for
    MONOCHROME1, with a window covering the full range when ``window`` is true, and the
    image enlarged ``upscale`` times (as a detector's 2k-3k pixels would be).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

    sop_class = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
    big = np.kron(display, np.ones((upscale, upscale), dtype=np.uint8)) if upscale > 1 else display
    full = (1 << bits) - 1
    stored = big.astype(np.uint32) * full // 255
    if monochrome1:
        stored = full - stored
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = modality
    ds.PatientName, ds.PatientID = "FAKE^CXR", "FAKE-CXR-1"
    if body_part:
        ds.BodyPartExamined = body_part
    if view:
        ds.ViewPosition = view
    ds.Rows, ds.Columns = big.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.BitsAllocated = 16 if bits > 8 else 8
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits - 1, 0
    ds.PixelSpacing = [0.14, 0.14]
    if window:
        ds.WindowCenter, ds.WindowWidth = (full + 1) / 2, full + 1
    ds.PixelData = stored.astype(np.uint16 if bits > 8 else np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path
