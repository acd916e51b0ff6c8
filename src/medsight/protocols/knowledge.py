"""The knowledge base: packaged YAML rules, validated by a schema when they load.

The rules live in ``medsight/protocols/rules/*.yaml`` (data, never code):

* ``index.yaml``: the knowledge base's ``version`` and the ACR relative radiation level
  scale (effective dose ranges for adults and children);
* ``sources.yaml``: every guideline cited, with publisher, year and address;
* ``procedures.yaml``: the examinations (DICOM modality code, contrast, relative
  radiation level, what each can show, sensitivity and specificity where published);
* ``global.yaml``: rules for every indication (contrast and renal function, implants,
  pregnancy, children, cumulative dose) and the profile's contradictions;
* one file per body region: the indications, each with its pathways (``variants``: the
  first whose condition holds decides), the options rated 1-9, and modifier rules.

Everything is checked on load: the shape (pydantic), every cross-reference (procedure and
source ids), every field a condition reads (a typo is a load error, not a rule that never
fires), and that each indication ends with a catch-all pathway. Conditions use the
vocabulary of :mod:`medsight.protocols.conditions`.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medsight.errors import KnowledgeBaseError
from medsight.protocols.conditions import Condition, compile_condition

__all__ = [
    "BASE_FIELDS",
    "Contradiction",
    "FindingSpec",
    "Indication",
    "KnowledgeBase",
    "Need",
    "Option",
    "Pathway",
    "Procedure",
    "Rule",
    "Source",
    "Variant",
    "WarningSpec",
    "load_knowledge_base",
]

#: Facts every profile provides (``None`` where the profile left the field out).
BASE_FIELDS = frozenset(
    {
        "age",
        "sex",
        "pregnant",
        "weight_kg",
        "egfr",
        "on_dialysis",
        "claustrophobia",
        "family_history",
        "history",
        "contrast_allergy",
        "implants.unsafe",
        "implants.conditional",
        "smoking.status",
        "smoking.pack_years",
        "smoking.years_since_quit",
        "prior_imaging.dose_msv_12m",
        "prior_imaging.dose_msv_total",
        "risk.plcom2012_6y",
        "risk.gail_5y",
        "risk.gail_lifetime",
        "pathway",
        "assumed.pregnant",
    }
)

Modality = Literal["CR", "DX", "CT", "MR", "US", "MG", "NM", "PT", "BMD", "none"]
Contrast = Literal["none", "iodinated", "gadolinium", "ultrasound"]


class Pathway(StrEnum):
    ADULT = "adult"
    PAEDIATRIC = "paediatric"
    PREGNANCY = "pregnancy"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Source(_Strict):
    title: str
    publisher: str
    year: Annotated[int, Field(ge=1980, le=2030)]
    url: str


class Procedure(_Strict):
    name: str
    modality: Modality
    contrast: Contrast
    rrl_adult: Annotated[int, Field(ge=0, le=5)]
    rrl_paediatric: Annotated[int, Field(ge=0, le=5)]
    shows: str
    sensitivity: Annotated[float | None, Field(ge=0, le=1)] = None
    specificity: Annotated[float | None, Field(ge=0, le=1)] = None
    accuracy_for: str | None = None
    accuracy_source: str | None = None

    @property
    def ionising(self) -> bool:
        return self.rrl_adult > 0


class WarningSpec(_Strict):
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]+$")]
    severity: Literal["info", "caution", "high"]
    message: str


class Targets(_Strict):
    """Which options a rule acts on; every given criterion must match."""

    modality: list[Modality] | None = None
    contrast: list[Contrast] | None = None
    ionising: bool | None = None
    procedures: list[str] | None = None


class Rule(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]+$")]
    when: Any
    statement: str
    source: str
    targets: Targets | None = None
    rating_max: Annotated[int | None, Field(ge=1, le=9)] = None
    rating_min: Annotated[int | None, Field(ge=1, le=9)] = None
    adjustment: str | None = None
    warning: WarningSpec | None = None
    # A caution about the examinations it targets: said only when one of them is proposed.
    only_if_targeted: bool = False
    condition: Condition | None = Field(default=None, exclude=True)


class Option(_Strict):
    procedure: str
    rating: Annotated[int, Field(ge=1, le=9)]
    note: str | None = None


class Variant(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]+$")]
    pathway: Pathway
    when: Any = None
    statement: str
    source: str
    options: Annotated[list[Option], Field(min_length=1)]
    condition: Condition | None = Field(default=None, exclude=True)


class Need(_Strict):
    """A field the indication needs; ``assume`` turns a gap into a stated assumption."""

    field: str
    reason: str
    when: Any = None
    assume: bool | int | float | str | None = None
    assumption: str | None = None
    condition: Condition | None = Field(default=None, exclude=True)


class Contradiction(_Strict):
    field: str
    when: Any
    message: str
    condition: Condition | None = Field(default=None, exclude=True)


class FindingSpec(_Strict):
    type: Literal["number", "boolean", "code", "codes"]
    description: str
    unit: str | None = None
    values: list[str] | None = None
    min: float | None = None
    max: float | None = None
    # Taken when the profile leaves the finding out, and stated as an assumption.
    default: bool | float | str | list[str] | None = None


class Indication(_Strict):
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]+$")]
    name: str
    region: str
    findings: dict[str, FindingSpec] = Field(default_factory=dict)
    needs: list[Need] = Field(default_factory=list)
    contradictions: list[Contradiction] = Field(default_factory=list)
    variants: Annotated[list[Variant], Field(min_length=1)]
    rules: list[Rule] = Field(default_factory=list)


class KnowledgeBase(_Strict):
    version: str
    rrl_scale: dict[Literal["adult", "paediatric"], dict[int, str]]
    sources: dict[str, Source]
    procedures: dict[str, Procedure]
    global_needs: list[Need] = Field(default_factory=list)
    global_contradictions: list[Contradiction] = Field(default_factory=list)
    global_rules: list[Rule] = Field(default_factory=list)
    indications: dict[str, Indication]


@cache
def load_knowledge_base() -> KnowledgeBase:
    """The packaged knowledge base, loaded and checked once per process.

    Raises:
        KnowledgeBaseError: a file does not parse or the rules do not validate (a bug).
    """
    merged: dict[str, Any] = {"indications": []}
    folder = resources.files("medsight.protocols") / "rules"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        try:
            data = yaml.load(entry.read_text(encoding="utf-8"), Loader=_Loader)
        except yaml.YAMLError as exc:
            raise KnowledgeBaseError(f"rules/{entry.name} is not valid YAML ({type(exc).__name__})") from exc
        for key, value in (data or {}).items():
            if key == "indications":
                merged["indications"].extend(value)
            elif key in merged:
                raise KnowledgeBaseError(f"rules/{entry.name}: '{key}' is defined in two files")
            else:
                merged[key] = value
    return build_knowledge_base(merged)


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster


def build_knowledge_base(data: dict[str, Any]) -> KnowledgeBase:
    """Validate merged YAML data into a :class:`KnowledgeBase` and compile its conditions."""
    indications = data.get("indications", [])
    codes = [item.get("code") for item in indications if isinstance(item, dict)]
    duplicates = sorted({c for c in codes if codes.count(c) > 1 and c is not None})
    if duplicates:
        raise KnowledgeBaseError(f"indications defined twice: {', '.join(duplicates)}")
    data = {**data, "indications": {item.get("code"): item for item in indications if isinstance(item, dict)}}
    try:
        kb = KnowledgeBase.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise KnowledgeBaseError(
            f"rules do not validate: {where}: {first['msg']} ({exc.error_count()} error(s))"
        ) from None
    _check_references(kb)
    return _compiled(kb)


def _check_references(kb: KnowledgeBase) -> None:
    def source(ref: str, where: str) -> None:
        if ref not in kb.sources:
            raise KnowledgeBaseError(f"{where}: unknown source '{ref}'")

    for pid, procedure in kb.procedures.items():
        if procedure.accuracy_source is not None:
            source(procedure.accuracy_source, f"procedures.{pid}")
    for rule in kb.global_rules:
        source(rule.source, f"global_rules.{rule.id}")
    for code, indication in kb.indications.items():
        if indication.variants[-1].when is not None:
            raise KnowledgeBaseError(f"{code}: the last pathway must have no condition (the catch-all)")
        for variant in indication.variants:
            source(variant.source, f"{code}.{variant.id}")
            for option in variant.options:
                if option.procedure not in kb.procedures:
                    raise KnowledgeBaseError(f"{code}.{variant.id}: unknown procedure '{option.procedure}'")
        for rule in indication.rules:
            source(rule.source, f"{code}.rules.{rule.id}")
            for pid in (rule.targets.procedures or []) if rule.targets else []:
                if pid not in kb.procedures:
                    raise KnowledgeBaseError(f"{code}.rules.{rule.id}: unknown procedure '{pid}'")


def _compiled(kb: KnowledgeBase) -> KnowledgeBase:
    """A copy of ``kb`` whose every ``when`` is compiled (closures, built once)."""

    def base(field: str) -> bool:
        return field in BASE_FIELDS

    def cond(raw: Any, where: str, known: Any) -> Condition | None:
        return None if raw is None else compile_condition(raw, where, known)

    def rules(items: list[Rule], where: str, known: Any) -> list[Rule]:
        return [r.model_copy(update={"condition": cond(r.when, f"{where}.{r.id}", known)}) for r in items]

    def needs(items: list[Need], where: str, known: Any) -> list[Need]:
        for need in items:
            if not known(need.field):
                raise KnowledgeBaseError(f"{where}: unknown field '{need.field}'")
        return [n.model_copy(update={"condition": cond(n.when, f"{where}.{n.field}", known)}) for n in items]

    def contradictions(items: list[Contradiction], where: str, known: Any) -> list[Contradiction]:
        return [c.model_copy(update={"condition": cond(c.when, f"{where}.{c.field}", known)}) for c in items]

    indications = {}
    for code, ind in kb.indications.items():
        declared = {f"findings.{name}" for name in ind.findings}

        def known(field: str, declared: set[str] = declared) -> bool:
            return field in BASE_FIELDS or field in declared

        variants = [v.model_copy(update={"condition": cond(v.when, f"{code}.{v.id}", known)}) for v in ind.variants]
        indications[code] = ind.model_copy(
            update={
                "variants": variants,
                "rules": rules(ind.rules, f"{code}.rules", known),
                "needs": needs(ind.needs, f"{code}.needs", known),
                "contradictions": contradictions(ind.contradictions, f"{code}.contradictions", known),
            }
        )
    return kb.model_copy(
        update={
            "indications": indications,
            "global_rules": rules(kb.global_rules, "global_rules", base),
            "global_needs": needs(kb.global_needs, "global_needs", base),
            "global_contradictions": contradictions(kb.global_contradictions, "global_contradictions", base),
        }
    )
