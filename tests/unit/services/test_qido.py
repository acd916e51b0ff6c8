"""QIDO-RS query strings: attributes by keyword or tag, paging, includefield, and what is ignored."""

from __future__ import annotations

import pytest

from medsight.errors import UsageError
from medsight.services.qido import Level, parse_qido


def test_attributes_by_keyword_or_tag() -> None:
    request = parse_qido([("PatientID", "P1"), ("00100010", "DOE*"), ("StudyDate", "2020-")], Level.STUDY)
    assert request.filters == {0x00100020: "P1", 0x00100010: "DOE*", 0x00080020: "2020-"}
    assert request.ignored == ()


def test_paging_and_includefield() -> None:
    request = parse_qido(
        [
            ("limit", "10"),
            ("offset", "20"),
            ("includefield", "PatientAge,00081030"),
            ("includefield", "all"),
            ("fuzzymatching", "false"),
        ],
        Level.SERIES,
    )
    assert (request.limit, request.offset, request.include_all) == (10, 20, True)
    assert request.include == frozenset({0x00101010, 0x00081030})
    assert request.wants({0x00100020})


def test_includefield_without_all_wants_only_what_it_names() -> None:
    request = parse_qido([("includefield", "PatientID")], Level.INSTANCE)
    assert request.wants({0x00100020, 0x00100010})
    assert not request.wants({0x00080020})
    assert not parse_qido([], Level.INSTANCE).wants({0x00100020})


def test_every_required_study_key_of_ps3_18_table_10_6_1_5_is_matched() -> None:
    keys = [
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ModalitiesInStudy",
        "ReferringPhysicianName",
        "PatientName",
        "PatientID",
        "StudyInstanceUID",
        "StudyID",
    ]
    request = parse_qido([(key, "1") for key in keys], Level.STUDY)
    assert request.ignored == ()
    assert len(request.filters) == len(keys)


def test_attributes_the_level_cannot_match_are_ignored_once_each() -> None:
    request = parse_qido([("StudyDescription", "x"), ("StudyDescription", "y"), ("PatientID", "P")], Level.SERIES)
    assert request.ignored == ("StudyDescription", "PatientID")
    assert request.filters == {}


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ([("limit", "-1")], "limit"),
        ([("limit", "ten")], "limit"),
        ([("offset", "1.5")], "offset"),
        ([("includefield", "NoSuchAttribute")], "includefield"),
        ([("NoSuchAttribute", "x")], "query"),
    ],
)
def test_malformed_parameters_name_the_parameter(params: list[tuple[str, str]], named: str) -> None:
    with pytest.raises(UsageError, match=named):
        parse_qido(params, Level.STUDY)
