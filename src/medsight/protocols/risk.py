"""Two published risk models that decide screening eligibility beyond age and history.

* **PLCOm2012** (Tammemägi MC et al., "Selection criteria for lung-cancer screening",
  N Engl J Med 2013;368:728-736, Table 2 and Supplementary Appendix): the 6-year
  probability of lung cancer for an ever-smoker, a logistic model with centred
  covariates. A 6-year risk of 1.51% or more is the threshold Tammemägi et al. (PLoS Med
  2014;11:e1001764) proposed and screening programmes (Ontario, the Yorkshire trial) use.
* **Gail model** as in NCI's Breast Cancer Risk Assessment Tool (BCRAT; Gail MH et al.,
  J Natl Cancer Inst 1989;81:1879-1886; Costantino JP et al., JNCI 1999;91:1541-1548;
  Gail MH et al., JNCI 2007;99:1782-1792 for Black women; Matsuno RK et al., JNCI
  2011;103:951-961 for Asian and Pacific Islander women; Banegas MP et al., JNCI 2017;
  109:djw215 for Hispanic women): a relative risk from reproductive and biopsy history
  and first-degree relatives, applied to SEER incidence with competing mortality in a
  single-year life table. The coefficients and rate tables are NCI's published values.

Both are pure functions of explicit inputs; :mod:`medsight.protocols.facts` maps a
profile onto them and states every input it had to assume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GAIL_GROUPS",
    "PLCO_RACE",
    "GailInputs",
    "PlcoInputs",
    "gail_absolute_risk",
    "gail_relative_risks",
    "plcom2012_6y",
]

# --- PLCOm2012 -------------------------------------------------------------------------

#: Race/ethnicity terms of PLCOm2012 (Tammemägi 2013, Table 2).
PLCO_RACE = {
    "white": 0.0,
    "black": 0.3944778,
    "hispanic": -0.7434744,
    "asian": -0.466585,
    "american_indian": 0.0,
    "pacific_islander": 1.027152,
}
_PLCO_INTERCEPT = -4.532506


@dataclass(frozen=True)
class PlcoInputs:
    """PLCOm2012's covariates, in the units of the paper.

    ``education`` is 1 (less than high school) ... 6 (postgraduate); ``current`` is a
    current smoker (then ``years_since_quit`` is 0).
    """

    age: float
    education: int
    bmi: float
    copd: bool
    personal_cancer_history: bool
    family_lung_cancer: bool
    current: bool
    cigarettes_per_day: float
    years_smoked: float
    years_since_quit: float
    race: str = "white"


def plcom2012_6y(x: PlcoInputs) -> float:
    """The 6-year probability of lung cancer (0-1) for an ever-smoker."""
    logit = (
        _PLCO_INTERCEPT
        + 0.0778868 * (x.age - 62)
        - 0.0812744 * (x.education - 4)
        - 0.0274194 * (x.bmi - 27)
        + 0.3553063 * x.copd
        + 0.4589971 * x.personal_cancer_history
        + 0.587185 * x.family_lung_cancer
        + 0.2597431 * x.current
        # Smoking intensity enters as the centred inverse of packs (tens of cigarettes) a day.
        - 1.822606 * (10.0 / x.cigarettes_per_day - 0.4021541613)
        + 0.0317321 * (x.years_smoked - 27)
        - 0.0308572 * ((0.0 if x.current else x.years_since_quit) - 10)
        + PLCO_RACE[x.race]
    )
    return 1.0 / (1.0 + math.exp(-logit))


# --- Gail / BCRAT ----------------------------------------------------------------------

GailGroup = Literal["white", "black", "hispanic", "asian", "pacific_islander"]
GAIL_GROUPS: tuple[GailGroup, ...] = ("white", "black", "hispanic", "asian", "pacific_islander")

# Relative-risk coefficients: biopsies, menarche, first birth, relatives, age>=50 x
# biopsies, first birth x relatives (BCRAT; Asian and Pacific Islander share one model).
_BETA: dict[str, tuple[float, float, float, float, float, float]] = {
    "white": (0.5292641686, 0.0940103059, 0.2186262218, 0.9583027845, -0.2880424830, -0.1908113865),
    "black": (0.1822121131, 0.2672530336, 0.0, 0.4757242578, -0.1119411682, 0.0),
    "hispanic": (0.0970783641, 0.0, 0.2318368334, 0.1666854410, 0.0, 0.0),
    "asian": (0.55263612260619, 0.07499257592975, 0.27638268294593, 0.79185633720481, 0.0, 0.0),
}
# 1 - attributable risk, for ages <50 and >=50.
_ONE_MINUS_AR: dict[str, tuple[float, float]] = {
    "white": (0.5788413, 0.5788413),
    "black": (0.72949880, 0.74397137),
    "hispanic": (0.749294788397, 0.778215491668),
    "asian": (0.47519806426735, 0.50316401683903),
}
# Invasive breast cancer incidence (lambda1) and competing mortality (lambda2) per year,
# 5-year bands 20-24 ... 85-89. White: SEER 1983-87 / NCHS 1985-87; Black: SEER 1994-98;
# Hispanic (US-born): CCR/SEER 1995-2004; Asian: SEER "other Asian"; Pacific Islander:
# SEER "other Pacific Islander" 1998-2002.
_LAMBDA1: dict[str, tuple[float, ...]] = {
    "white": (0.00001000, 0.00007600, 0.00026600, 0.00066100, 0.00126500, 0.00186600, 0.00221100,
              0.00272100, 0.00334800, 0.00392300, 0.00417800, 0.00443900, 0.00442100, 0.00410900),
    "black": (0.00002696, 0.00011295, 0.00031094, 0.00067639, 0.00119444, 0.00187394, 0.00241504,
              0.00291112, 0.00310127, 0.00366560, 0.00393132, 0.00408951, 0.00396793, 0.00363712),
    "hispanic": (0.0000166, 0.0000741, 0.0002740, 0.0006099, 0.0012225, 0.0019027, 0.0023142,
                 0.0028357, 0.0031144, 0.0030794, 0.0033344, 0.0035082, 0.0025308, 0.0020414),
    "asian": (0.000012355409, 0.000059526456, 0.000184320831, 0.000454677273, 0.000791265338,
              0.001048462801, 0.001372467817, 0.001495473711, 0.001646746198, 0.001478363563,
              0.001216010125, 0.001067663700, 0.001376104012, 0.000661576644),
    "pacific_islander": (0.000000000001, 0.000071525212, 0.000288799028, 0.000602250698, 0.000755579402,
                         0.000766406354, 0.001893124938, 0.002365580107, 0.002843933070, 0.002920921732,
                         0.002330395655, 0.002036291235, 0.001482683983, 0.001012248203),
}  # fmt: skip
_LAMBDA2: dict[str, tuple[float, ...]] = {
    "white": (0.00049300, 0.00053100, 0.00062500, 0.00082500, 0.00130700, 0.00218100, 0.00365500,
              0.00585200, 0.00943900, 0.01502800, 0.02383900, 0.03883200, 0.06682800, 0.14490800),
    "black": (0.00074354, 0.00101698, 0.00145937, 0.00215933, 0.00315077, 0.00448779, 0.00632281,
              0.00963037, 0.01471818, 0.02116304, 0.03266035, 0.04564087, 0.06835185, 0.13271262),
    "hispanic": (0.0003561, 0.0004038, 0.0005281, 0.0008875, 0.0013987, 0.0020769, 0.0030912,
                 0.0046960, 0.0076050, 0.0120555, 0.0193805, 0.0288386, 0.0429634, 0.0740349),
    "asian": (0.000212632332, 0.000242170741, 0.000301552711, 0.000369053354, 0.000543002943,
              0.000893862331, 0.001515172239, 0.002574669551, 0.004324370426, 0.007419621918,
              0.013251765130, 0.022291427490, 0.041746550635, 0.087485802065),
    "pacific_islander": (0.000465500812, 0.000600466920, 0.000851057138, 0.001478265376, 0.001931486788,
                         0.003866623959, 0.004924932309, 0.008177071806, 0.008638202890, 0.018974658371,
                         0.029257567105, 0.038408980974, 0.052869579345, 0.074745721133),
}  # fmt: skip


@dataclass(frozen=True)
class GailInputs:
    """BCRAT's inputs. ``age_at_first_live_birth`` None: no live birth (nulliparous).

    ``atypical_hyperplasia`` None: unknown (multiplier 1.0, as BCRAT does).
    """

    age: int
    age_at_menarche: int | None
    age_at_first_live_birth: int | None
    biopsies: int
    atypical_hyperplasia: bool | None
    relatives: int
    group: GailGroup = "white"


def _categories(x: GailInputs) -> tuple[int, int, int, int]:
    """BCRAT's covariate categories: biopsies, menarche, first birth, relatives."""
    nb = min(x.biopsies, 2)
    am = 0 if x.age_at_menarche is None or x.age_at_menarche >= 14 else (1 if x.age_at_menarche >= 12 else 2)
    birth = x.age_at_first_live_birth
    # Nulliparous (None) counts with first birth at 25-29.
    af = 2 if birth is None else 0 if birth < 20 else 1 if birth < 25 else 2 if birth < 30 else 3
    nr = min(x.relatives, 2)
    if x.group == "black":
        am = min(am, 1)
    if x.group == "hispanic":  # the San Francisco Bay Area study's pooling (Banegas 2017)
        nb = min(nb, 1)
        nr = min(nr, 1)
        if birth is not None and af >= 2:
            af -= 1
    if x.group in ("asian", "pacific_islander"):
        nr = min(nr, 1)
    return nb, am, af, nr


def gail_relative_risks(x: GailInputs) -> tuple[float, float]:
    """The relative risk before age 50 and from age 50 (BCRAT's RR_Star1, RR_Star2)."""
    beta = _BETA["asian" if x.group == "pacific_islander" else x.group]
    nb, am, af, nr = _categories(x)
    hyperplasia = 1.0 if nb == 0 or x.atypical_hyperplasia is None else (1.82 if x.atypical_hyperplasia else 0.93)
    lp1 = nb * beta[0] + am * beta[1] + af * beta[2] + nr * beta[3] + af * nr * beta[5] + math.log(hyperplasia)
    return math.exp(lp1), math.exp(lp1 + nb * beta[4])


def gail_absolute_risk(x: GailInputs, until_age: int) -> float:
    """The probability (0-1) of invasive breast cancer between ``x.age`` and ``until_age``.

    One-year steps of the competing-risk life table (Gail 1989, equation 6); within a
    5-year band the hazards are constant, so this equals BCRAT's band-wise sum.
    """
    rr_young, rr_old = gail_relative_risks(x)
    model = "asian" if x.group == "pacific_islander" else x.group
    one_minus_ar = _ONE_MINUS_AR[model]
    lambda1, lambda2 = _LAMBDA1[x.group], _LAMBDA2[x.group]
    risk, survival = 0.0, 1.0
    for year in range(x.age, min(until_age, 90)):
        band = min(max((year - 20) // 5, 0), 13)
        old = year >= 50
        h1 = lambda1[band] * one_minus_ar[old] * (rr_old if old else rr_young)
        total = h1 + lambda2[band]
        risk += h1 / total * survival * (1.0 - math.exp(-total))
        survival *= math.exp(-total)
    return risk
