"""What each task's finding is called in coded terminologies (DICOM SR and FHIR share it).

A task whose finding has a SNOMED CT concept uses it; any other gets a local code in the
private scheme ``99MEDSIGHT`` named after the task, so reports stay valid and honest.

A segmentation task's labels are described the way a DICOM Segmentation describes a
segment (:func:`segment_coding`, PS3.3 C.8.20.2): a property category (CID 7150), a
property type (CID 7151), a modifier (CID 2) and an anatomic region (CID 4):

* ``mri-hippocampus``: Anatomical Structure / Hippocampus (SCT 5366008), modified Anterior
  (SCT 255549009) or Posterior (SCT 255551008): MSD Task04's "anterior" is the
  hippocampal head, "posterior" its body and tail;
* ``mri-brain-tumour``: Morphologically Abnormal Structure / Neoplasm (SCT 108369006) in
  the Brain (SCT 12738006), labelled "FLAIR abnormality": the TCGA-LGG masks outline
  the FLAIR hyperintensity of a lower-grade glioma (tumour, and the oedema it holds).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SNOMED", "Coded", "SegmentCoding", "finding_code", "procedure_code", "segment_coding"]

#: FHIR's system URI for SNOMED CT (DICOM's scheme designator is ``SCT``).
SNOMED = "http://snomed.info/sct"
_LOCAL = "urn:medsight:codes"


@dataclass(frozen=True)
class Coded:
    """One concept: its code, DICOM scheme designator, FHIR system and meaning."""

    code: str
    scheme: str
    system: str
    meaning: str


_FINDINGS = {
    "cxr-pneumonia": Coded("233604007", "SCT", SNOMED, "Pneumonia"),
    "cxr-tuberculosis": Coded("154283005", "SCT", SNOMED, "Pulmonary tuberculosis"),
}
_PROCEDURES = {
    "cxr-pneumonia": Coded("168537006", "SCT", SNOMED, "Plain radiography"),
    "cxr-tuberculosis": Coded("168537006", "SCT", SNOMED, "Plain radiography"),
}
_IMAGING_PROCEDURE = Coded("363679005", "SCT", SNOMED, "Imaging procedure")


@dataclass(frozen=True)
class SegmentCoding:
    """How a DICOM Segmentation and its SR describe one label (see the module docstring).

    Attributes:
        label: what a reader sees (Segment Label).
        category, type, modifier, region: the coded concepts (CIDs 7150, 7151, 2, 4).
        colour: display colour, sRGB (distinct hues, readable over greyscale).
    """

    label: str
    category: Coded
    type: Coded
    modifier: Coded | None = None
    region: Coded | None = None
    colour: tuple[int, int, int] = (255, 64, 64)


_STRUCTURE = Coded("91723000", "SCT", SNOMED, "Anatomical Structure")
_ABNORMAL = Coded("49755003", "SCT", SNOMED, "Morphologically Abnormal Structure")
_HIPPOCAMPUS = Coded("5366008", "SCT", SNOMED, "Hippocampus")
_SEGMENTS = {
    ("mri-hippocampus", "anterior"): SegmentCoding(
        "Hippocampus, anterior",
        _STRUCTURE,
        _HIPPOCAMPUS,
        modifier=Coded("255549009", "SCT", SNOMED, "Anterior"),
        colour=(255, 200, 0),
    ),
    ("mri-hippocampus", "posterior"): SegmentCoding(
        "Hippocampus, posterior",
        _STRUCTURE,
        _HIPPOCAMPUS,
        modifier=Coded("255551008", "SCT", SNOMED, "Posterior"),
        colour=(0, 170, 255),
    ),
    ("mri-brain-tumour", "tumour"): SegmentCoding(
        "FLAIR abnormality",
        _ABNORMAL,
        Coded("108369006", "SCT", SNOMED, "Neoplasm"),
        region=Coded("12738006", "SCT", SNOMED, "Brain"),
        colour=(255, 64, 64),
    ),
}
# Colours for labels the table does not name, in label order.
_FALLBACK_COLOURS = ((255, 64, 64), (64, 200, 64), (64, 128, 255), (255, 200, 0), (200, 64, 255))


def segment_coding(task: str, name: str, number: int = 1) -> SegmentCoding:
    """How label ``name`` (the ``number``-th) of ``task`` is described; a local code when not in the table."""
    found = _SEGMENTS.get((task, name))
    if found is not None:
        return found
    local = Coded(name[:16], "99MEDSIGHT", _LOCAL, f"{task} {name}"[:64])
    colour = _FALLBACK_COLOURS[(number - 1) % len(_FALLBACK_COLOURS)]
    return SegmentCoding(name.replace("_", " "), _ABNORMAL, local, colour=colour)


def finding_code(task: str) -> Coded:
    """The finding ``task`` reports the probability of."""
    return _FINDINGS.get(task) or Coded(task, "99MEDSIGHT", _LOCAL, f"{task} finding")


def procedure_code(task: str) -> Coded:
    """The imaging procedure ``task`` reads."""
    return _PROCEDURES.get(task, _IMAGING_PROCEDURE)
