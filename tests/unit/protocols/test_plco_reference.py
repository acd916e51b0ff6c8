"""PLCOm2012 against the published worked example of the resplab PLCOm2012 R package.

Reference: resplab/PLCOm2012 (R), README example: a 62-year-old white former smoker, some
college (education level 4), BMI 27, no COPD, no personal cancer history, no family
history of lung cancer, 80 cigarettes a day for 27 years, quit 10 years ago: 6-year risk
0.01750922. Its tests also fix each race's term at the model's centring values.
"""

from __future__ import annotations

import math

import pytest

from medsight.protocols.risk import PlcoInputs, plcom2012_6y


def _person(race: str = "white", cigarettes_per_day: float = 80.0) -> PlcoInputs:
    return PlcoInputs(
        age=62,
        education=4,
        bmi=27,
        copd=False,
        personal_cancer_history=False,
        family_lung_cancer=False,
        current=False,
        cigarettes_per_day=cigarettes_per_day,
        years_smoked=27,
        years_since_quit=10,
        race=race,
    )


def test_the_published_example() -> None:
    assert plcom2012_6y(_person()) == pytest.approx(0.01750922, abs=5e-9)


@pytest.mark.parametrize(
    ("race", "term"),
    [
        ("white", 0.0),
        ("black", 0.3944778),
        ("hispanic", -0.7434744),
        ("asian", -0.466585),
        ("pacific_islander", 1.027152),
    ],
)
def test_each_race_term_at_the_centring_values(race: str, term: float) -> None:
    # 10 / 0.4021541613 cigarettes a day makes the intensity term vanish: only the intercept and race remain.
    logit = -4.532506 + term
    expected = math.exp(logit) / (1 + math.exp(logit))
    assert plcom2012_6y(_person(race, 10 / 0.4021541613)) == pytest.approx(expected, rel=1e-9)
