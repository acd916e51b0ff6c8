"""Audit attributes from subgroup columns: age bands, intersections, unrecorded values."""

from __future__ import annotations

import pytest

from medsight.audit import UNRECORDED, AgeBands, attribute_values, parse_attributes
from medsight.audit.groups import value_order
from medsight.errors import UsageError

CASES = [
    {"sex": "Male", "age": "45", "source": "shenzhen"},
    {"sex": "female", "age": "12", "source": "montgomery"},
    {"sex": "", "age": "70", "source": "montgomery"},
    {"sex": "male", "age": "", "source": "shenzhen"},
    {"sex": "female", "age": "39.5", "source": "shenzhen"},
]


@pytest.mark.parametrize(
    ("age", "band"),
    [("0", "<18"), ("17.9", "<18"), ("18", "18-39"), ("39", "18-39"), ("40", "40-59"), ("60", "60+"), ("89", "60+")],
)
def test_default_age_bands(age: str, band: str) -> None:
    assert AgeBands().band(age) == band


@pytest.mark.parametrize("age", ["", "n/a", "-3", "200"])
def test_an_unreadable_age_is_unrecorded(age: str) -> None:
    assert AgeBands().band(age) == UNRECORDED


def test_attribute_values_lower_case_and_mark_missing_values() -> None:
    assert attribute_values("sex", CASES) == ["male", "female", UNRECORDED, "male", "female"]
    assert attribute_values("age_band", CASES) == ["40-59", "<18", "60+", UNRECORDED, "18-39"]


def test_an_intersection_is_unrecorded_when_either_half_is() -> None:
    assert attribute_values("sex*age_band", CASES) == [
        "male*40-59",
        "female*<18",
        UNRECORDED,
        UNRECORDED,
        "female*18-39",
    ]


def test_an_attribute_the_data_does_not_record_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="ethnicity"):
        attribute_values("ethnicity", CASES)


def test_parse_attributes_keeps_order_and_drops_repeats() -> None:
    assert parse_attributes("sex, age_band,sex,,source") == ("sex", "age_band", "source")
    with pytest.raises(UsageError):
        parse_attributes(" , ")
    with pytest.raises(UsageError):
        parse_attributes("a*b*c")


def test_custom_bands_and_reading_order() -> None:
    bands = AgeBands((30, 65))
    assert bands.labels() == ("<30", "30-64", "65+")
    values = ["65+", UNRECORDED, "<30", "30-64"]
    assert value_order("age_band", values, bands) == ["<30", "30-64", "65+", UNRECORDED]
    both = ["male*65+", "female*<30", "male*<30"]
    assert value_order("sex*age_band", both, bands) == ["female*<30", "male*<30", "male*65+"]
    with pytest.raises(UsageError):
        AgeBands((40, 18))
