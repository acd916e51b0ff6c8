"""What each task's finding is called in coded terminologies (DICOM SR and FHIR share it).

A task whose finding has a SNOMED CT concept uses it; any other gets a local code in the
private scheme ``99MEDSIGHT`` named after the task, so reports stay valid and honest.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SNOMED", "Coded", "finding_code", "procedure_code"]

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
}
_PROCEDURES = {
    "cxr-pneumonia": Coded("168537006", "SCT", SNOMED, "Plain radiography"),
}
_IMAGING_PROCEDURE = Coded("363679005", "SCT", SNOMED, "Imaging procedure")


def finding_code(task: str) -> Coded:
    """The finding ``task`` reports the probability of."""
    return _FINDINGS.get(task) or Coded(task, "99MEDSIGHT", _LOCAL, f"{task} finding")


def procedure_code(task: str) -> Coded:
    """The imaging procedure ``task`` reads."""
    return _PROCEDURES.get(task, _IMAGING_PROCEDURE)
