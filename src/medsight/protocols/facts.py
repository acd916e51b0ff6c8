"""From a profile to the flat facts the rules read, and the risk models' results.

Facts are keyed by dotted names (:data:`medsight.protocols.knowledge.BASE_FIELDS` and the
indication's ``findings.*``); a field the profile left out is ``None``, which the
conditions treat as unknown. Lists the profile left out are empty (nothing reported).
Each risk model runs only when its inputs are there; an input it had to assume is
listed with the result, and an input it lacks is named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from medsight.protocols.profile import FamilyHistory, History, MriStatus, PatientProfile, Sex
from medsight.protocols.risk import GailInputs, PlcoInputs, gail_absolute_risk, plcom2012_6y

__all__ = ["RiskResult", "build_facts", "pathway_of"]

#: Age (years) from which a profile takes the adult pathway (Image Gently, ACR paediatric criteria: under 18).
ADULT_AGE = 18.0
_CANCERS = {
    History.PRIOR_LUNG_CANCER,
    History.PRIOR_BREAST_CANCER,
    History.PRIOR_COLORECTAL_CANCER,
    History.OTHER_CANCER,
}


@dataclass
class RiskResult:
    """One risk model's answer for this profile."""

    model: str
    value: float | None
    horizon: str
    assumed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    citation: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "probability": None if self.value is None else round(self.value, 5),
            "percent": None if self.value is None else round(100 * self.value, 2),
            "horizon": self.horizon,
            "assumed": self.assumed,
            "missing": self.missing,
            "citation": self.citation,
        }


def pathway_of(profile: PatientProfile) -> str:
    """``pregnancy`` when stated pregnant, else ``paediatric`` under 18, else ``adult``."""
    if profile.pregnant:
        return "pregnancy"
    return "paediatric" if profile.age < ADULT_AGE else "adult"


def build_facts(profile: PatientProfile, today: date, risks: dict[str, RiskResult]) -> dict[str, Any]:
    """The facts of ``profile``; fills ``risks`` with the models that apply to its indication."""
    smoking = profile.smoking
    facts: dict[str, Any] = {
        "age": profile.age,
        "sex": profile.sex.value,
        "pregnant": profile.pregnant,
        "weight_kg": profile.weight_kg,
        "egfr": profile.egfr,
        "on_dialysis": profile.on_dialysis,
        "claustrophobia": profile.claustrophobia,
        "family_history": frozenset(f.value for f in profile.family_history),
        "history": frozenset(h.value for h in profile.history),
        "contrast_allergy": frozenset(c.value for c in profile.contrast_allergy),
        "implants.unsafe": any(i.mri_status is MriStatus.UNSAFE for i in profile.implants),
        "implants.conditional": any(i.mri_status is MriStatus.CONDITIONAL for i in profile.implants),
        "pathway": pathway_of(profile),
    }
    if profile.pregnant is None and (profile.sex is Sex.MALE or not 10 <= profile.age <= 55):
        # Not a guess: outside these the rules never ask (global.yaml asks within them).
        facts["pregnant"] = False
    if smoking is None:
        facts.update({"smoking.status": "never", "smoking.pack_years": 0.0, "smoking.years_since_quit": None})
    else:
        current = smoking.quit_stated and smoking.years_since_quit is None
        status = "current" if current else ("former" if smoking.years_since_quit is not None else None)
        facts["smoking.status"] = status
        facts["smoking.pack_years"] = smoking.pack_years
        facts["smoking.years_since_quit"] = 0.0 if current else smoking.years_since_quit
    year_ago = today - timedelta(days=365)
    doses = [(p.date, p.effective_dose_msv) for p in profile.prior_imaging if p.effective_dose_msv is not None]
    facts["prior_imaging.dose_msv_total"] = sum(d for _, d in doses)
    facts["prior_imaging.dose_msv_12m"] = sum(d for when, d in doses if when >= year_ago)
    for name, value in profile.findings.items():
        facts[f"findings.{name}"] = frozenset(value) if isinstance(value, list) else value
    facts["risk.plcom2012_6y"] = facts["risk.gail_5y"] = facts["risk.gail_lifetime"] = None
    if profile.indication == "lung_cancer_screening" and facts["smoking.status"] in ("current", "former"):
        plco = _plco(profile, facts["smoking.status"] == "current")
        risks["plcom2012"] = plco
        facts["risk.plcom2012_6y"] = plco.value
    if profile.indication == "breast_cancer_screening" and profile.sex is not Sex.MALE:
        five, lifetime = _gail(profile)
        risks["gail_5y"], risks["gail_lifetime"] = five, lifetime
        facts["risk.gail_5y"], facts["risk.gail_lifetime"] = five.value, lifetime.value
    return facts


def _plco(profile: PatientProfile, current: bool) -> RiskResult:
    result = RiskResult("PLCOm2012", None, "6 years", citation="Tammemägi MC et al. N Engl J Med 2013;368:728-36")
    smoking = profile.smoking
    assert smoking is not None
    factors = profile.risk_factors
    cpd, years = smoking.cigarettes_per_day, smoking.years_smoked
    # A pack-year is 20 cigarettes a day for a year: either of intensity and duration gives the other.
    if cpd is None and years:
        cpd = smoking.pack_years * 20 / years
        result.assumed.append("smoking.cigarettes_per_day derived from pack_years / years_smoked")
    elif years is None and cpd:
        years = smoking.pack_years * 20 / cpd
        result.assumed.append("smoking.years_smoked derived from pack_years / cigarettes_per_day")
    if not cpd or years is None:
        result.missing.append("smoking.years_smoked or smoking.cigarettes_per_day (PLCOm2012 needs both)")
        return result
    race = factors.race_ethnicity if factors and factors.race_ethnicity else None
    if race is None:
        race = "white"
        result.assumed.append("risk_factors.race_ethnicity not given: the reference group (white) was used")
    education = factors.education_level if factors and factors.education_level else None
    if education is None:
        education = 4
        result.assumed.append("risk_factors.education_level not given: the centring level 4 (some college) was used")
    bmi = None
    if factors and factors.height_cm and profile.weight_kg:
        bmi = profile.weight_kg / (factors.height_cm / 100) ** 2
    if bmi is None:
        bmi = 27.0
        result.assumed.append("BMI not computable (weight_kg and risk_factors.height_cm): the centring 27 was used")
    history = set(profile.history)
    result.value = plcom2012_6y(
        PlcoInputs(
            age=profile.age,
            education=education,
            bmi=bmi,
            copd=History.COPD in history,
            personal_cancer_history=bool(history & _CANCERS),
            family_lung_cancer=FamilyHistory.FIRST_DEGREE_LUNG_CANCER in profile.family_history,
            current=current,
            cigarettes_per_day=cpd,
            years_smoked=years,
            years_since_quit=smoking.years_since_quit or 0.0,
            race=race,
        )
    )
    return result


def _gail(profile: PatientProfile) -> tuple[RiskResult, RiskResult]:
    cite = "Gail MH et al. J Natl Cancer Inst 1989;81:1879-86 (NCI BCRAT)"
    five = RiskResult("Gail (NCI BCRAT)", None, "5 years", citation=cite)
    lifetime = RiskResult("Gail (NCI BCRAT)", None, "to age 90", citation=cite)
    if not 35 <= profile.age <= 85:
        five.missing.append("age between 35 and 85 (the range BCRAT is validated for)")
        lifetime.missing.append(five.missing[0])
        return five, lifetime
    if History.PRIOR_BREAST_CANCER in profile.history or profile.family_history_has_syndrome():
        reason = "not applicable: BCRAT excludes prior breast cancer and BRCA/TP53 carriers (risk is high anyway)"
        five.missing.append(reason)
        lifetime.missing.append(reason)
        return five, lifetime
    factors = profile.risk_factors
    assumed: list[str] = []
    race = factors.race_ethnicity if factors and factors.race_ethnicity else None
    group = {"american_indian": "white"}.get(race or "white", race or "white")
    if race is None:
        assumed.append("risk_factors.race_ethnicity not given: white rates used (as BCRAT does for unknown)")
    menarche = factors.age_at_menarche if factors else None
    if menarche is None:
        assumed.append("risk_factors.age_at_menarche unknown: the lowest-risk category (as BCRAT does)")
    if factors is not None and factors.parity_stated:
        first_birth = factors.age_at_first_live_birth
    else:
        first_birth = 15  # BCRAT codes "unknown" with the <20 (lowest-risk) category
        assumed.append("risk_factors.age_at_first_live_birth unknown: the lowest-risk category (as BCRAT does)")
    biopsies = factors.breast_biopsies if factors and factors.breast_biopsies is not None else None
    if biopsies is None:
        biopsies = 0
        assumed.append("risk_factors.breast_biopsies unknown: counted as none (as BCRAT does)")
    relatives = factors.first_degree_relatives_breast_cancer if factors else None
    if relatives is None:
        relatives = 1 if FamilyHistory.FIRST_DEGREE_BREAST_CANCER in profile.family_history else 0
        assumed.append("first-degree relatives counted from family_history (one if first_degree_breast_cancer)")
    inputs = GailInputs(
        age=int(profile.age),
        age_at_menarche=menarche,
        age_at_first_live_birth=first_birth,
        biopsies=biopsies,
        atypical_hyperplasia=(History.ATYPICAL_BREAST_HYPERPLASIA in profile.history) if biopsies else None,
        relatives=relatives,
        group=group,  # type: ignore[arg-type]
    )
    five.value = gail_absolute_risk(inputs, int(profile.age) + 5)
    lifetime.value = gail_absolute_risk(inputs, 90)
    five.assumed = lifetime.assumed = assumed
    return five, lifetime
