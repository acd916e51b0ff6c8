"""Use case: load the demo studies into a running service (``medsight serve --demo``).

What a fresh machine can show without a PACS:

- chest X-rays: validation images of the 224 px Kermany set when ``../shared`` is present
  (never training images), each made a one-image DX study of a made-up patient
  (``DEMO^CHEST^01``...), so the routing rules send them to ``cxr-pneumonia``;
- a brain MRI: the first validation patient of the LGG subset when ``../shared`` holds
  it (never a training patient), its FLAIR slices made an axial MR series ("AX FLAIR",
  body part BRAIN) of a made-up patient (``DEMO^BRAIN^01``), so the routing rules send it
  to ``mri-brain-tumour`` and the viewer shows the DICOM SEG over it; the TIFFs record no
  voxel size, so the series has nominal 1 mm voxels (said in its study description);
- other modalities: the DICOM samples pip installs with pydicom (CT, MR) and those in
  ``../shared/samples``, stored as they are (their patients are the samples' own test
  patients); routed nowhere, or refused by the task if sent there.

The objects' UIDs derive from their source, so loading twice stores nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from medsight.access import Principal
from medsight.data import load_dataset
from medsight.data.volumes import load_volumes
from medsight.errors import MedsightError
from medsight.imaging import Image
from medsight.imaging.window import display_array
from medsight.io.dicom.capture import CaptureDescription, encode_capture, stable_uid
from medsight.io.dicom.mr_series import MrSeriesDescription, encode_mr_series
from medsight.io.files import read_bytes
from medsight.io.samples import pydicom_sample
from medsight.services.context import ServiceContext
from medsight.store import IngestResult
from medsight.tasks import get_task

__all__ = ["BRAIN_MRI_DATASET", "DemoObject", "DemoSeedReport", "demo_objects", "seed_demo_studies"]

_log = logging.getLogger(__name__)
_TASK = "cxr-pneumonia"
_PYDICOM_SAMPLES = ("CT_small.dcm", "MR_small.dcm")
_SAMPLE_SUFFIXES = (".dcm",)
#: The shared data set the demo's brain MRI comes from (``../shared/datasets/<this>``).
BRAIN_MRI_DATASET = "lgg_mri_segmentation_subset"


@dataclass(frozen=True)
class DemoObject:
    """One DICOM object of the demo and where it came from (a file name, not patient data)."""

    source: str
    data: bytes


@dataclass(frozen=True)
class DemoSeedReport:
    """What loading the demo did."""

    stored: int
    already_stored: int
    failed: int
    studies: int


def demo_objects(shared: Path | None, per_class: int = 3) -> list[DemoObject]:
    """The demo's objects: chest X-rays made DICOM, a brain MRI series, then the bundled and shared samples."""
    return [*_chest_xrays(shared, per_class), *_brain_mri(shared), *_samples(shared)]


def seed_demo_studies(context: ServiceContext, objects: list[DemoObject], principal: Principal) -> DemoSeedReport:
    """Store ``objects`` as if ``principal`` had sent them, then let routing rules run."""
    results: list[IngestResult] = []
    failed = 0
    for item in objects:
        try:
            results.append(context.store.ingest(item.data))
        except MedsightError as exc:
            failed += 1
            _log.warning("demo object %s not stored: %s", item.source, exc.code)
    studies = sorted({result.study_instance_uid for result in results})
    for study in studies:
        context.access.accounts.record_submitter(study, principal.actor)
    context.notify_ingested(results, principal, complete=True)  # the demo's series are whole
    stored = sum(result.status != "already_stored" for result in results)
    return DemoSeedReport(stored=stored, already_stored=len(results) - stored, failed=failed, studies=len(studies))


def _chest_xrays(shared: Path | None, per_class: int) -> Iterator[DemoObject]:
    kermany = shared / "datasets" / "chest_xray_pneumonia_224" if shared else None
    if kermany is None or not kermany.is_dir():
        return
    spec = get_task(_TASK)
    data = load_dataset(kermany, spec.label_of).split("val")
    number = 0
    for label in (0, 1):
        for case in [c for c in data if c.label == label][:per_class]:
            number += 1
            name = case.path.name if case.path is not None else str(case.index)
            pixels = _plane(_stored_8bit(data.image(case)))
            study = stable_uid("demo-study", name)
            description = CaptureDescription(
                patient_id=f"DEMO-{number:02d}",
                patient_name=f"DEMO^CHEST^{number:02d}",
                study_instance_uid=study,
                series_instance_uid=stable_uid("demo-series", name),
                sop_instance_uid=stable_uid("demo-instance", name),
                modality="DX",
                body_part="CHEST",
                view_position="PA",
                study_date="20260101",
                study_description="Demo chest X-ray (Kermany validation split)",
                series_description="PA chest",
                accession_number=f"DEMO{number:04d}",
                # The identity window over 8 bits (x / 255): the values are the film as it
                # was shown, which the model learnt from; with no window a reader would
                # stretch each film to its own percentiles instead.
                window=(128.0, 256.0),
            )
            yield DemoObject(source=f"{kermany.name}/{name}", data=encode_capture(pixels, description))


def _brain_mri(shared: Path | None) -> Iterator[DemoObject]:
    lgg = shared / "datasets" / BRAIN_MRI_DATASET if shared else None
    if lgg is None or not lgg.is_dir():
        return
    data = load_volumes(lgg).split("val")
    case = data.cases[0]
    image, _ = data.read(case)
    pixels = np.clip(np.rint(image.pixels), 0, np.iinfo(np.uint16).max).astype(np.uint16)
    description = MrSeriesDescription(
        patient_id="DEMO-BRAIN-01",
        patient_name="DEMO^BRAIN^01",
        study_instance_uid=stable_uid("demo-study", BRAIN_MRI_DATASET, case.key),
        series_instance_uid=stable_uid("demo-series", BRAIN_MRI_DATASET, case.key),
        series_description="AX FLAIR",
        body_part="BRAIN",
        study_date="20260101",
        study_description="Demo brain MRI: LGG val patient, FLAIR, nominal 1 mm voxels",
        accession_number="DEMOMR01",
    )
    for k, data_bytes in enumerate(encode_mr_series(pixels, image.geometry, description), start=1):
        yield DemoObject(source=f"{lgg.name}/{case.key}/slice {k}", data=data_bytes)


def _stored_8bit(image: Image) -> NDArray[np.uint8]:
    """The film's own 8-bit values, as the model's validation saw them (a source outside 0..255 is windowed).

    Stretched to its own display range, or stored without a window (which a reader then
    stretches to percentiles), a film is not what the model was validated on: one of the
    six demo films sat just past the distribution check's limit that way.
    """
    pixels = image.pixels
    if float(pixels.min()) >= 0.0 and float(pixels.max()) <= 255.0:
        return np.rint(pixels).astype(np.uint8)
    return display_array(image, None)


def _plane(pixels: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The first plane, first channel: a chest X-ray saved as RGB is grey in every channel."""
    plane = pixels[0] if pixels.ndim >= 3 and pixels.shape[0] == 1 else pixels
    return np.ascontiguousarray(plane[..., 0] if plane.ndim == 3 else plane)


def _samples(shared: Path | None) -> Iterator[DemoObject]:
    for name in _PYDICOM_SAMPLES:
        path = pydicom_sample(name)
        if path is not None:
            yield DemoObject(source=f"pydicom/{name}", data=read_bytes(path))
    samples = shared / "samples" if shared else None
    if samples is None or not samples.is_dir():
        return
    for path in sorted(samples.rglob("*")):
        if path.suffix.lower() in _SAMPLE_SUFFIXES and path.name not in _PYDICOM_SAMPLES:
            yield DemoObject(source=f"samples/{path.relative_to(samples)}", data=read_bytes(path))
