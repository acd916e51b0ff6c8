"""A label volume as a DICOM Segmentation (highdicom), referencing the analysed series.

One segment per label name, in label order (segment ``k`` is label value ``k``), each
with coded concepts (:class:`SegmentSpec`: category CID 7150, type CID 7151, modifier
CID 2, anatomic region CID 4), a display colour, and the algorithm (model name and
version, TID 4019's family *Artificial Intelligence*). The object is filed in the
source's study as a series of its own, and every frame references the source slice it
lies on (Derivation Image Sequence), so viewers place it without resampling.

**BINARY, not FRACTIONAL.** The segments are the model's decision, the same voxels whose
volumes the SR reports, so a reader sees exactly what was measured. A FRACTIONAL segment
would need each label's probability at every voxel; a label volume carries only the
calibrated probability of the label chosen, which cannot be split back per label.
BINARY is 1 bit per voxel (a 256 x 256 x 30 single-label volume is ~250 KB, against
~2 MB per label as 8-bit fractions), and every viewer draws it; viewers threshold
fractions at 0.5 anyway. The calibrated confidence goes into the SR instead (per label,
the mean calibrated probability of its voxels), beside the volume it qualifies.

**Sources.** The source headers are rebuilt from the analysed :class:`Image` (its UIDs,
geometry and study context), not re-read from files: a job's images and a folder's
files reach this writer the same way, and nothing patient-related is parsed twice.
That needs one source instance per slice; a series whose missing slices were filled by
interpolation, a resampled series, or a multi-frame source gets
:class:`~medsight.errors.OutputError` (a SEG must not point a reader at invented
slices). A NIfTI or raster input has no DICOM source at all: callers write the mask as
NIfTI only (see :func:`has_dicom_source`), rather than invent a patient and a study a
PACS would file as a new patient.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import highdicom as hd
import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.valuerep import PersonName

from medsight import __version__
from medsight.errors import OutputError
from medsight.imaging import Image, Layout
from medsight.imaging.labels import LabelVolume
from medsight.io.dicom.parse import translating
from medsight.io.dicom.sr import CodeItem, derived_uid

__all__ = [
    "SegRequest",
    "SegmentSpec",
    "SegmentationRead",
    "build_segmentation",
    "has_dicom_source",
    "read_segmentation",
    "source_headers",
]

_CHARSET_UTF8 = "ISO_IR 192"
# Study context keywords a source header carries (those highdicom copies into the SEG).
_PATIENT_STUDY = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDescription",
)
_TYPE2 = frozenset(
    {
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyDate",
        "StudyTime",
        "StudyID",
        "AccessionNumber",
        "ReferringPhysicianName",
    }
)


@dataclass(frozen=True)
class SegmentSpec:
    """What one label means, in codes (PS3.3 C.8.20.2, Segment Description Macro).

    Attributes:
        name: the label's name in the label volume (``anterior``).
        label: what a reader sees (Segment Label, 64 characters at most).
        category: Segmented Property Category (CID 7150).
        type: Segmented Property Type (CID 7151).
        modifier: Segmented Property Type Modifier (CID 2), e.g. Anterior.
        region: Anatomic Region (CID 4), e.g. Brain for a neoplasm.
        colour: display colour, sRGB 0..255 (stored as CIELab).
    """

    name: str
    label: str
    category: CodeItem
    type: CodeItem
    modifier: CodeItem | None = None
    region: CodeItem | None = None
    colour: tuple[int, int, int] = (255, 0, 0)


@dataclass(frozen=True)
class SegRequest:
    """One Segmentation to write.

    Attributes:
        labels: the label volume (its ``source`` is the analysed DICOM series).
        segments: one spec per ``labels.names``, same order.
        model_name, model_version, model_sha256, task: the model's identity.
        series_instance_uid, sop_instance_uid: the object's own UIDs (derived by the
            caller from the job or input, so a rerun replaces, never adds).
    """

    labels: LabelVolume = field(repr=False)
    segments: tuple[SegmentSpec, ...]
    model_name: str
    model_version: str
    model_sha256: str
    task: str
    series_instance_uid: str = field(repr=False)
    sop_instance_uid: str = field(repr=False)
    series_number: int = 991
    series_description: str = "medsight AI segmentation (not verified)"


def has_dicom_source(image: Image) -> bool:
    """Whether a SEG can reference ``image``'s source: DICOM, one instance per slice."""
    source = image.source
    if not (source.study_uid and source.series_uid and source.sop_class_uid and source.frame_of_reference_uid):
        return False
    slices = image.frames if image.layout is Layout.VOLUME else 1
    return len(source.sop_instance_uids) == slices and image.layout is not Layout.CINE


def source_headers(image: Image) -> list[Dataset]:
    """The source series' headers as a SEG or SR needs them, rebuilt from ``image``.

    Raises:
        OutputError: ``image`` has no DICOM source with one instance per slice.
    """
    if not has_dicom_source(image):
        raise OutputError("the analysed image is not a DICOM series with one instance per slice")
    source, geometry = image.source, image.geometry
    row_cos, col_cos = geometry.direction[2], geometry.direction[1]
    shared = Dataset()
    _copy_study(shared, image)
    shared.StudyInstanceUID = source.study_uid
    shared.SeriesInstanceUID = source.series_uid
    shared.FrameOfReferenceUID = source.frame_of_reference_uid
    shared.SOPClassUID = source.sop_class_uid
    shared.Modality = image.meta.modality.value
    shared.Rows, shared.Columns = int(image.shape[-2]), int(image.shape[-1])
    shared.PixelSpacing = [_ds(geometry.spacing[1]), _ds(geometry.spacing[2])]
    shared.SliceThickness = _ds(geometry.spacing[0])
    shared.ImageOrientationPatient = [_ds(v) for v in (*row_cos, *col_cos)]
    headers = []
    for k, uid in enumerate(source.sop_instance_uids):
        header = Dataset()
        header.update(shared)
        header.SOPInstanceUID = uid
        header.ImagePositionPatient = [_ds(v) for v in geometry.index_to_patient((k, 0, 0))]
        headers.append(header)
    return headers


def build_segmentation(request: SegRequest) -> bytes:
    """The Segmentation as a PS3.10 file's bytes.

    Raises:
        OutputError: no DICOM source (:func:`has_dicom_source`), segments that do not
            match the label names, or highdicom refused to build the object.
    """
    labels = request.labels
    if tuple(s.name for s in request.segments) != labels.names:
        raise OutputError("the segment descriptions do not match the label names")
    sources = source_headers(labels.source)
    volume = hd.Volume(
        array=labels.labels,
        affine=labels.source.geometry.affine(),
        coordinate_system="PATIENT",
        frame_of_reference_uid=labels.source.source.frame_of_reference_uid,
    )
    # An all-empty volume (nothing found) keeps its frames: a SEG needs at least one.
    empty = not labels.labels.any()
    try:
        seg = hd.seg.Segmentation(
            source_images=sources,
            pixel_array=volume,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=_descriptions(request),
            series_instance_uid=request.series_instance_uid,
            series_number=request.series_number,
            sop_instance_uid=request.sop_instance_uid,
            instance_number=1,
            manufacturer="medsight",
            manufacturer_model_name=request.model_name[:64],
            software_versions=__version__,
            device_serial_number=request.model_sha256[:16],
            content_description=f"{request.task} (model {request.model_name} {request.model_version})"[:64],
            content_label="MEDSIGHT_SEG",
            series_description=request.series_description,
            omit_empty_frames=not empty,
        )
        buffer = io.BytesIO()
        seg.save_as(buffer, enforce_file_format=True)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise OutputError(f"cannot build the segmentation ({type(exc).__name__})") from exc
    return buffer.getvalue()


@dataclass(frozen=True)
class SegmentationRead:
    """A Segmentation read back: labels on the source's slices, and what each segment is.

    Attributes:
        labels: ``(slice, row, column)`` uint8, slice ``k`` on source instance ``source_uids[k]``.
        source_uids: the referenced source SOP Instance UIDs, in the order asked.
        segments: ``(number, label, type meaning, modifier meaning or "", (r, g, b))`` per segment.
    """

    labels: NDArray[np.uint8] = field(repr=False)
    source_uids: tuple[str, ...] = field(repr=False)
    segments: tuple[tuple[int, str, str, str, tuple[int, int, int]], ...]


def read_segmentation(data: bytes, source_uids: Sequence[str] | None = None) -> SegmentationRead:
    """Read a BINARY Segmentation back onto its source slices (highdicom's ``segread``).

    Args:
        data: the SEG file's bytes.
        source_uids: the source instances to place it on, in slice order; default: every
            instance the SEG references, in its own order.

    Raises:
        InvalidDicomError: ``data`` is not a readable Segmentation.
    """
    with translating("segmentation", "reading"):
        seg = hd.seg.segread(io.BytesIO(data))
        if source_uids is None:
            source_uids = [uid for _, _, uid in seg.get_source_image_uids()]
        pixels = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=list(source_uids), combine_segments=True, skip_overlap_checks=True
        )
        segments = tuple(_segment_summary(item) for item in seg.SegmentSequence)
    return SegmentationRead(np.asarray(pixels, dtype=np.uint8), tuple(source_uids), segments)


def _segment_summary(item: Dataset) -> tuple[int, str, str, str, tuple[int, int, int]]:
    kind = item.SegmentedPropertyTypeCodeSequence[0]
    modifiers = kind.get("SegmentedPropertyTypeModifierCodeSequence") or []
    lab = item.get("RecommendedDisplayCIELabValue")
    rgb = hd.color.CIELabColor.from_dicom_value(list(lab)).to_rgb() if lab else (255, 0, 0)
    return (
        int(item.SegmentNumber),
        str(item.SegmentLabel),
        str(kind.CodeMeaning),
        str(modifiers[0].CodeMeaning) if modifiers else "",
        (int(rgb[0]), int(rgb[1]), int(rgb[2])),
    )


def _descriptions(request: SegRequest) -> list[hd.seg.SegmentDescription]:
    algorithm = hd.AlgorithmIdentificationSequence(
        name=request.model_name[:64],
        version=request.model_version[:64],
        family=codes.DCM.ArtificialIntelligence,
        parameters={"sha256": request.model_sha256, "task": request.task},
    )
    out = []
    for number, spec in enumerate(request.segments, start=1):
        description = hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=spec.label[:64],
            segmented_property_category=spec.category.concept(),
            segmented_property_type=spec.type.concept(),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            tracking_uid=derived_uid(f"medsight-segment:{request.sop_instance_uid}:{number}"),
            tracking_id=f"{request.task} {spec.name}"[:64],
            anatomic_regions=[spec.region.concept()] if spec.region else None,
            display_color=hd.color.CIELabColor.from_rgb(*spec.colour),
        )
        if spec.modifier is not None:
            # Type 3 in the Segmented Property Type Code Sequence item (PS3.3 C.8.20.2);
            # highdicom has no argument for it.
            description.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
                spec.modifier.concept()
            ]
        out.append(description)
    return out


def _copy_study(target: Dataset, image: Image) -> None:
    """Patient and study attributes of the source (Type 2 ones written empty when unknown)."""
    values = {k: image.study.get(k) for k in _PATIENT_STUDY}
    non_ascii = any(isinstance(v, str | PersonName) and not str(v).isascii() for v in values.values() if v)
    if non_ascii:
        target.SpecificCharacterSet = _CHARSET_UTF8
    for keyword, value in values.items():
        if value not in (None, ""):
            setattr(target, keyword, value)
        elif keyword in _TYPE2:
            setattr(target, keyword, "")


def _ds(value: float) -> str:
    """A decimal string of at most 16 characters (PS3.5 DS)."""
    text = f"{value:.10g}"
    return text if len(text) <= 16 else f"{value:.8g}"
