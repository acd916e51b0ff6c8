"""A synthetic folder in the HC18 layout: a bright elliptical "skull" ring on speckle.

Learnable in a few steps, so tests train, export, measure and evaluate a segmenter in
seconds. The annotation is the ring's outline, as in HC18; the CSV's HC is the outline's
perimeter times the pixel size.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PILImage

__all__ = ["PIXEL_MM", "head_frame", "write_hc18"]

PIXEL_MM = 0.5


def _ring(shape: tuple[int, int], cx: float, cy: float, a: float, b: float, angle: float, width: float) -> NDArray:
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    dx, dy = cols - cx, rows - cy
    u = dx * math.cos(angle) + dy * math.sin(angle)
    v = -dx * math.sin(angle) + dy * math.cos(angle)
    radius = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    return np.abs(radius - 1.0) * min(a, b) < width


def head_frame(
    rng: np.random.Generator, shape: tuple[int, int] = (108, 160)
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], float]:
    """One frame, its outline annotation (0/255) and the outline's perimeter in pixels."""
    cy, cx = shape[0] * rng.uniform(0.4, 0.6), shape[1] * rng.uniform(0.4, 0.6)
    b = shape[0] * rng.uniform(0.22, 0.3)
    a = b * rng.uniform(1.1, 1.35)
    angle = rng.uniform(0, math.pi)
    speckle = rng.gamma(2.0, 0.12, size=shape)
    image = 0.25 * speckle + 0.7 * _ring(shape, cx, cy, a, b, angle, 2.5)
    image = np.clip(image * 255, 0, 255).astype(np.uint8)
    outline = (_ring(shape, cx, cy, a, b, angle, 0.6) * 255).astype(np.uint8)
    h = ((a - b) / (a + b)) ** 2
    perimeter = math.pi * (a + b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))
    return image, outline, perimeter


def write_hc18(root: Path, *, subjects: int = 30, seed: int = 0) -> Path:
    """``root/training_set/NNN_HC.png`` (+ annotations) and the CSV; returns ``root``."""
    rng = np.random.default_rng(seed)
    folder = root / "training_set"
    folder.mkdir(parents=True)
    lines = ["filename,pixel size(mm),head circumference (mm)"]
    for subject in range(subjects):
        image, outline, perimeter = head_frame(rng)
        name = f"{subject:03d}_HC.png"
        PILImage.fromarray(image).save(folder / name)
        PILImage.fromarray(outline).save(folder / name.replace(".png", "_Annotation.png"))
        lines.append(f"{name},{PIXEL_MM},{perimeter * PIXEL_MM:.2f}")
    (root / "training_set_pixel_size_and_HC.csv").write_text("\n".join(lines) + "\n")
    return root


def write_us_dicom(path: Path, pixels: NDArray[np.uint8], delta_cm: float, *, body_part: str | None = None) -> Path:
    """An Ultrasound Image Storage object: 8-bit MONOCHROME2, spacing only in its Ultrasound Region."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

    sop_class = "1.2.840.10008.5.1.4.1.1.6.1"  # Ultrasound Image Storage
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientName, ds.PatientID = "US", "FAKE^FETUS", "FAKE-US-1"
    if body_part:
        ds.BodyPartExamined = body_part
    region = Dataset()
    region.RegionSpatialFormat, region.RegionDataType, region.RegionFlags = 1, 1, 0
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = pixels.shape[1] - 1, pixels.shape[0] - 1
    region.PhysicalUnitsXDirection, region.PhysicalUnitsYDirection = 3, 3  # cm
    region.PhysicalDeltaX, region.PhysicalDeltaY = delta_cm, delta_cm
    ds.SequenceOfUltrasoundRegions = Sequence([region])
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path
