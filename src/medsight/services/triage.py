"""Triage flags of an analysis result: is it positive, and should a person look closely?

One rule, used when a job finishes (the flags are stored beside the result, so that the
worklist can filter and sort on them in SQL) and when the worklist shows a result:

* ``positive``: a finished classification at or above its model's threshold; None where
  the question does not apply (a refusal, a failure, a job not finished, a segmentation,
  whose finding is a volume, not a verdict);
* ``uncertain``: a finished classification whose uncertainty says a person should look
  closely, for the reasons in :data:`UNCERTAIN_REASONS` (a segmentation reports its own
  confidence instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from medsight.store.jobs import JobStatus

__all__ = ["UNCERTAIN_REASONS", "Triage", "triage"]

#: Why a finished classification is flagged uncertain, by code.
UNCERTAIN_REASONS = {
    "prediction_set": "its conformal prediction set does not hold exactly one class",
    "members_split": "its ensemble's members fall on both sides of the threshold",
}


@dataclass(frozen=True)
class Triage:
    """The flags of one result (see the module docstring)."""

    positive: bool | None = None
    uncertain_reasons: tuple[str, ...] = ()

    @property
    def uncertain(self) -> bool:
        """Whether any reason says a person should look closely."""
        return bool(self.uncertain_reasons)


def triage(status: JobStatus, result: Mapping[str, Any] | None) -> Triage:
    """The flags of a job that ended with ``status`` and ``result``."""
    result = result or {}
    probability, threshold = result.get("probability"), result.get("threshold")
    if status is not JobStatus.DONE or not _number(probability) or not _number(threshold):
        return Triage()
    return Triage(positive=probability >= threshold, uncertain_reasons=_uncertain_reasons(result))


def _number(value: Any) -> TypeGuard[float | int]:
    return isinstance(value, float | int) and not isinstance(value, bool)


def _uncertain_reasons(result: Mapping[str, Any]) -> tuple[str, ...]:
    uncertainty = result.get("uncertainty")
    if not isinstance(uncertainty, Mapping):
        return ()
    reasons = []
    if uncertainty.get("ambiguous"):
        reasons.append("prediction_set")
    members = uncertainty.get("members")
    if isinstance(members, Mapping) and members.get("unanimous") is False:
        reasons.append("members_split")
    return tuple(reasons)
