"""What a recommendation says: ranked procedures, warnings, assumptions, missing fields, risk.

Plain frozen dataclasses with ``as_json``; the JSON keys are the issue's contract
(``recommendations`` with ``modality``, ``contrast``, ``procedure``, ``appropriateness``,
``relative_radiation_level``, ``adjustments``, ``expected_outcome``, ``reasons``; and
``warnings``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Alert",
    "Assumption",
    "Citation",
    "Missing",
    "Reason",
    "Recommendation",
    "RecommendationResult",
    "category_of",
]

USUALLY_APPROPRIATE = "usually appropriate"
MAY_BE_APPROPRIATE = "may be appropriate"
USUALLY_NOT_APPROPRIATE = "usually not appropriate"


def category_of(rating: int) -> str:
    """The ACR category of a 1-9 rating: 7-9, 4-6, 1-3."""
    return USUALLY_APPROPRIATE if rating >= 7 else MAY_BE_APPROPRIATE if rating >= 4 else USUALLY_NOT_APPROPRIATE


@dataclass(frozen=True)
class Citation:
    id: str
    title: str
    publisher: str
    year: int
    url: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "publisher": self.publisher, "year": self.year, "url": self.url}


@dataclass(frozen=True)
class Reason:
    """One rule that fired, in words, with its source."""

    rule: str
    statement: str
    citation: Citation

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "statement": self.statement, "citation": self.citation.as_json()}


@dataclass(frozen=True)
class Alert:
    code: str
    severity: str
    message: str
    rule: str
    citation: Citation

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "rule": self.rule,
            "citation": self.citation.as_json(),
        }


@dataclass(frozen=True)
class Assumption:
    field: str
    statement: str

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "statement": self.statement}


@dataclass(frozen=True)
class Missing:
    field: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "reason": self.reason}


@dataclass
class Recommendation:
    """One candidate examination; the engine adjusts ``rating`` while rules fire, then ranks."""

    procedure_id: str
    procedure: str
    modality: str
    contrast: str
    rating: int
    rrl: int
    rrl_scale: str  # adult or paediatric
    dose_range: str
    shows: str
    sensitivity: float | None
    specificity: float | None
    accuracy_for: str | None
    accuracy_citation: Citation | None
    order: int
    note: str | None = None
    adjustments: list[str] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)

    @property
    def category(self) -> str:
        return category_of(self.rating)

    def as_json(self, rank: int) -> dict[str, Any]:
        outcome: dict[str, Any] = {"shows": self.shows}
        if self.sensitivity is not None or self.specificity is not None:
            outcome.update(
                {
                    "sensitivity": self.sensitivity,
                    "specificity": self.specificity,
                    "for": self.accuracy_for,
                    "citation": self.accuracy_citation.as_json() if self.accuracy_citation else None,
                }
            )
        if self.note:
            outcome["note"] = self.note
        return {
            "rank": rank,
            "procedure_id": self.procedure_id,
            "procedure": self.procedure,
            "modality": self.modality,
            "contrast": self.contrast,
            "appropriateness": {"rating": self.rating, "category": self.category},
            "relative_radiation_level": {
                "level": self.rrl,
                "scale": self.rrl_scale,
                "effective_dose_range": self.dose_range,
            },
            "adjustments": self.adjustments,
            "expected_outcome": outcome,
            "reasons": [r.as_json() for r in self.reasons],
        }


@dataclass
class RecommendationResult:
    """The answer for one profile.

    ``status`` is ``ok`` (ranked recommendations), or ``needs_input`` (``missing`` says
    which fields and why; no recommendation is made on a guess).
    """

    indication: str
    indication_name: str
    pathway: str
    variant: str | None
    knowledge_base_version: str
    status: str = "ok"
    recommendations: list[Recommendation] = field(default_factory=list)
    warnings: list[Alert] = field(default_factory=list)
    assumptions: list[Assumption] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    risk: dict[str, Any] = field(default_factory=dict)

    @property
    def top(self) -> Recommendation | None:
        return self.recommendations[0] if self.recommendations else None

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "indication": {"code": self.indication, "name": self.indication_name},
            "pathway": self.pathway,
            "variant": self.variant,
            "knowledge_base_version": self.knowledge_base_version,
            "recommendations": [r.as_json(i + 1) for i, r in enumerate(self.recommendations)],
            "warnings": [w.as_json() for w in self.warnings],
            "assumptions": [a.as_json() for a in self.assumptions],
            "missing": [m.as_json() for m in self.missing],
            "risk": self.risk,
            "disclaimer": (
                "Decision support for the referring clinician, not a substitute for clinical judgement; "
                "rules paraphrase the cited guidelines."
            ),
        }
