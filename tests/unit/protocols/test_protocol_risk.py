"""The two risk models against their publications.

PLCOm2012: Tammemägi MC et al., N Engl J Med 2013;368:728-736, Table 2 gives each
covariate's odds ratio (the exponent of its coefficient) and the Supplementary Appendix the
centring values; the worked examples below follow the appendix's recipe step by step.

Gail / NCI BCRAT: Gail MH et al., J Natl Cancer Inst 1989;81:1879-1886 publish the relative
risks of each risk-factor category (menarche 1.00/1.10/1.21; age at first live birth crossed
with affected first-degree relatives, 1.00 ... 6.80; biopsies before and from age 50),
reproduced as the "Gail model: BCDDP" column of Table 2 in Chay WY et al., Breast Cancer Res
2012;14:R19 (https://doi.org/10.1186/bcr3104); the FDA/NSABP "increased risk" of 1.66% over
5 years is the risk of an average 60-year-old white woman. BCRAT's absolute risk is the
competing-risk life table of the 1989 paper, recomputed here by a naive band-by-band
reference (BCRAT's own 5-year-band form) for comparison.
"""

from __future__ import annotations

import math

import pytest

from medsight.protocols.risk import (
    PLCO_RACE,
    GailInputs,
    PlcoInputs,
    gail_absolute_risk,
    gail_relative_risks,
    plcom2012_6y,
)

REFERENCE = PlcoInputs(
    age=62,
    education=4,
    bmi=27,
    copd=False,
    personal_cancer_history=False,
    family_lung_cancer=False,
    current=False,
    cigarettes_per_day=10 / 0.4021541613,
    years_smoked=27,
    years_since_quit=10,
)


def _odds(p: float) -> float:
    return p / (1 - p)


def test_plcom2012_at_the_centring_values_is_the_intercept() -> None:
    # Every centred term is zero for a former smoker at the centring values: logit = -4.532506.
    assert plcom2012_6y(REFERENCE) == pytest.approx(1 / (1 + math.exp(4.532506)), rel=1e-9)
    assert 100 * plcom2012_6y(REFERENCE) == pytest.approx(1.0639, abs=1e-4)


@pytest.mark.parametrize(
    ("change", "odds_ratio"),
    [
        ({"age": 63}, 1.081),  # per year of age
        ({"education": 5}, 0.922),  # per education level
        ({"bmi": 28}, 0.973),  # per kg/m2
        ({"copd": True}, 1.427),
        ({"personal_cancer_history": True}, 1.582),
        ({"family_lung_cancer": True}, 1.799),
        ({"years_smoked": 28}, 1.032),  # per year smoked
        ({"years_since_quit": 11}, 0.970),  # per year since quitting
        ({"race": "black"}, 1.484),
        ({"race": "hispanic"}, 0.475),
        ({"race": "asian"}, 0.627),
        ({"race": "pacific_islander"}, 2.793),
    ],
)
def test_plcom2012_odds_ratios_are_those_of_table_2(change: dict[str, object], odds_ratio: float) -> None:
    changed = PlcoInputs(**{**REFERENCE.__dict__, **change})  # type: ignore[arg-type]
    assert _odds(plcom2012_6y(changed)) / _odds(plcom2012_6y(REFERENCE)) == pytest.approx(odds_ratio, abs=5e-4)


def test_plcom2012_worked_example_current_smoker() -> None:
    # A 65-year-old current smoker, high-school graduate (2), BMI 24, COPD, a sister with lung
    # cancer, 20 cigarettes a day for 45 years. The appendix's steps, by hand:
    logit = (
        -4.532506
        + 0.0778868 * (65 - 62)
        - 0.0812744 * (2 - 4)
        - 0.0274194 * (24 - 27)
        + 0.3553063
        + 0.587185
        + 0.2597431
        - 1.822606 * ((20 / 10) ** -1 - 0.4021541613)
        + 0.0317321 * (45 - 27)
        - 0.0308572 * (0 - 10)
    )
    person = PlcoInputs(
        age=65,
        education=2,
        bmi=24,
        copd=True,
        personal_cancer_history=False,
        family_lung_cancer=True,
        current=True,
        cigarettes_per_day=20,
        years_smoked=45,
        years_since_quit=0,
    )
    assert plcom2012_6y(person) == pytest.approx(1 / (1 + math.exp(-logit)), rel=1e-12)
    assert 100 * plcom2012_6y(person) == pytest.approx(10.43, abs=0.01)  # logit -2.1504 by hand
    assert plcom2012_6y(person) >= 0.0151  # above the screening threshold of Tammemägi 2014


def test_plcom2012_race_terms() -> None:
    assert PLCO_RACE["white"] == PLCO_RACE["american_indian"] == 0.0


@pytest.mark.parametrize(
    ("menarche", "expected"),
    [(14, 1.000), (13, 1.099), (12, 1.099), (11, 1.207)],
)
def test_gail_menarche_relative_risks(menarche: int, expected: float) -> None:
    young, old = gail_relative_risks(GailInputs(40, menarche, 15, 0, None, 0))
    assert young == pytest.approx(expected, abs=5e-4)
    assert old == young


@pytest.mark.parametrize(
    ("biopsies", "under_50", "from_50"),
    [(0, 1.00, 1.00), (1, 1.70, 1.27), (2, 2.88, 1.62), (5, 2.88, 1.62)],
)
def test_gail_biopsy_relative_risks_change_at_50(biopsies: int, under_50: float, from_50: float) -> None:
    # Atypical hyperplasia unknown: multiplier 1.0, as BCRAT.
    young, old = gail_relative_risks(GailInputs(40, 14, 15, biopsies, None, 0))
    assert young == pytest.approx(under_50, abs=0.005)
    assert old == pytest.approx(from_50, abs=0.005)


@pytest.mark.parametrize(
    ("first_birth", "relatives", "expected"),
    [
        (18, 0, 1.00),
        (18, 1, 2.61),
        (18, 2, 6.80),
        (22, 0, 1.24),
        (22, 1, 2.68),
        (22, 2, 5.78),
        (27, 0, 1.55),
        (27, 1, 2.76),
        (27, 2, 4.91),
        (None, 0, 1.55),
        (None, 1, 2.76),  # nulliparous: with 25-29
        (31, 0, 1.93),
        (31, 1, 2.83),
        (31, 2, 4.17),
    ],
)
def test_gail_first_birth_by_relatives(first_birth: int | None, relatives: int, expected: float) -> None:
    young, _ = gail_relative_risks(GailInputs(40, 14, first_birth, 0, None, relatives))
    assert young == pytest.approx(expected, abs=0.006)


def test_gail_atypical_hyperplasia_multipliers() -> None:
    base, _ = gail_relative_risks(GailInputs(40, 14, 15, 1, None, 0))
    without, _ = gail_relative_risks(GailInputs(40, 14, 15, 1, False, 0))
    with_atypia, _ = gail_relative_risks(GailInputs(40, 14, 15, 1, True, 0))
    assert without / base == pytest.approx(0.93)
    assert with_atypia / base == pytest.approx(1.82)


# SEER 1983-87 white incidence and NCHS 1985-87 competing mortality, 5-year bands from 20.
_L1 = [
    1.0e-5,
    7.6e-5,
    2.66e-4,
    6.61e-4,
    1.265e-3,
    1.866e-3,
    2.211e-3,
    2.721e-3,
    3.348e-3,
    3.923e-3,
    4.178e-3,
    4.439e-3,
    4.421e-3,
    4.109e-3,
]
_L2 = [
    4.93e-4,
    5.31e-4,
    6.25e-4,
    8.25e-4,
    1.307e-3,
    2.181e-3,
    3.655e-3,
    5.852e-3,
    9.439e-3,
    1.5028e-2,
    2.3839e-2,
    3.8832e-2,
    6.6828e-2,
    1.44908e-1,
]


def _bcrat_bands(age: int, until: int, rr_young: float, rr_old: float) -> float:
    """BCRAT's form: one term per (part of a) 5-year band, hazards constant within it."""
    risk, cumulative, start = 0.0, 0.0, age
    while start < until:
        band = (start - 20) // 5
        end = min(until, 20 + 5 * (band + 1))
        h1 = _L1[band] * 0.5788413 * (rr_young if start < 50 else rr_old)
        total = h1 + _L2[band]
        risk += h1 / total * math.exp(-cumulative) * (1 - math.exp(-total * (end - start)))
        cumulative += total * (end - start)
        start = end
    return risk


@pytest.mark.parametrize(
    "inputs",
    [
        GailInputs(40, 13, 24, 0, None, 0),
        GailInputs(35, 11, None, 2, True, 2),
        GailInputs(48, 12, 31, 1, False, 1),  # crosses 50 inside the 5 years
        GailInputs(62, 14, 19, 0, None, 1),
        GailInputs(85, 13, 25, 0, None, 0),
    ],
)
def test_gail_absolute_risk_equals_the_band_wise_life_table(inputs: GailInputs) -> None:
    young, old = gail_relative_risks(inputs)
    for until in (inputs.age + 5, 90):
        assert gail_absolute_risk(inputs, until) == pytest.approx(_bcrat_bands(inputs.age, until, young, old), rel=1e-9)


def test_gail_average_white_woman_at_60_is_near_the_nsabp_threshold() -> None:
    # NSABP P-1 took 1.66% (5 years), the risk of an average 60-year-old woman, as "high risk";
    # a 60-year-old with menarche at 12, first birth at 24 and no other factor sits below it.
    risk = gail_absolute_risk(GailInputs(60, 12, 24, 0, None, 0), 65)
    assert 0.010 < risk < 0.0166
