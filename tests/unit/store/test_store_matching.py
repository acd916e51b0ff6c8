"""DICOM matching (PS3.4 C.2.2.2) as SQL conditions: universal, wildcard, range."""

from __future__ import annotations

import pytest

from medsight.errors import UsageError
from medsight.store.matching import date_condition, string_condition, uid_condition
from medsight.store.models import Patient, Study


def _sql(condition: object) -> str:
    return str(condition.compile(compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["", "*", "***"])
def test_universal_matching_is_no_condition(value: str) -> None:
    assert string_condition(Patient.patient_id, value) is None


def test_wildcards_become_like_with_sql_wildcards_escaped() -> None:
    condition = string_condition(Patient.patient_id, r"a_b%c\*?")
    assert condition is not None
    assert condition.right.value == r"a\_b\%c\\%_"  # type: ignore[attr-defined]
    assert "ESCAPE" in _sql(condition)


def test_person_names_are_folded_and_plain_values_compared_exactly() -> None:
    assert "'doe^john'" in _sql(string_condition(Patient.patient_name_search, "DOE^John", person_name=True))
    assert " = 'PAT'" in _sql(string_condition(Patient.patient_id, "PAT"))


def test_uid_lists_ignore_blanks() -> None:
    assert uid_condition(Study.study_instance_uid, ["", " "]) is None
    assert "IN ('1.2', '3.4')" in _sql(uid_condition(Study.study_instance_uid, ["1.2", " 3.4 "]))


def test_date_ranges() -> None:
    assert date_condition(Study.study_date, "*", attribute="StudyDate") is None
    both = _sql(date_condition(Study.study_date, "20200101-20201231", attribute="StudyDate"))
    assert ">= '20200101'" in both
    assert "<= '20201231'" in both
    with pytest.raises(UsageError, match="StudyDate"):
        date_condition(Study.study_date, "-", attribute="StudyDate")
