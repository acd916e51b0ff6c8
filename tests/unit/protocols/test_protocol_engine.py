"""Profiles, the knowledge base's checks, and the engine's answers on gaps and contradictions."""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
import yaml

from medsight.errors import KnowledgeBaseError, ProfileError
from medsight.protocols import load_knowledge_base, parse_profile, recommend
from medsight.protocols.conditions import compile_condition
from medsight.protocols.knowledge import BASE_FIELDS, build_knowledge_base

ISSUE_CODES = {
    "suspected_pneumonia",
    "chronic_cough",
    "lung_cancer_screening",
    "incidental_pulmonary_nodule",
    "suspected_pulmonary_embolism",
    "breast_cancer_screening",
    "palpable_breast_mass",
    "headache_no_red_flags",
    "headache_red_flags",
    "minor_head_trauma",
    "suspected_stroke",
    "suspected_appendicitis",
    "right_upper_quadrant_pain",
    "suspected_kidney_stone",
    "low_back_pain_no_red_flags",
    "low_back_pain_red_flags",
    "suspected_dvt",
    "first_trimester_bleeding",
    "fetal_growth_assessment",
    "infant_hip_dysplasia",
    "suspected_ankle_fracture",
    "abdominal_aortic_aneurysm_screening",
    "hematuria",
    "thyroid_nodule",
    "colorectal_cancer_screening",
    "osteoporosis_screening",
}


def _answer(profile: dict[str, Any]) -> dict[str, Any]:
    return recommend(parse_profile(profile)).as_json()


# --- the knowledge base ---------------------------------------------------------------


def test_the_knowledge_base_has_every_indication_of_the_issue_and_cites_every_rule() -> None:
    kb = load_knowledge_base()
    assert set(kb.indications) >= ISSUE_CODES
    assert kb.version
    for indication in kb.indications.values():
        for variant in indication.variants:
            assert variant.source in kb.sources
    assert all(source.url.startswith("https://") for source in kb.sources.values())


def test_indications_with_distinct_pathways_name_them() -> None:
    kb = load_knowledge_base()
    pathways = {code: {v.pathway.value for v in ind.variants} for code, ind in kb.indications.items()}
    assert {"adult", "paediatric", "pregnancy"} <= pathways["suspected_appendicitis"]
    assert {"adult", "paediatric", "pregnancy"} <= pathways["suspected_kidney_stone"]
    assert "pregnancy" in pathways["suspected_pulmonary_embolism"]
    assert "paediatric" in pathways["minor_head_trauma"]


@functools.cache
def _raw_cached() -> dict[str, Any]:
    from importlib import resources

    merged: dict[str, Any] = {"indications": []}
    for entry in (resources.files("medsight.protocols") / "rules").iterdir():
        data = yaml.load(entry.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
        for key, value in data.items():
            merged["indications"].extend(value) if key == "indications" else merged.__setitem__(key, value)
    return merged


def _raw() -> dict[str, Any]:
    return copy.deepcopy(_raw_cached())


def test_the_raw_rules_build_the_same_knowledge_base() -> None:
    assert set(build_knowledge_base(_raw()).indications) == set(load_knowledge_base().indications)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["indications"][0]["variants"][0].__setitem__("source", "nowhere"), "unknown source"),
        (
            lambda d: d["indications"][0]["variants"][0]["options"][0].__setitem__("procedure", "x_ray_of_soul"),
            "unknown procedure",
        ),
        (lambda d: d["indications"][0]["variants"][0].__setitem__("when", {"field": "agee", "lt": 3}), "unknown field"),
        (lambda d: d["indications"][0]["variants"][0].__setitem__("when", {"field": "age", "about": 3}), "expected"),
        (lambda d: d["indications"][0]["variants"][-1].__setitem__("when", {"field": "age", "lt": 3}), "catch-all"),
        (lambda d: d["indications"][0]["variants"][0]["options"][0].__setitem__("rating", 11), "do not validate"),
        (lambda d: d["indications"].append(copy.deepcopy(d["indications"][0])), "defined twice"),
        (lambda d: d["global_rules"][0].__setitem__("exec", "import os"), "do not validate"),
    ],
)
def test_broken_rules_fail_to_load_with_a_named_place(mutate: Any, message: str) -> None:
    data = _raw()
    mutate(data)
    with pytest.raises(KnowledgeBaseError, match=message):
        build_knowledge_base(data)


def test_conditions_are_three_valued() -> None:
    known = BASE_FIELDS.__contains__
    cond = compile_condition({"all": [{"field": "age", "ge": 50}, {"field": "egfr", "lt": 30}]}, "t", known)
    assert cond.evaluate({"age": 60, "egfr": 20}) is True
    assert cond.evaluate({"age": 40, "egfr": None}) is False  # one false decides
    assert cond.evaluate({"age": 60, "egfr": None}) is None  # unknown, not false
    assert cond.missing({"age": 60, "egfr": None}) == ["egfr"]
    negated = compile_condition({"not": {"field": "egfr", "lt": 30}}, "t", known)
    assert negated.evaluate({"egfr": None}) is None
    present = compile_condition({"field": "egfr", "missing": True}, "t", known)
    assert present.evaluate({"egfr": None}) is True


# --- profiles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        ({"sex": "female", "indication": "chronic_cough"}, "age: is required"),
        ({"age": 40, "sex": "woman", "indication": "chronic_cough"}, "sex: must be one of"),
        ({"age": -1, "sex": "female", "indication": "chronic_cough"}, "age: "),
        ({"age": 40, "sex": "female", "indication": "chronic_cough", "egfrr": 20}, "egfrr: is not a field"),
        (
            {
                "age": 40,
                "sex": "female",
                "indication": "chronic_cough",
                "implants": [{"type": "x", "mri_status": "ok"}],
            },
            "implants.0.mri_status",
        ),
        ({"age": 40, "sex": "female", "indication": "chronic_cough", "family_history": ["brca3"]}, "family_history.0"),
        (
            {"age": 40, "sex": "female", "indication": "chronic_cough", "smoking": {"pack_years": -3}},
            "smoking.pack_years",
        ),
        (
            {
                "age": 40,
                "sex": "female",
                "indication": "chronic_cough",
                "smoking": {"pack_years": 3, "years_since_quit": 50},
            },
            "smoking.years_since_quit",
        ),
    ],
)
def test_invalid_profiles_name_the_field(profile: dict[str, Any], field: str) -> None:
    with pytest.raises(ProfileError, match=field.replace(".", r"\.")):
        parse_profile(profile)


def test_profile_errors_never_quote_values() -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile({"age": "Jane Doe 1970-01-01", "sex": "female", "indication": "chronic_cough"})
    assert "Jane" not in caught.value.message


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        ({"age": 40, "sex": "male", "pregnant": True, "indication": "chronic_cough"}, "pregnant"),
        ({"age": 5, "sex": "female", "pregnant": True, "indication": "chronic_cough"}, "pregnant"),
        ({"age": 30, "sex": "female", "pregnant": False, "indication": "first_trimester_bleeding"}, "pregnant"),
        (
            {"age": 30, "sex": "male", "indication": "fetal_growth_assessment", "findings": {"gestational_weeks": 30}},
            "sex",
        ),
        ({"age": 40, "sex": "female", "indication": "infant_hip_dysplasia", "findings": {"exam": "normal"}}, "age"),
        ({"age": 40, "sex": "female", "indication": "knee_pain"}, "indication"),
        ({"age": 40, "sex": "female", "indication": "chronic_cough", "findings": {"size": 3}}, "findings.size"),
        (
            {
                "age": 40,
                "sex": "male",
                "indication": "incidental_pulmonary_nodule",
                "findings": {"nodule_size_mm": "big"},
            },
            "findings.nodule_size_mm",
        ),
    ],
)
def test_contradictions_and_unknown_codes_name_the_field(profile: dict[str, Any], field: str) -> None:
    with pytest.raises(ProfileError, match=rf"^{field.replace('.', '[.]')}: "):
        recommend(parse_profile(profile))


def test_a_missing_field_is_named_with_its_reason_and_no_recommendation_is_made() -> None:
    answer = _answer({"age": 60, "sex": "male", "indication": "suspected_stroke"})
    assert answer["status"] == "needs_input"
    assert answer["recommendations"] == []
    assert answer["missing"][0]["field"] == "findings.onset_hours"
    assert "thrombolysis" in answer["missing"][0]["reason"]


def test_an_unknown_pregnancy_status_is_a_stated_assumption_with_a_warning() -> None:
    answer = _answer({"age": 30, "sex": "female", "indication": "suspected_kidney_stone"})
    assert [a["field"] for a in answer["assumptions"]] == ["findings.known_stone_disease", "pregnant"]
    assert "assume not pregnant" in answer["assumptions"][1]["statement"]
    assert "pregnancy_status_unknown" in {w["code"] for w in answer["warnings"]}
    assert answer["recommendations"][0]["adjustments"]  # confirm pregnancy before the CT


def test_a_finding_left_out_with_a_default_is_a_stated_assumption() -> None:
    answer = _answer({"age": 50, "sex": "male", "indication": "suspected_pneumonia"})
    assert answer["assumptions"] == [
        {"field": "findings.complicated", "statement": answer["assumptions"][0]["statement"]}
    ]
    assert "not given: taken as false" in answer["assumptions"][0]["statement"]


def test_the_answer_has_the_issue_fields() -> None:
    answer = _answer({"age": 8, "sex": "male", "indication": "suspected_appendicitis", "egfr": 20})
    top = answer["recommendations"][0]
    assert set(top) >= {
        "modality",
        "contrast",
        "procedure",
        "appropriateness",
        "relative_radiation_level",
        "adjustments",
        "expected_outcome",
        "reasons",
    }
    assert (top["modality"], top["contrast"]) == ("US", "none")
    assert top["appropriateness"] == {"rating": 9, "category": "usually appropriate"}
    assert top["relative_radiation_level"] == {"level": 0, "scale": "paediatric", "effective_dose_range": "0 mSv"}
    assert top["expected_outcome"]["sensitivity"] == 0.88
    ct = next(r for r in answer["recommendations"] if r["modality"] == "CT")
    assert ct["relative_radiation_level"]["effective_dose_range"] == "3-10 mSv"
    assert any("paediatric low-dose" in a for a in ct["adjustments"])
    assert {w["code"] for w in answer["warnings"]} == {"contrast_egfr_below_30"}
    assert answer["pathway"] == "paediatric"


def test_pregnancy_avoids_gadolinium_and_ranks_mri_without_it() -> None:
    answer = _answer(
        {
            "age": 30,
            "sex": "female",
            "pregnant": True,
            "indication": "headache_red_flags",
            "findings": {"red_flags": ["cancer_history"]},
        }
    )
    ranked = [(r["procedure_id"], r["appropriateness"]["rating"]) for r in answer["recommendations"]]
    assert ranked[0][0] == "mr_head_noncon" or answer["recommendations"][0]["contrast"] == "none"
    gad = next(r for r in answer["recommendations"] if r["contrast"] == "gadolinium")
    assert gad["appropriateness"]["rating"] <= 3
    assert "Pregnancy: MRI without gadolinium" in gad["adjustments"]


def test_plco_risk_is_reported_with_its_assumptions() -> None:
    answer = _answer(
        {
            "age": 65,
            "sex": "male",
            "indication": "lung_cancer_screening",
            "smoking": {"pack_years": 15, "years_since_quit": None, "years_smoked": 40},
        }
    )
    risk = answer["risk"]["plcom2012"]
    assert risk["horizon"] == "6 years"
    assert risk["probability"] > 0
    assert any("education_level" in a for a in risk["assumed"])
    assert "Tammemägi" in risk["citation"]


def test_plco_inputs_missing_are_named_when_they_decide_the_pathway() -> None:
    answer = _answer(
        {
            "age": 65,
            "sex": "male",
            "indication": "lung_cancer_screening",
            "smoking": {"pack_years": 15, "years_since_quit": None},
        }
    )
    assert answer["status"] == "needs_input"
    assert "years_smoked" in answer["missing"][0]["field"]


def test_cumulative_dose_counts_the_last_12_months() -> None:
    from datetime import date

    profile = parse_profile(
        {
            "age": 40,
            "sex": "male",
            "indication": "suspected_kidney_stone",
            "prior_imaging": [
                {"modality": "CT", "date": "2026-06-01", "effective_dose_msv": 30},
                {"modality": "CT", "date": "2026-09-01", "effective_dose_msv": 25},
            ],
        }
    )
    codes = {w.code for w in recommend(profile, today=date(2026, 11, 26)).warnings}
    assert "cumulative_dose" in codes
    assert "cumulative_dose" not in {w.code for w in recommend(profile, today=date(2028, 1, 1)).warnings}
