"""Use case: what a radiology department gets from a label volume: DICOM SEG, SR and a NIfTI mask.

A volume segmentation result (any object with the :class:`LabelResult` shape: a
:class:`~medsight.imaging.labels.LabelVolume` on the analysed image's grid, the task and
the model's identity) becomes

* a DICOM Segmentation (:mod:`medsight.io.dicom.seg`): one BINARY segment per label,
  described by :func:`~medsight.services.findings.segment_coding`, referencing the
  source slices;
* a DICOM SR, TID 1500 with one TID 1411 group per label (:func:`build_volume_report`):
  its presence, volume in mL, largest in-plane diameter and slices spanned
  (:func:`~medsight.tasks.volume_measure.measure_labels`, as ``analyze`` reports them)
  and the mean calibrated probability of its voxels, referencing its segment of that SEG;
* the mask as NIfTI (uint8 labels, the source's affine).

``medsight analyze --out DIR`` writes all three into a folder (:func:`output_writer`,
the ``on_result`` hook of :func:`~medsight.services.segment_volumes.segment_volumes_path`,
which adds the paths to each record under ``outputs``); an analysis job builds the two
DICOM objects (:func:`build_label_objects`) and stores them into the study
(:mod:`medsight.services.volume_jobs`). An input without a DICOM source series (NIfTI, PNG) gets the NIfTI mask
only, and the record says why: a SEG must reference a series of a real study, and
inventing a patient and a study would have a PACS file it as a new patient.

UIDs derive from a seed (the job id, or the model and the source series for the CLI),
so the same analysis written twice replaces its objects in a PACS, never duplicates them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from medsight.errors import MedsightError, OutputError
from medsight.imaging.labels import LabelVolume
from medsight.io._atomic import atomic_write
from medsight.io.dicom.seg import SegmentSpec, SegRequest, build_segmentation, has_dicom_source
from medsight.io.dicom.sr import CodeItem, SrVolume, VolumeSrRequest, build_volume_report, derived_uid
from medsight.io.nifti import write_label_nifti
from medsight.services.findings import Coded, procedure_code, segment_coding
from medsight.tasks.volume_measure import measure_labels

__all__ = [
    "NO_DICOM_SOURCE",
    "LabelObjects",
    "LabelResult",
    "build_label_objects",
    "mean_probabilities",
    "output_stem",
    "output_writer",
    "segment_specs",
    "write_label_outputs",
]

#: Why an input got no SEG and SR (the record's ``outputs.note``).
NO_DICOM_SOURCE = (
    "no DICOM source series (one instance per slice): the mask is written as NIfTI only; "
    "a DICOM Segmentation must reference the series it was drawn on"
)


class LabelResult(Protocol):
    """What the writers need of a volume segmentation result (``VolumeSegmentation`` has it).

    Attributes:
        task: the task's name (``mri-hippocampus``).
        model: the model's identity: ``name``, ``version``, ``sha256``.
        labels: the label volume on the analysed image's grid, or None (refused).
    """

    @property
    def task(self) -> str: ...

    @property
    def model(self) -> Mapping[str, str]: ...

    @property
    def labels(self) -> LabelVolume | None: ...


@dataclass(frozen=True)
class LabelObjects:
    """The two DICOM objects of one result (PS3.10 bytes) and their UIDs."""

    seg: bytes
    sr: bytes
    seg_sop_instance_uid: str
    sr_sop_instance_uid: str


def _code(coded: Coded) -> CodeItem:
    return CodeItem(coded.code, coded.scheme, coded.meaning)


def segment_specs(task: str, names: tuple[str, ...]) -> tuple[SegmentSpec, ...]:
    """Each label's coded description, in label order."""
    out = []
    for number, name in enumerate(names, start=1):
        coding = segment_coding(task, name, number)
        out.append(
            SegmentSpec(
                name=name,
                label=coding.label,
                category=_code(coding.category),
                type=_code(coding.type),
                modifier=_code(coding.modifier) if coding.modifier else None,
                region=_code(coding.region) if coding.region else None,
                colour=coding.colour,
            )
        )
    return tuple(out)


def mean_probabilities(labels: LabelVolume) -> list[float | None]:
    """Per label, the mean calibrated probability over its voxels (None: no voxels, or none given)."""
    if labels.confidence is None:
        return [None] * len(labels.names)
    out: list[float | None] = []
    for k in range(1, len(labels.names) + 1):
        mask = labels.mask(k)
        out.append(float(labels.confidence[mask].mean(dtype=np.float64)) if mask.any() else None)
    return out


def build_label_objects(
    result: LabelResult, *, seed: str, tracking_id: str, series_number: int = 991
) -> LabelObjects | None:
    """The SEG and the SR of ``result``; None when it has no labels or no DICOM source.

    Args:
        result: the segmentation result.
        seed: what the objects' UIDs derive from (same seed, same UIDs).
        tracking_id: how the SR names the analysis (the job id, or the input).
        series_number: the SEG's Series Number (the SR's is one less).

    Raises:
        OutputError: an object could not be built.
    """
    labels = result.labels
    if labels is None or not has_dicom_source(labels.source):
        return None
    model = result.model
    specs = segment_specs(result.task, labels.names)
    seg_uid = derived_uid(f"medsight-seg:{seed}")
    seg = build_segmentation(
        SegRequest(
            labels=labels,
            segments=specs,
            model_name=model["name"],
            model_version=model["version"],
            model_sha256=model["sha256"],
            task=result.task,
            series_instance_uid=derived_uid(f"medsight-seg-series:{seed}"),
            sop_instance_uid=seg_uid,
            series_number=series_number,
        )
    )
    volumes = labels.volumes_ml()
    probabilities = mean_probabilities(labels)
    measured = measure_labels(labels.labels, labels.names, labels.source.geometry.spacing)
    sr_uid = derived_uid(f"medsight-sr:{seed}")
    sr = build_volume_report(
        VolumeSrRequest(
            segmentation=seg,
            volumes=tuple(
                SrVolume(
                    segment_number=number,
                    name=spec.name,
                    finding=spec.type,
                    category=spec.category,
                    site=spec.region or (spec.type if spec.category.value == "91723000" else None),
                    site_modifier=spec.modifier,
                    volume_ml=volumes[spec.name],
                    mean_probability=probabilities[number - 1],
                    largest_diameter_mm=measured[spec.name]["largest_diameter_mm"],
                    slices_spanned=(measured[spec.name]["slices"] or {}).get("count", 0),
                )
                for number, spec in enumerate(specs, start=1)
            ),
            procedure=_code(procedure_code(result.task)),
            model_name=model["name"],
            model_version=model["version"],
            model_sha256=model["sha256"],
            task=result.task,
            series_instance_uid=derived_uid(f"medsight-sr-series:{seed}"),
            sop_instance_uid=sr_uid,
            tracking_id=tracking_id,
            series_number=series_number - 1,
        )
    )
    return LabelObjects(seg, sr, seg_uid, sr_uid)


def output_stem(label: str, used: set[str]) -> str:
    """A file-name stem for an input's outputs: its last path parts, safe, numbered when taken."""
    name = label.replace("!", "/").rstrip("/")
    for suffix in (".nii.gz", ".nii", ".dcm", ".dicom"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    tail = "_".join(Path(name).parts[-2:])
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", tail).strip("._") or "image"
    stem, number = base, 1
    while stem in used:
        number += 1
        stem = f"{base}.{number}"
    used.add(stem)
    return stem


def write_label_outputs(result: LabelResult, folder: Path, stem: str) -> dict[str, Any]:
    """Write ``<stem>.mask.nii.gz``, and where the source is DICOM ``<stem>.seg.dcm`` and ``<stem>.sr.dcm``.

    Returns:
        The record's ``outputs``: ``mask``, ``seg``, ``sr`` (paths, or None) and ``note``
        (why there is no SEG and SR, or None).

    Raises:
        OutputError: a file or object could not be written or built.
    """
    labels = result.labels
    if labels is None:
        raise OutputError("a refused input has no outputs")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot make the output folder {folder.name} ({type(exc).__name__})") from exc
    mask = write_label_nifti(labels, folder / f"{stem}.mask.nii.gz")
    source = labels.source.source
    first = source.sop_instance_uids[0] if source.sop_instance_uids else ""
    seed = f"{result.task}:{result.model['sha256']}:{source.series_uid}:{first}"
    objects = build_label_objects(result, seed=seed, tracking_id=stem[:40])
    if objects is None:
        return {"mask": str(mask), "seg": None, "sr": None, "note": NO_DICOM_SOURCE}
    seg = _write_bytes(folder / f"{stem}.seg.dcm", objects.seg)
    sr = _write_bytes(folder / f"{stem}.sr.dcm", objects.sr)
    return {"mask": str(mask), "seg": str(seg), "sr": str(sr), "note": None}


def output_writer(folder: Path) -> Callable[[dict[str, Any], LabelResult], None]:
    """An ``on_result`` hook: writes each result's outputs into ``folder``, their paths into ``record["outputs"]``.

    Stems come from each record's ``path`` and stay unique within one run. A failure to
    write is reported in the record (``outputs.error``), not raised: the measurement stands.
    """
    stems: set[str] = set()

    def write(record: dict[str, Any], result: LabelResult) -> None:
        if result.labels is None:
            return
        try:
            record["outputs"] = write_label_outputs(result, folder, output_stem(str(record.get("path", "")), stems))
        except MedsightError as exc:
            record["outputs"] = {"error": {"code": exc.code, "message": exc.message}}

    return write


def _write_bytes(path: Path, data: bytes) -> Path:
    def write(stream: BinaryIO) -> None:
        stream.write(data)

    return atomic_write(path, write)
