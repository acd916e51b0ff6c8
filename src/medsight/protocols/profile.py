"""The patient profile a recommendation starts from, with the field names other systems send.

The names are the contract of issue 10 (``age``, ``sex``, ``pregnant``, ``weight_kg``,
``indication``, ``findings``, ``family_history``, ``history``, ``smoking``, ``egfr``,
``on_dialysis``, ``contrast_allergy``, ``implants``, ``claustrophobia``,
``prior_imaging``). ``risk_factors`` is an optional extension: the inputs of the two risk
models (PLCOm2012, Gail) that no other field carries.

Validation errors become one :class:`~medsight.errors.ProfileError` that names every
failing field by its dotted path and says what was expected, never the value sent (a
profile is patient data). Unknown keys are refused, so a misspelt field is never
silently ignored.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medsight.errors import ProfileError

__all__ = [
    "ContrastAgent",
    "FamilyHistory",
    "History",
    "Implant",
    "MriStatus",
    "PatientProfile",
    "PriorImaging",
    "RiskFactors",
    "Sex",
    "Smoking",
    "check_consistency",
    "parse_profile",
]

FindingValue = bool | int | float | str | list[str]


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class FamilyHistory(StrEnum):
    """First-degree relatives' conditions and hereditary syndromes the rules know."""

    BRCA1 = "brca1"
    BRCA2 = "brca2"
    TP53 = "tp53"
    LYNCH_SYNDROME = "lynch_syndrome"
    FIRST_DEGREE_BREAST_CANCER = "first_degree_breast_cancer"
    FIRST_DEGREE_COLORECTAL_CANCER = "first_degree_colorectal_cancer"
    FIRST_DEGREE_LUNG_CANCER = "first_degree_lung_cancer"
    FAMILIAL_INTRACRANIAL_ANEURYSM = "familial_intracranial_aneurysm"
    POLYCYSTIC_KIDNEY_DISEASE = "polycystic_kidney_disease"
    FIRST_DEGREE_AAA = "first_degree_aaa"
    FAMILIAL_ADENOMATOUS_POLYPOSIS = "familial_adenomatous_polyposis"


class History(StrEnum):
    """The patient's own history codes the rules know."""

    CHEST_RADIATION_AGE_10_30 = "chest_radiation_age_10_30"
    PRIOR_BREAST_CANCER = "prior_breast_cancer"
    DENSE_BREASTS = "dense_breasts"
    PRIOR_COLORECTAL_CANCER = "prior_colorectal_cancer"
    PRIOR_LUNG_CANCER = "prior_lung_cancer"
    OTHER_CANCER = "other_cancer"
    ATYPICAL_BREAST_HYPERPLASIA = "atypical_breast_hyperplasia"
    INFLAMMATORY_BOWEL_DISEASE = "inflammatory_bowel_disease"
    COPD = "copd"
    ANTICOAGULATED = "anticoagulated"
    IMMUNOCOMPROMISED = "immunocompromised"
    PRIOR_FRAGILITY_FRACTURE = "prior_fragility_fracture"
    GLUCOCORTICOIDS = "glucocorticoids"
    PREMATURE_MENOPAUSE = "premature_menopause"
    BREECH_PRESENTATION = "breech_presentation"
    PRIOR_DVT = "prior_dvt"
    VP_SHUNT = "vp_shunt"


class ContrastAgent(StrEnum):
    IODINATED = "iodinated"
    GADOLINIUM = "gadolinium"


class MriStatus(StrEnum):
    """ASTM F2503 marking of an implant: MR safe, MR conditional, MR unsafe."""

    SAFE = "safe"
    CONDITIONAL = "conditional"
    UNSAFE = "unsafe"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Smoking(_Strict):
    """A smoking history. Absent: never smoked. ``years_since_quit`` null: smokes now."""

    pack_years: Annotated[float, Field(ge=0, le=300)]
    years_since_quit: Annotated[float | None, Field(ge=0, le=100)] = None
    cigarettes_per_day: Annotated[float | None, Field(gt=0, le=200)] = None
    years_smoked: Annotated[float | None, Field(ge=0, le=100)] = None

    @property
    def quit_stated(self) -> bool:
        """Whether ``years_since_quit`` was sent (null included), not left out."""
        return "years_since_quit" in self.model_fields_set


class Implant(_Strict):
    type: Annotated[str, Field(min_length=1, max_length=80)]
    mri_status: MriStatus


class PriorImaging(_Strict):
    modality: Annotated[str, Field(pattern=r"^(CR|DX|CT|MR|US|MG|NM|PT|BMD|XA|RF)$")]
    date: date
    effective_dose_msv: Annotated[float | None, Field(ge=0, le=1000)] = None


class RiskFactors(_Strict):
    """Inputs of the risk models that the other fields do not carry (all optional).

    PLCOm2012 (Tammemägi 2013): ``race_ethnicity``, ``education_level`` (1 less than
    high school ... 6 postgraduate), ``height_cm`` (with ``weight_kg``: the BMI). Gail
    (NCI BCRAT): ``age_at_menarche``, ``age_at_first_live_birth`` (null: no live birth),
    ``breast_biopsies``, ``first_degree_relatives_breast_cancer``.
    """

    race_ethnicity: (
        Annotated[str, Field(pattern=r"^(white|black|hispanic|asian|american_indian|pacific_islander)$")] | None
    ) = None
    education_level: Annotated[int | None, Field(ge=1, le=6)] = None
    height_cm: Annotated[float | None, Field(gt=40, le=250)] = None
    age_at_menarche: Annotated[int | None, Field(ge=7, le=20)] = None
    age_at_first_live_birth: Annotated[int | None, Field(ge=10, le=60)] = None
    breast_biopsies: Annotated[int | None, Field(ge=0, le=30)] = None
    first_degree_relatives_breast_cancer: Annotated[int | None, Field(ge=0, le=10)] = None

    @property
    def parity_stated(self) -> bool:
        """Whether ``age_at_first_live_birth`` was sent (null: nulliparous), not left out."""
        return "age_at_first_live_birth" in self.model_fields_set


class PatientProfile(_Strict):
    """One patient and one question (the indication)."""

    age: Annotated[float, Field(ge=0, le=120, description="Years; decimals for infants (0.25 = 3 months).")]
    sex: Sex
    indication: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    pregnant: bool | None = None
    weight_kg: Annotated[float | None, Field(gt=0, le=400)] = None
    findings: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")], FindingValue] = Field(default_factory=dict)
    family_history: list[FamilyHistory] = Field(default_factory=list)
    history: list[History] = Field(default_factory=list)
    smoking: Smoking | None = None
    egfr: Annotated[float | None, Field(ge=0, le=200, description="mL/min/1.73 m2")] = None
    on_dialysis: bool | None = None
    contrast_allergy: list[ContrastAgent] = Field(default_factory=list)
    implants: list[Implant] = Field(default_factory=list)
    claustrophobia: bool | None = None
    prior_imaging: list[PriorImaging] = Field(default_factory=list)
    risk_factors: RiskFactors | None = None

    @property
    def pregnant_stated(self) -> bool:
        return "pregnant" in self.model_fields_set

    def family_history_has_syndrome(self) -> bool:
        """A hereditary breast cancer syndrome (BRCA1/2, TP53) in the patient's family or the patient."""
        return bool({FamilyHistory.BRCA1, FamilyHistory.BRCA2, FamilyHistory.TP53} & set(self.family_history))


def parse_profile(data: Any) -> PatientProfile:
    """Validate a profile (a dict from JSON) into a :class:`PatientProfile`.

    Raises:
        ProfileError: one line naming each failing field and what it must be.
    """
    if not isinstance(data, dict):
        raise ProfileError("the profile must be a JSON object with at least age, sex and indication")
    try:
        profile = PatientProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_describe(exc)) from None  # from None: pydantic's text quotes the input
    check_consistency(profile)
    return profile


def check_consistency(profile: PatientProfile) -> None:
    """Contradictions between fields that no single field's check sees.

    Raises:
        ProfileError: naming the field that contradicts another.
    """
    smoking = profile.smoking
    if smoking is not None:
        if smoking.years_since_quit is not None and smoking.years_since_quit > profile.age:
            raise ProfileError("smoking.years_since_quit: longer than the patient's age")
        if smoking.years_smoked is not None and smoking.years_smoked + (smoking.years_since_quit or 0) > profile.age:
            raise ProfileError("smoking.years_smoked: with years_since_quit, longer than the patient's age")
        if smoking.pack_years > 0 and profile.age < 8:
            raise ProfileError("smoking: a smoking history at an age under 8 years")
    factors = profile.risk_factors
    birth = factors.age_at_first_live_birth if factors is not None else None
    if birth is not None and birth > profile.age:
        raise ProfileError("risk_factors.age_at_first_live_birth: later than the patient's age")
    for index, prior in enumerate(profile.prior_imaging):
        if prior.date > date.today():
            raise ProfileError(f"prior_imaging.{index}.date: in the future")


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "profile"
        parts.append(f"{where}: {_reason(error)}")
    shown = "; ".join(parts[:6])
    more = f" (and {len(parts) - 6} more)" if len(parts) > 6 else ""
    return f"invalid profile: {shown}{more}"


def _reason(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field of the profile (see `medsight protocol recommend --help`)"
    if kind == "enum":
        return f"must be one of {error['ctx']['expected']}"
    if kind == "string_pattern_mismatch":
        return "is not a known code"
    message: str = error["msg"]
    return message[0].lower() + message[1:]
