"""Each chest task's finding is coded in SNOMED CT for its SR and FHIR report."""

from __future__ import annotations

import pytest

from medsight.services.findings import SNOMED, finding_code, procedure_code


@pytest.mark.parametrize(
    ("task", "code", "meaning"),
    [("cxr-pneumonia", "233604007", "Pneumonia"), ("cxr-tuberculosis", "154283005", "Pulmonary tuberculosis")],
)
def test_chest_findings_are_snomed_concepts(task: str, code: str, meaning: str) -> None:
    finding = finding_code(task)
    assert (finding.code, finding.scheme, finding.system, finding.meaning) == (code, "SCT", SNOMED, meaning)
    assert procedure_code(task).meaning == "Plain radiography"


def test_a_task_without_a_concept_gets_a_local_code() -> None:
    assert finding_code("knee-oa").scheme == "99MEDSIGHT"
