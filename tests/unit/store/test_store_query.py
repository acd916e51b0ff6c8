"""Study, series and instance queries with the matching rules of PS3.4 C.2.2.2."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from medsight.errors import UsageError
from medsight.store import InstanceQuery, SeriesQuery, Store, StudyQuery

Variant = Callable[..., bytes]

# name, patient name, patient id, study date, accession, modalities (one series each)
_STUDIES = [
    ("A", "Doe^John", "PAT-1", "20200115", "ACC1", ("CT",)),
    ("B", "DOE^Jane", "pat-1", "20201231", "ACC2", ("MR",)),
    ("C", "Smith^Anna", "PAT-2", "20210101", "X_1%", ("CT", "SR")),
    ("D", "MÜLLER^JÖRG", "PAT-3", None, None, ("US",)),
]

# name -> study time, referring physician, study ID
_MORE = {
    "A": ("0930", "Welby^Marcus", "S1"),
    "B": ("093015.25", "welby^marcia", "S2"),
    "C": ("1400", None, "X1"),
    "D": (None, "House^Gregory", None),
}


def _uid(*parts: object) -> str:
    return "1.2.826.0.1.3680043.10.999." + ".".join(str(p) for p in parts)


@pytest.fixture(scope="module")
def corpus(ct_series: list[bytes], variant: Variant) -> list[bytes]:
    objects = []
    for s, (name, patient, patient_id, date, accession, modalities) in enumerate(_STUDIES, 1):
        time, referring, study_id = _MORE[name]
        for m, modality in enumerate(modalities, 1):
            objects.append(
                variant(
                    ct_series[0],
                    SpecificCharacterSet="ISO_IR 192",
                    PatientName=patient,
                    PatientID=patient_id,
                    StudyDate=date,
                    StudyTime=time,
                    ReferringPhysicianName=referring,
                    StudyID=study_id,
                    AccessionNumber=accession,
                    Modality=modality,
                    StudyInstanceUID=_uid(s),
                    SeriesInstanceUID=_uid(s, m),
                    SeriesNumber=m,
                    SOPInstanceUID=_uid(s, m, 1),
                )
            )
    return objects


@pytest.fixture
def loaded(store: Store, corpus: list[bytes]) -> Store:
    for data in corpus:
        store.ingest(data)
    return store


def _names(store: Store, query: StudyQuery) -> list[str]:
    by_uid = {_uid(s): row[0] for s, row in enumerate(_STUDIES, 1)}
    return [by_uid[r.study_instance_uid] for r in store.studies(query)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("doe*", ["A", "B"]),  # PN: case-insensitive (C.2.2.2.1.1)
        ("DOE^J?HN", ["A"]),  # ? is exactly one character (C.2.2.2.4)
        ("*anna", ["C"]),
        ("smith^anna", ["C"]),  # single value matching, still case-insensitive for PN
        ("müll*", ["D"]),  # case folding beyond ASCII
        ("*", ["A", "B", "C", "D"]),  # universal matching (C.2.2.2.3)
        ("Doe", []),  # no wildcard: the whole value must match
    ],
)
def test_patient_name_wildcards(loaded: Store, value: str, expected: list[str]) -> None:
    assert _names(loaded, StudyQuery(patient_name=value)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("PAT-1", ["A"]), ("pat-*", ["B"]), ("PAT-?", ["A", "C", "D"]), ("*-1", ["A", "B"])],
)
def test_patient_id_matching_is_case_sensitive(loaded: Store, value: str, expected: list[str]) -> None:
    assert _names(loaded, StudyQuery(patient_id=value)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20200101-20201231", ["A", "B"]),  # inclusive at both ends (C.2.2.2.5)
        ("-20200115", ["A"]),
        ("20201231-", ["B", "C"]),
        ("20200115", ["A"]),
        ("20220101-", []),
    ],
)
def test_study_date_ranges(loaded: Store, value: str, expected: list[str]) -> None:
    assert _names(loaded, StudyQuery(study_date=value)) == expected


@pytest.mark.parametrize("value", ["2020", "2020-01-01", "-", "2020010a-", "20200101-2021"])
def test_malformed_dates_are_usage_errors_that_do_not_quote_the_value(loaded: Store, value: str) -> None:
    with pytest.raises(UsageError, match="StudyDate") as info:
        loaded.studies(StudyQuery(study_date=value))
    assert value not in info.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0930", ["A", "B"]),  # a partial time covers all it names: 09:30:00 to 09:30:59.999999
        ("093015", ["B"]),  # the stored 0930 means 09:30:00, not 09:30:15
        ("09-13", ["A", "B"]),  # "13" as an upper end is up to 13:59:59.999999
        ("0931-", ["C"]),
        ("-093014.999", ["A"]),
        ("1400-235959.999999", ["C"]),
    ],
)
def test_study_time_ranges_compare_partial_times_as_what_they_mean(
    loaded: Store, value: str, expected: list[str]
) -> None:
    assert _names(loaded, StudyQuery(study_time=value)) == expected


@pytest.mark.parametrize("value", ["25", "0960", "9", "-", "12:30", "1230-13a0", "120000.1234567"])
def test_malformed_times_are_usage_errors_that_do_not_quote_the_value(loaded: Store, value: str) -> None:
    with pytest.raises(UsageError, match="StudyTime") as info:
        loaded.studies(StudyQuery(study_time=value))
    assert value not in info.value.message


@pytest.mark.parametrize(
    ("referring", "study_id", "expected"),
    [
        ("welby*", None, ["A", "B"]),
        ("WELBY^MARCUS", None, ["A"]),
        ("house^*", None, ["D"]),
        (None, "S?", ["A", "B"]),
        (None, "X1", ["C"]),
        (None, "s1", []),  # StudyID is not a person name: case-sensitive
        ("welby*", "S2", ["B"]),
    ],
)
def test_referring_physician_and_study_id(
    loaded: Store, referring: str | None, study_id: str | None, expected: list[str]
) -> None:
    assert _names(loaded, StudyQuery(referring_physician_name=referring, study_id=study_id)) == expected


@pytest.mark.parametrize(
    ("modalities", "expected"),
    [(("MR",), ["B"]), (("SR", "US"), ["C", "D"]), (("ct",), ["A", "C"]), (("PT",), [])],
)
def test_modalities_in_study(loaded: Store, modalities: tuple[str, ...], expected: list[str]) -> None:
    assert _names(loaded, StudyQuery(modalities=modalities)) == expected


def test_derived_study_attributes(loaded: Store) -> None:
    (study,) = loaded.studies(StudyQuery(study_instance_uids=(_uid(3),)))
    assert study.modalities_in_study == ("CT", "SR")
    assert (study.number_of_series, study.number_of_instances) == (2, 2)
    assert (study.patient_name, study.accession_number, study.study_date) == ("Smith^Anna", "X_1%", "20210101")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("X_1%", ["C"]), ("X?1*", ["C"]), ("ACC_*", []), ("ACC*", ["A", "B"]), ("acc1", [])],
)
def test_accession_number_with_sql_wildcard_characters_in_values(
    loaded: Store, value: str, expected: list[str]
) -> None:
    assert _names(loaded, StudyQuery(accession_number=value)) == expected


def test_study_uid_list_and_combined_keys(loaded: Store) -> None:
    assert _names(loaded, StudyQuery(study_instance_uids=(_uid(3), _uid(1)))) == ["A", "C"]
    assert _names(loaded, StudyQuery(study_instance_uids=(_uid(3), _uid(1)), modalities=("SR",))) == ["C"]
    assert _names(loaded, StudyQuery(patient_name="doe*", study_date="20201201-")) == ["B"]


def test_pages_are_stable_and_complete(loaded: Store) -> None:
    pages = [_names(loaded, StudyQuery(limit=3, offset=offset)) for offset in (0, 3, 6)]
    assert pages == [["A", "B", "C"], ["D"], []]
    assert _names(loaded, StudyQuery(limit=0)) == []
    with pytest.raises(UsageError):
        StudyQuery(limit=-1)
    with pytest.raises(UsageError):
        StudyQuery(offset=-1)


def test_series_queries(loaded: Store) -> None:
    in_c = loaded.series(SeriesQuery(study_instance_uid=_uid(3)))
    assert [(s.modality, s.series_number, s.number_of_instances) for s in in_c] == [("CT", 1, 1), ("SR", 2, 1)]
    assert [s.series_instance_uid for s in loaded.series(SeriesQuery(modality="SR"))] == [_uid(3, 2)]
    assert len(loaded.series(SeriesQuery(series_number=1))) == 4
    assert len(loaded.series(SeriesQuery(limit=2, offset=4))) == 1
    assert loaded.series(SeriesQuery(series_instance_uids=(_uid(2, 1),)))[0].study_instance_uid == _uid(2)


def test_instance_queries(loaded: Store) -> None:
    everything = loaded.instances(InstanceQuery())
    assert len(everything) == 5
    assert {i.sop_class_uid for i in everything} == {"1.2.840.10008.5.1.4.1.1.2"}
    (one,) = loaded.instances(InstanceQuery(sop_instance_uids=(_uid(3, 2, 1),)))
    assert (one.series_instance_uid, one.study_instance_uid, one.instance_number) == (_uid(3, 2), _uid(3), 1)
    assert loaded.instance(_uid(3, 2, 1)) == one
    assert len(loaded.instances(InstanceQuery(study_instance_uid=_uid(3)))) == 2
    assert len(loaded.instances(InstanceQuery(study_instance_uid=_uid(3), series_instance_uid=_uid(3, 1)))) == 1
    assert loaded.instances(InstanceQuery(sop_class_uid="1.2.3")) == []
