"""The release gate: which gaps a model may show between groups before it may be promoted.

A gate names attributes and the largest equalized-odds difference allowed across each
(default: ``sex``, 0.10). An attribute is judged only where at least two of its groups
are large enough (``min_group_n``): otherwise its verdict is ``not_judged``, which does
not fail the gate but is said in the result. The point estimate is judged, as Fairlearn
reports it; its interval is recorded beside it so a reviewer sees how sure it is.

The gate is a result, never an exception (``passed``); refusing a promotion is the
release step's decision (:mod:`medsight.services.release`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medsight.errors import UsageError

__all__ = ["DEFAULT_GATE", "FairnessGate", "judge"]


@dataclass(frozen=True)
class FairnessGate:
    """Thresholds a model's audit must meet.

    Attributes:
        attributes: attributes judged (each must be audited).
        max_equalized_odds_difference: the largest equalized-odds difference allowed.
        min_group_n: a group smaller than this is not judged (the audit's own minimum).
    """

    attributes: tuple[str, ...] = ("sex",)
    max_equalized_odds_difference: float = 0.10
    min_group_n: int = 30

    def __post_init__(self) -> None:
        if not self.attributes:
            raise UsageError("a fairness gate names at least one attribute")
        if not 0.0 <= self.max_equalized_odds_difference <= 1.0:
            raise UsageError("the equalized-odds limit must lie in [0, 1]")
        if self.min_group_n < 1:
            raise UsageError("the minimum group size must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the audit's ``gate``)."""
        return {
            "attributes": list(self.attributes),
            "max_equalized_odds_difference": self.max_equalized_odds_difference,
            "min_group_n": self.min_group_n,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FairnessGate:
        """Inverse of :meth:`to_dict`."""
        return cls(
            attributes=tuple(data["attributes"]),
            max_equalized_odds_difference=float(data["max_equalized_odds_difference"]),
            min_group_n=int(data["min_group_n"]),
        )


DEFAULT_GATE = FairnessGate()


def judge(gaps: Mapping[str, Mapping[str, Any]], gate: FairnessGate) -> tuple[bool, list[dict[str, Any]]]:
    """Judge an audit's gaps (``attribute -> gaps record``) against ``gate``.

    Returns:
        ``(passed, checks)``: one check per gate attribute with ``attribute``,
        ``equalized_odds_difference`` (and its CI), ``limit``, ``verdict``
        (``pass``, ``fail`` or ``not_judged``) and ``reason``.

    Raises:
        UsageError: a gate attribute was not audited.
    """
    checks = []
    for attribute in gate.attributes:
        if attribute not in gaps:
            raise UsageError(f"the gate judges {attribute!r}, which the audit did not cover; audit it too")
        record = gaps[attribute]
        if record.get("min_group_n", gate.min_group_n) != gate.min_group_n:
            raise UsageError(
                f"the audit compared groups of n >= {record['min_group_n']}, the gate asks n >= {gate.min_group_n}; "
                "audit again with the gate's minimum"
            )
        value = record.get("equalized_odds_difference")
        check: dict[str, Any] = {
            "attribute": attribute,
            "equalized_odds_difference": value,
            "equalized_odds_difference_ci": record.get("equalized_odds_difference_ci", [None, None]),
            "limit": gate.max_equalized_odds_difference,
        }
        if value is None:
            check["verdict"] = "not_judged"
            check["reason"] = f"fewer than two groups with n >= {gate.min_group_n}"
        elif value <= gate.max_equalized_odds_difference:
            check["verdict"] = "pass"
            check["reason"] = f"equalized-odds difference {value:.3f} <= {gate.max_equalized_odds_difference:.3f}"
        else:
            check["verdict"] = "fail"
            check["reason"] = f"equalized-odds difference {value:.3f} > {gate.max_equalized_odds_difference:.3f}"
        checks.append(check)
    return all(c["verdict"] != "fail" for c in checks), checks
