"""The recommender: a profile and the knowledge base in, a ranked and explained answer out.

The steps, in order (each a short function below):

1. the indication and its findings are checked against the knowledge base (unknown codes
   and findings are a :class:`~medsight.errors.ProfileError` naming the field);
2. contradictions in the profile (pregnant and male, a quit longer than a life, ...) are
   a ``ProfileError`` naming the field;
3. the fields the indication needs are checked: a gap with an ``assume`` in the rules
   becomes a stated assumption, one without is reported in ``missing`` and no
   recommendation is made (``status: needs_input``);
4. the first pathway (``variant``) whose condition holds gives the rated options; a
   condition that cannot be decided for lack of a field is reported the same way;
5. modifier rules (the indication's, then the global ones) cap or raise ratings, add
   protocol adjustments, reasons and warnings;
6. ranking: the ACR category first; within it, for a pregnant patient, the lower
   relative radiation level first (ALARA: ACR-SPR practice parameter, ACOG 723), then the
   rating, then the lower radiation level, then the order in the rules.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from medsight.errors import ProfileError
from medsight.protocols.facts import RiskResult, build_facts
from medsight.protocols.knowledge import Indication, KnowledgeBase, Need, Rule, Variant, load_knowledge_base
from medsight.protocols.profile import PatientProfile
from medsight.protocols.result import (
    Alert,
    Assumption,
    Citation,
    Missing,
    Reason,
    Recommendation,
    RecommendationResult,
)

__all__ = ["recommend"]

_RISK_FACTS = {"risk.plcom2012_6y": "plcom2012", "risk.gail_5y": "gail_5y", "risk.gail_lifetime": "gail_lifetime"}
_CATEGORY_RANK = {"usually appropriate": 0, "may be appropriate": 1, "usually not appropriate": 2}


def recommend(
    profile: PatientProfile, kb: KnowledgeBase | None = None, *, today: date | None = None
) -> RecommendationResult:
    """Recommend imaging for ``profile``.

    Args:
        profile: the validated patient profile.
        kb: the knowledge base (the packaged one when omitted).
        today: the date prior imaging is counted back from (today when omitted).

    Raises:
        ProfileError: an unknown indication or finding, or a contradictory profile.
    """
    kb = kb or load_knowledge_base()
    indication = kb.indications.get(profile.indication)
    if indication is None:
        raise ProfileError("indication: not a known code; `medsight protocol indications` lists them")
    _check_findings(profile, indication)
    risks: dict[str, RiskResult] = {}
    facts = build_facts(profile, today or date.today(), risks)
    result = RecommendationResult(
        indication=indication.code,
        indication_name=indication.name,
        pathway=facts["pathway"],
        variant=None,
        knowledge_base_version=kb.version,
        risk={name: risk.as_json() for name, risk in risks.items()},
    )
    for contradiction in (*kb.global_contradictions, *indication.contradictions):
        assert contradiction.condition is not None
        if contradiction.condition.evaluate(facts) is True:
            raise ProfileError(f"{contradiction.field}: {contradiction.message}")
    _apply_defaults(indication, facts, result)
    _apply_needs((*kb.global_needs, *indication.needs), facts, result)
    variant = None if result.missing else _choose(indication, facts, result)
    if variant is None:
        # No recommendation on a guess; the patient's own cautions (eGFR, implants) still stand.
        result.status = "needs_input"
        for rule in kb.global_rules:
            _apply_rule(kb, rule, facts, [], result)
        return result
    result.variant = variant.id
    # A pathway-specific variant names its pathway; a shared one keeps the patient's own.
    if variant.pathway.value != "adult":
        result.pathway = variant.pathway.value
    candidates = _candidates(kb, variant, facts)
    for rule in (*indication.rules, *kb.global_rules):
        _apply_rule(kb, rule, facts, candidates, result)
    result.recommendations = _ranked(candidates, facts)
    return result


def _check_findings(profile: PatientProfile, indication: Indication) -> None:
    for name, value in profile.findings.items():
        spec = indication.findings.get(name)
        where = f"findings.{name}"
        if spec is None:
            known = ", ".join(sorted(indication.findings)) or "none"
            raise ProfileError(f"{where}: not a finding of {indication.code} (known: {known})")
        if spec.type == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ProfileError(f"{where}: must be a number ({spec.unit or 'no unit'})")
            if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
                raise ProfileError(f"{where}: must be between {spec.min} and {spec.max} {spec.unit or ''}")
        elif spec.type == "boolean" and not isinstance(value, bool):
            raise ProfileError(f"{where}: must be true or false")
        elif spec.type == "code" and (not isinstance(value, str) or value not in (spec.values or [])):
            raise ProfileError(f"{where}: must be one of {spec.values}")
        elif spec.type == "codes" and (not isinstance(value, list) or any(v not in (spec.values or []) for v in value)):
            raise ProfileError(f"{where}: must be a list of codes from {spec.values}")


def _apply_defaults(indication: Indication, facts: dict[str, Any], result: RecommendationResult) -> None:
    for name, spec in indication.findings.items():
        key = f"findings.{name}"
        if spec.default is not None and facts.get(key) is None:
            default = spec.default
            facts[key] = frozenset(default) if isinstance(default, list) else default
            shown = "none" if default == [] else str(default).lower()
            result.assumptions.append(Assumption(key, f"not given: taken as {shown} ({spec.description})"))


def _apply_needs(needs: tuple[Need, ...], facts: dict[str, Any], result: RecommendationResult) -> None:
    for need in needs:
        if need.condition is not None and need.condition.evaluate(facts) is not True:
            continue
        if facts.get(need.field) is not None:
            continue
        if need.assume is not None:
            facts[need.field] = need.assume
            facts[f"assumed.{need.field}"] = True
            result.assumptions.append(Assumption(need.field, need.assumption or need.reason))
        else:
            result.missing.append(Missing(need.field, need.reason))


def _choose(indication: Indication, facts: dict[str, Any], result: RecommendationResult) -> Variant | None:
    for variant in indication.variants:
        if variant.condition is None:
            return variant
        decided = variant.condition.evaluate(facts)
        if decided is True:
            return variant
        if decided is None:
            for name in variant.condition.missing(facts):
                risk = result.risk.get(_RISK_FACTS.get(name, ""))
                if risk is not None:  # a risk model that could not run: name its own inputs
                    result.missing.extend(Missing(m, f"{risk['model']} decides this pathway") for m in risk["missing"])
                else:
                    result.missing.append(Missing(name, f"needed to decide whether: {variant.statement}"))
            return None
    return None  # unreachable: the last variant has no condition (checked on load)


def _citation(kb: KnowledgeBase, source_id: str) -> Citation:
    source = kb.sources[source_id]
    return Citation(source_id, source.title, source.publisher, source.year, source.url)


def _candidates(kb: KnowledgeBase, variant: Variant, facts: dict[str, Any]) -> list[Recommendation]:
    child = facts["age"] < 18
    scale: Literal["adult", "paediatric"] = "paediatric" if child else "adult"
    reason = Reason(variant.id, variant.statement, _citation(kb, variant.source))
    out = []
    for order, option in enumerate(variant.options):
        procedure = kb.procedures[option.procedure]
        rrl = procedure.rrl_paediatric if child else procedure.rrl_adult
        out.append(
            Recommendation(
                procedure_id=option.procedure,
                procedure=procedure.name,
                modality=procedure.modality,
                contrast=procedure.contrast,
                rating=option.rating,
                rrl=rrl,
                rrl_scale=scale,
                dose_range=kb.rrl_scale[scale][rrl],
                shows=procedure.shows,
                sensitivity=procedure.sensitivity,
                specificity=procedure.specificity,
                accuracy_for=procedure.accuracy_for,
                accuracy_citation=_citation(kb, procedure.accuracy_source) if procedure.accuracy_source else None,
                order=order,
                note=option.note,
                reasons=[reason],
            )
        )
    return out


def _targeted(rule: Rule, rec: Recommendation) -> bool:
    targets = rule.targets
    if targets is None:
        return False
    return (
        (targets.modality is None or rec.modality in targets.modality)
        and (targets.contrast is None or rec.contrast in targets.contrast)
        and (targets.ionising is None or (rec.rrl > 0) == targets.ionising)
        and (targets.procedures is None or rec.procedure_id in targets.procedures)
    )


def _apply_rule(
    kb: KnowledgeBase, rule: Rule, facts: dict[str, Any], candidates: list[Recommendation], result: RecommendationResult
) -> None:
    assert rule.condition is not None
    if rule.condition.evaluate(facts) is not True:
        return
    citation = _citation(kb, rule.source)
    hit = [rec for rec in candidates if _targeted(rule, rec)]
    # A caution about examinations nobody would order (rated 1-3) is noise: skip it.
    warn = rule.warning is not None and (not rule.only_if_targeted or any(rec.rating >= 4 for rec in hit))
    if warn and rule.warning is not None and all(w.code != rule.warning.code for w in result.warnings):
        result.warnings.append(Alert(rule.warning.code, rule.warning.severity, rule.warning.message, rule.id, citation))
    reason = Reason(rule.id, rule.statement, citation)
    for rec in hit:
        if rule.rating_max is not None and rec.rating > rule.rating_max:
            rec.rating = rule.rating_max
        if rule.rating_min is not None and rec.rating < rule.rating_min:
            rec.rating = rule.rating_min
        if rule.adjustment and rule.adjustment not in rec.adjustments:
            rec.adjustments.append(rule.adjustment)
        rec.reasons.append(reason)


def _ranked(candidates: list[Recommendation], facts: dict[str, Any]) -> list[Recommendation]:
    # Pregnancy: among usually appropriate examinations the non-ionising one comes first
    # (ACR-SPR, ACOG 723). Children keep the ratings' order, which the paediatric pathways
    # already write with Image Gently in mind (a CT rated above an ultrasound is the better test).
    alara = facts.get("pregnant") is True

    def key(rec: Recommendation) -> tuple[int, int, int, int, int]:
        return (_CATEGORY_RANK[rec.category], rec.rrl if alara else 0, -rec.rating, rec.rrl, rec.order)

    return sorted(candidates, key=key)
