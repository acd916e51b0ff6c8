"""Properties the issue asks of every answer, over generated profiles (hypothesis).

* a pregnant patient never gets an ionising examination ranked first when a non-ionising
  alternative is usually appropriate;
* a child never gets a higher relative radiation level (top recommendation) than an
  adult with the same indication and findings;
* an eGFR below 30 always yields the contrast warning.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medsight.errors import ProfileError
from medsight.protocols import RecommendationResult, load_knowledge_base, parse_profile, recommend
from medsight.protocols.knowledge import FindingSpec

KB = load_knowledge_base()
CODES = sorted(KB.indications)
FAMILY = ["brca1", "first_degree_lung_cancer", "first_degree_colorectal_cancer", "lynch_syndrome", "first_degree_aaa"]
HISTORY = ["copd", "anticoagulated", "dense_breasts", "glucocorticoids", "immunocompromised"]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _finding(spec: FindingSpec) -> st.SearchStrategy[Any]:
    if spec.type == "number":
        return st.floats(min_value=spec.min or 0, max_value=spec.max or 100, allow_nan=False).map(lambda x: round(x, 1))
    if spec.type == "boolean":
        return st.booleans()
    if spec.type == "code":
        return st.sampled_from(spec.values or [])
    return st.lists(st.sampled_from(spec.values or []), unique=True)


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """An indication with findings drawn from its declared vocabulary, and the other fields."""
    code = draw(st.sampled_from(CODES))
    findings = {}
    for name, spec in KB.indications[code].findings.items():
        if draw(st.booleans()) or spec.default is None:
            findings[name] = draw(_finding(spec))
    profile: dict[str, Any] = {"indication": code, "findings": findings}
    if draw(st.booleans()):
        profile["smoking"] = {
            "pack_years": draw(st.integers(0, 60)),
            "years_since_quit": draw(st.one_of(st.none(), st.integers(0, 5))),
        }
    profile["family_history"] = draw(st.lists(st.sampled_from(FAMILY), unique=True, max_size=2))
    profile["history"] = draw(st.lists(st.sampled_from(HISTORY), unique=True, max_size=2))
    if draw(st.booleans()):
        profile["egfr"] = draw(st.integers(5, 120))
    if draw(st.booleans()):
        profile["implants"] = [
            {"type": "device", "mri_status": draw(st.sampled_from(["safe", "conditional", "unsafe"]))}
        ]
    profile["contrast_allergy"] = draw(st.lists(st.sampled_from(["iodinated", "gadolinium"]), unique=True))
    return profile


def _answer(profile: dict[str, Any]) -> RecommendationResult | None:
    try:
        return recommend(parse_profile(profile))
    except ProfileError:
        return None  # a contradiction (an adult with infant hip dysplasia): not a recommendation


@SETTINGS
@given(cases(), st.integers(16, 45))
def test_pregnant_patients_get_a_usually_appropriate_non_ionising_exam_first(case: dict[str, Any], age: int) -> None:
    result = _answer({**case, "age": age, "sex": "female", "pregnant": True})
    if result is None or result.status != "ok":
        return
    safe = [r for r in result.recommendations if r.rrl == 0 and r.rating >= 7]
    if safe:
        top = result.recommendations[0]
        assert top.rrl == 0, f"{case['indication']}: {top.procedure_id} ranked above {safe[0].procedure_id}"


@SETTINGS
@given(cases(), st.floats(0.0, 17.9), st.integers(18, 64))
def test_a_child_never_gets_a_higher_radiation_level_than_an_adult(
    case: dict[str, Any], child: float, adult: int
) -> None:
    child_result = _answer({**case, "age": round(child, 2), "sex": "male"})
    adult_result = _answer({**case, "age": adult, "sex": "male"})
    if child_result is None or adult_result is None or child_result.top is None or adult_result.top is None:
        return
    assert child_result.top.rrl <= adult_result.top.rrl, (
        f"{case['indication']}: child {child_result.top.procedure_id} (RRL {child_result.top.rrl}) "
        f"vs adult {adult_result.top.procedure_id} (RRL {adult_result.top.rrl})"
    )


@SETTINGS
@given(cases(), st.integers(0, 90), st.floats(0, 29.9), st.sampled_from(["female", "male", "other"]))
def test_egfr_below_30_always_yields_the_contrast_warning(
    case: dict[str, Any], age: int, egfr: float, sex: str
) -> None:
    result = _answer({**case, "age": age, "sex": sex, "egfr": round(egfr, 1)})
    if result is None:
        return
    assert "contrast_egfr_below_30" in {w.code for w in result.warnings}
