"""Use case: ``medsight analyze`` for a volume segmentation task: segment, measure, write the outputs.

Every input (a NIfTI, a DICOM series, each series of a folder) becomes one record: the
segmenter's JSON keys (``task``, ``model``, then ``refused``, or ``labels``,
``volumes_ml``, ``measurements``, ``confidence``...) and ``outputs``: where its
``<stem>.mask.nii.gz``, ``<stem>.seg.dcm`` and ``<stem>.sr.dcm`` were written
(:mod:`medsight.services.label_outputs`; a NIfTI input gets the mask only, and
``outputs.note`` says why). Volumes are decoded one chunk at a time, as ``analyze``
does for images.

The segmenter is any callable from an :class:`~medsight.imaging.Image` to a result with
the :class:`~medsight.services.label_outputs.LabelResult` shape and ``to_dict()``; by
default the task's model (:mod:`medsight.inference.volume_segmentation`), loaded once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from medsight.errors import MedsightError
from medsight.imaging import Image
from medsight.services.analyze import AnalyzeOptions, AnalyzeReport, ScannedInputs
from medsight.services.label_outputs import LabelResult, output_stem, write_label_outputs

__all__ = ["VolumeResult", "analyze_volumes"]


class VolumeResult(LabelResult, Protocol):
    """A volume segmentation result: :class:`LabelResult`, and its JSON record."""

    def to_dict(self) -> dict[str, Any]: ...


#: Segments one image volume.
Segment = Callable[[Image], VolumeResult]


def analyze_volumes(
    path: Path,
    options: AnalyzeOptions,
    out: Path,
    *,
    segment: Segment,
    model: Mapping[str, str],
    on_start: Callable[[int], None] = lambda total: None,
    on_record: Callable[[dict[str, Any]], None] = lambda record: None,
) -> AnalyzeReport:
    """Segment every volume under ``path`` and write each one's outputs into ``out``.

    Args:
        path: a file, a folder or a zip.
        options: what ``analyze`` was asked (task, limits).
        out: the output folder (made if absent).
        segment: the segmenter.
        model: the model's identity (``name``, ``version``, ``sha256``) for the report.
        on_start: called once with the number of inputs.
        on_record: called with each record as it is made.
    """
    inputs = ScannedInputs.of(path, options.limits)
    records: list[dict[str, Any]] = []
    stems: set[str] = set()
    on_start(inputs.total)
    for loaded in inputs.load_in_chunks(options.limits, records, on_record):
        for label, image in loaded:
            records.append(_record(label, segment(image), out, stems))
            on_record(records[-1])
    return AnalyzeReport(records=records, model=dict(model))


def _record(label: str, result: VolumeResult, out: Path, stems: set[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"path": label, **result.to_dict()}
    if result.labels is None:
        return record
    try:
        record["outputs"] = write_label_outputs(result, out, output_stem(label, stems))
    except MedsightError as exc:  # the measurement stands; say what could not be written
        record["outputs"] = {"error": {"code": exc.code, "message": exc.message}}
    return record
