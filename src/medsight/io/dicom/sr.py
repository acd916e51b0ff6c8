"""An analysis result as a DICOM Structured Report: TID 1500 Measurement Report (highdicom).

The report is a Comprehensive 3D SR (the SOP class highdicom uses for TID 1500) in the
analysed image's study, in a series of its own, so any PACS or viewer files it beside
the image. Its content tree:

* TID 1500 "Imaging Measurement Report", procedure reported (plain radiography for
  chest X-rays), observer: the model as a device (TID 1004), never a person;
* one TID 1501 measurement group: tracking identifier, finding type (the task's
  finding, SNOMED CT where one exists), the algorithm (TID 4019: model name, version,
  and parameters ``sha256=...``, ``task=...``), the source image, then

  - NUM "Probability" (DCM 122157, no units) of the finding,
  - NUM "Decision threshold" and "Distance from threshold" (the conformal margin),
  - NUM "Conformal coverage" of the prediction set,
  - CODE finding = Present / Absent (the label at the threshold),
  - CODE "Prediction set ambiguous" = Yes / No,
  - for an ensemble model, NUM "Ensemble members" and NUM "Ensemble members at or above
    threshold" (no units): how far its independently trained networks agree.

A segmentation result (:func:`build_volume_report`) is the same TID 1500 report with
one TID 1411 *volumetric* measurement group per label instead, each

* referencing its segment of the DICOM Segmentation (:mod:`medsight.io.dicom.seg`) by
  SOP Instance UID and segment number, with the source series,
* naming the finding (the segment's property type and category) and its site (the
  anatomic region, with the modifier such as Anterior as topographical modifier),
* and holding NUM "Volume" (SCT 118565006) in mL (UCUM ``ml``), NUM "Diameter" (SCT
  81827009, derivation Maximum: the longest in-plane diameter on any slice) in mm, NUM
  "Slices spanned" (no units), where the model gave per-voxel probabilities NUM "Mean
  calibrated probability" (no units) over the segment's voxels, and the finding as
  Present / Absent. An empty segment reports 0 mL and Absent: "nothing found" is a
  result.

The report's evidence is the SEG and the source images it references, all read from
the SEG itself, so the two objects always agree.

Codes without a standard meaning use the private scheme ``99MEDSIGHT`` (PS3.16 8.2:
a ``99`` prefix marks a local scheme). The report is marked complete but not verified:
it is a model's output until a person signs it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import highdicom as hd
import pydicom
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from medsight import __version__
from medsight.errors import OutputError
from medsight.io.dicom.parse import translating

__all__ = [
    "PRIVATE_SCHEME",
    "CodeItem",
    "SrFinding",
    "SrRequest",
    "SrVolume",
    "VolumeSrRequest",
    "build_measurement_report",
    "build_volume_report",
    "derived_uid",
    "read_sr_items",
]

#: Coding scheme of the codes DICOM has no standard term for.
PRIVATE_SCHEME = "99MEDSIGHT"
_THRESHOLD = hd.sr.CodedConcept("threshold", PRIVATE_SCHEME, "Decision threshold")
_MARGIN = hd.sr.CodedConcept("margin", PRIVATE_SCHEME, "Distance from threshold")
_COVERAGE = hd.sr.CodedConcept("coverage", PRIVATE_SCHEME, "Conformal coverage")
_AMBIGUOUS = hd.sr.CodedConcept("ambiguous", PRIVATE_SCHEME, "Prediction set ambiguous")
_MEMBERS = hd.sr.CodedConcept("ensemble_members", PRIVATE_SCHEME, "Ensemble members")
_MEMBERS_POSITIVE = hd.sr.CodedConcept(
    "ensemble_members_positive", PRIVATE_SCHEME, "Ensemble members at or above threshold"
)
_MEAN_PROBABILITY = hd.sr.CodedConcept("mean_probability", PRIVATE_SCHEME, "Mean calibrated probability")
_VOLUME = hd.sr.CodedConcept("118565006", "SCT", "Volume")
_DIAMETER = hd.sr.CodedConcept("81827009", "SCT", "Diameter")
_MAXIMUM = hd.sr.CodedConcept("56851009", "SCT", "Maximum")
_SLICES = hd.sr.CodedConcept("slices_spanned", PRIVATE_SCHEME, "Slices spanned")
_MILLILITRE = hd.sr.CodedConcept("ml", "UCUM", "milliliter")
_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
# Type 2 patient and study attributes an SR copies from its evidence: written empty when
# the source lacks them (senders often omit them), as Type 2 allows.
_TYPE2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)


@dataclass(frozen=True)
class CodeItem:
    """A coded concept: value, coding scheme designator, meaning."""

    value: str
    scheme: str
    meaning: str

    def concept(self) -> hd.sr.CodedConcept:
        """As highdicom's coded concept."""
        return hd.sr.CodedConcept(self.value, self.scheme, self.meaning)


@dataclass(frozen=True)
class SrFinding:
    """What the model found in one image."""

    finding: CodeItem
    present: bool
    probability: float
    threshold: float
    margin: float
    coverage: float
    ambiguous: bool
    #: An ensemble's ``(members, members at or above the threshold)``; None for one network.
    members: tuple[int, int] | None = None


@dataclass(frozen=True)
class SrRequest:
    """Everything one report says, and where it goes.

    Attributes:
        source: the analysed instance's bytes (patient, study and image references).
        finding: the result.
        procedure: the procedure reported (plain radiography for chest X-rays).
        model_name, model_version, model_sha256, task: the model's identity.
        series_instance_uid, sop_instance_uid: the report's own UIDs (the caller derives
            them from the job, so running a job twice replaces its report).
        tracking_id: a human-readable identifier of the result (the job id).
    """

    source: bytes = field(repr=False)
    finding: SrFinding
    procedure: CodeItem
    model_name: str
    model_version: str
    model_sha256: str
    task: str
    series_instance_uid: str = field(repr=False)
    sop_instance_uid: str = field(repr=False)
    tracking_id: str
    series_number: int = 990
    series_description: str = "medsight AI result (not verified)"


def build_measurement_report(request: SrRequest) -> bytes:
    """The report as a PS3.10 file's bytes.

    Raises:
        InvalidDicomError: the source object cannot be parsed.
        OutputError: highdicom refused to build the report (a source lacking what an SR
            must copy from it).
    """
    with translating("analysed object", "reading the source of a report"):
        source = pydicom.dcmread(io.BytesIO(request.source), stop_before_pixels=True)
    _fill_type2(source)
    try:
        return _write(
            _Report(
                request.model_name,
                request.model_version,
                request.model_sha256,
                request.series_instance_uid,
                request.sop_instance_uid,
                request.series_number,
                request.series_description,
            ),
            request.procedure,
            [source],
            [_group(request, source)],
        )
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise OutputError(f"cannot build the structured report ({type(exc).__name__})") from exc


@dataclass(frozen=True)
class _Report:
    """What every report of ours says about itself: the model, its UIDs, its series."""

    model_name: str
    model_version: str
    model_sha256: str
    series_instance_uid: str = field(repr=False)
    sop_instance_uid: str = field(repr=False)
    series_number: int
    series_description: str


def _fill_type2(dataset: Dataset) -> None:
    for keyword in _TYPE2:
        if keyword not in dataset:
            setattr(dataset, keyword, "")


def _write(
    report: _Report,
    procedure: CodeItem,
    evidence: list[Dataset],
    groups: Sequence[
        hd.sr.MeasurementsAndQualitativeEvaluations | hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations
    ],
) -> bytes:
    content = hd.sr.MeasurementReport(
        observation_context=_observer(report.model_name, report.model_version, report.model_sha256),
        procedure_reported=procedure.concept(),
        imaging_measurements=groups,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=content,
        series_instance_uid=report.series_instance_uid,
        series_number=report.series_number,
        sop_instance_uid=report.sop_instance_uid,
        instance_number=1,
        manufacturer="medsight",
        is_complete=True,
        is_final=False,
        is_verified=False,
        series_description=report.series_description,
        software_versions=__version__,
    )
    buffer = io.BytesIO()
    sr.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def derived_uid(seed: str) -> str:
    """A UID derived from ``seed`` (PS3.5 B.2: ``2.25.`` and a 128-bit integer): same seed, same UID."""
    return f"2.25.{int(hashlib.sha256(seed.encode()).hexdigest()[:32], 16)}"


def _observer(name: str, version: str, sha256: str) -> hd.sr.ObservationContext:
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=derived_uid(f"medsight-model:{sha256}"),
        name=name[:64],
        manufacturer_name="medsight",
        model_name=f"{name} {version}"[:64],
    )
    return hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device, observer_identifying_attributes=device
        )
    )


def _group(request: SrRequest, source: Dataset) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    finding = request.finding
    algorithm = hd.sr.AlgorithmIdentification(
        name=request.model_name,
        version=request.model_version,
        parameters=[f"sha256={request.model_sha256}", f"task={request.task}"],
    )
    unitless = codes.UCUM.NoUnits
    measurements = [
        hd.sr.Measurement(codes.DCM.Probability, round(finding.probability, 6), unitless, algorithm_id=algorithm),
        hd.sr.Measurement(_THRESHOLD, round(finding.threshold, 6), unitless),
        hd.sr.Measurement(_MARGIN, round(finding.margin, 6), unitless),
        hd.sr.Measurement(_COVERAGE, round(finding.coverage, 6), unitless),
    ]
    if finding.members is not None:
        measurements += [
            hd.sr.Measurement(_MEMBERS, finding.members[0], unitless),
            hd.sr.Measurement(_MEMBERS_POSITIVE, finding.members[1], unitless),
        ]
    evaluations = [
        hd.sr.QualitativeEvaluation(
            finding.finding.concept(), codes.SCT.Present if finding.present else codes.SCT.Absent
        ),
        hd.sr.QualitativeEvaluation(_AMBIGUOUS, codes.SCT.Yes if finding.ambiguous else codes.SCT.No),
    ]
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=derived_uid(f"medsight-tracking:{request.sop_instance_uid}"),
            identifier=f"medsight {request.tracking_id}",
        ),
        finding_type=finding.finding.concept(),
        algorithm_id=algorithm,
        measurements=measurements,
        qualitative_evaluations=evaluations,
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)],
    )


@dataclass(frozen=True)
class SrVolume:
    """One label's volume, as a TID 1411 group references it.

    Attributes:
        segment_number: the segment of the SEG it measures (1-based, label order).
        name: the label's name (``anterior``): the tracking identifier says it.
        finding: what the segment is (its Segmented Property Type).
        category: its Segmented Property Category.
        site: where it is (its anatomic region, or the structure itself), or None.
        site_modifier: a topographical modifier of the site (Anterior), or None.
        volume_ml: voxels times voxel volume, mL.
        mean_probability: mean calibrated probability over its voxels, or None.
        largest_diameter_mm: longest in-plane diameter on any slice, or None (not measured).
        slices_spanned: slices holding the label, or None (not measured).
    """

    segment_number: int
    name: str
    finding: CodeItem
    category: CodeItem
    site: CodeItem | None
    site_modifier: CodeItem | None
    volume_ml: float
    mean_probability: float | None = None
    largest_diameter_mm: float | None = None
    slices_spanned: int | None = None


@dataclass(frozen=True)
class VolumeSrRequest:
    """A report of a segmentation's volumes, and where it goes.

    Attributes:
        segmentation: the SEG's bytes (patient, study, source references, segments).
        volumes: one entry per segment.
        procedure, model_name, model_version, model_sha256, task, tracking_id, UIDs:
            as :class:`SrRequest`.
    """

    segmentation: bytes = field(repr=False)
    volumes: tuple[SrVolume, ...]
    procedure: CodeItem
    model_name: str
    model_version: str
    model_sha256: str
    task: str
    series_instance_uid: str = field(repr=False)
    sop_instance_uid: str = field(repr=False)
    tracking_id: str
    series_number: int = 990
    series_description: str = "medsight AI result (not verified)"


def build_volume_report(request: VolumeSrRequest) -> bytes:
    """The volumes report (TID 1500 with TID 1411 groups) as a PS3.10 file's bytes.

    Raises:
        InvalidDicomError: ``request.segmentation`` cannot be parsed.
        OutputError: it is no Segmentation, a volume names a segment it lacks, or
            highdicom refused to build the report.
    """
    with translating("segmentation", "reading the segmentation of a report"):
        seg = pydicom.dcmread(io.BytesIO(request.segmentation), stop_before_pixels=True)
    if seg.get("SOPClassUID") != _SEGMENTATION_STORAGE:
        raise OutputError("a volume report must reference a DICOM Segmentation")
    numbers = {int(item.SegmentNumber) for item in seg.get("SegmentSequence", [])}
    if any(v.segment_number not in numbers for v in request.volumes):
        raise OutputError("a volume names a segment the segmentation does not have")
    _fill_type2(seg)
    report = _Report(
        request.model_name,
        request.model_version,
        request.model_sha256,
        request.series_instance_uid,
        request.sop_instance_uid,
        request.series_number,
        request.series_description,
    )
    try:
        evidence = [seg, *_referenced_images(seg)]
        return _write(report, request.procedure, evidence, [_volume_group(request, seg, v) for v in request.volumes])
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise OutputError(f"cannot build the structured report ({type(exc).__name__})") from exc


def _referenced_images(seg: Dataset) -> list[Dataset]:
    """Minimal evidence datasets for the source images a SEG references (its Referenced Series)."""
    out = []
    for series in seg.get("ReferencedSeriesSequence", []):
        for instance in series.ReferencedInstanceSequence:
            item = Dataset()
            item.StudyInstanceUID = seg.StudyInstanceUID
            item.SeriesInstanceUID = series.SeriesInstanceUID
            item.SOPClassUID = instance.ReferencedSOPClassUID
            item.SOPInstanceUID = instance.ReferencedSOPInstanceUID
            out.append(item)
    return out


def _volume_group(
    request: VolumeSrRequest, seg: Dataset, volume: SrVolume
) -> hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations:
    algorithm = hd.sr.AlgorithmIdentification(
        name=request.model_name,
        version=request.model_version,
        parameters=[f"sha256={request.model_sha256}", f"task={request.task}"],
    )
    source_series = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
    measurements = [hd.sr.Measurement(_VOLUME, round(volume.volume_ml, 4), _MILLILITRE, algorithm_id=algorithm)]
    if volume.largest_diameter_mm is not None:
        diameter = round(volume.largest_diameter_mm, 2)
        measurements.append(hd.sr.Measurement(_DIAMETER, diameter, codes.UCUM.Millimeter, derivation=_MAXIMUM))
    if volume.slices_spanned is not None:
        measurements.append(hd.sr.Measurement(_SLICES, volume.slices_spanned, codes.UCUM.NoUnits))
    if volume.mean_probability is not None:
        measurements.append(hd.sr.Measurement(_MEAN_PROBABILITY, round(volume.mean_probability, 4), codes.UCUM.NoUnits))
    present = codes.SCT.Present if volume.volume_ml > 0 else codes.SCT.Absent
    sites = None
    if volume.site is not None:
        modifier = volume.site_modifier.concept() if volume.site_modifier else None
        sites = [hd.sr.FindingSite(volume.site.concept(), topographical_modifier=modifier)]
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=derived_uid(f"medsight-tracking:{request.sop_instance_uid}:{volume.segment_number}"),
            identifier=f"medsight {request.tracking_id} {volume.name}"[:64],
        ),
        referenced_segment=hd.sr.ReferencedSegment(
            sop_class_uid=seg.SOPClassUID,
            sop_instance_uid=seg.SOPInstanceUID,
            segment_number=volume.segment_number,
            source_series=hd.sr.SourceSeriesForSegmentation(source_series),
        ),
        finding_type=volume.finding.concept(),
        finding_category=volume.category.concept(),
        finding_sites=sites,
        algorithm_id=algorithm,
        measurements=measurements,
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(volume.finding.concept(), present)],
    )


def read_sr_items(data: bytes) -> list[tuple[str, str]]:
    """Every content item of an SR as ``(concept meaning, value)``, depth first (for checks).

    Values are the text of TEXT/UIDREF items, ``<value> <unit>`` of NUM items, the
    meaning of CODE items, and ``""`` for containers and references.

    Raises:
        InvalidDicomError: ``data`` is not a DICOM object.
    """
    with translating("structured report", "reading"):
        dataset = pydicom.dcmread(io.BytesIO(data))
        return list(_items(dataset))


def _items(node: Dataset) -> Iterator[tuple[str, str]]:
    for item in node.get("ContentSequence", []):
        name = item.ConceptNameCodeSequence[0].CodeMeaning if "ConceptNameCodeSequence" in item else ""
        kind = item.get("ValueType", "")
        if kind == "NUM":
            measured = item.MeasuredValueSequence[0]
            value = f"{measured.NumericValue} {measured.MeasurementUnitsCodeSequence[0].CodeValue}"
        elif kind == "CODE":
            value = item.ConceptCodeSequence[0].CodeMeaning
        elif kind == "TEXT":
            value = str(item.TextValue)
        elif kind == "UIDREF":
            value = str(item.UID)
        else:
            value = ""
        yield name, value
        yield from _items(item)
