"""A whole fairness audit: every attribute, the gate's verdict, and the JSON a reviewer reads.

``FairnessReport.to_dict()`` is the contract of ``medsight audit fairness --json``:

- ``overall``: ``n``, ``positives`` and every per-group metric over all cases;
- ``groups``: per attribute, a list of per-value records (metrics and ``*_ci``, ``status``);
- ``gaps``: per attribute, the gaps between the groups large enough to judge, with CIs;
- ``gate``: the thresholds applied, and ``checks``, one verdict per gate attribute;
- ``passed``: whether no gate check failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from medsight.audit.fairness import AttributeAudit, AuditOptions, audit_attribute
from medsight.audit.gate import DEFAULT_GATE, FairnessGate, judge
from medsight.audit.groups import DEFAULT_AGE_BANDS, AgeBands, value_order
from medsight.errors import UsageError

__all__ = ["FairnessReport", "fairness_audit"]

_OVERALL = "all"


@dataclass(frozen=True)
class FairnessReport:
    """The result of :func:`fairness_audit`.

    Attributes:
        overall: the whole sample as one group.
        attributes: one audit per attribute, in the order asked.
        gate: the gate applied.
        checks: the gate's verdict per attribute.
        passed: no check failed.
        threshold: the deployed threshold the audit was computed at.
    """

    overall: AttributeAudit
    attributes: tuple[AttributeAudit, ...]
    gate: FairnessGate
    checks: list[dict[str, Any]]
    passed: bool
    threshold: float

    def attribute(self, name: str) -> AttributeAudit:
        """The audit of one attribute.

        Raises:
            UsageError: it was not audited.
        """
        for audit in self.attributes:
            if audit.attribute == name:
                return audit
        raise UsageError(f"{name!r} was not audited")

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (module docstring)."""
        overall = {k: v for k, v in self.overall.groups[0].items() if k not in ("value", "status")}
        return {
            "threshold": round(self.threshold, 6),
            "overall": overall,
            "groups": {a.attribute: a.groups for a in self.attributes},
            "gaps": {a.attribute: a.gaps for a in self.attributes},
            "gate": {**self.gate.to_dict(), "checks": self.checks},
            "passed": self.passed,
        }


def fairness_audit(
    y_true: ArrayLike,
    prob: ArrayLike,
    attributes: Mapping[str, Sequence[str]],
    options: AuditOptions,
    gate: FairnessGate = DEFAULT_GATE,
    bands: AgeBands = DEFAULT_AGE_BANDS,
) -> FairnessReport:
    """Audit a model's scores across every attribute and judge them against ``gate``.

    Args:
        y_true: 1-D labels in {0, 1}.
        prob: 1-D calibrated probabilities of the positive class.
        attributes: attribute name -> each case's value (see :mod:`medsight.audit.groups`).
        options: threshold, minimum group size (the gate's), bootstrap.
        gate: the release gate to judge.
        bands: the age bands ``age_band`` values come from (orders the records).

    Raises:
        UsageError: no attribute, inputs of different lengths, a gate attribute not audited,
            or a minimum group size other than the gate's.
    """
    if not attributes:
        raise UsageError("name at least one attribute to audit")
    if options.min_group_n != gate.min_group_n:
        raise UsageError(
            f"the audit's minimum group size ({options.min_group_n}) must be the gate's ({gate.min_group_n})"
        )
    y = np.asarray(y_true)
    overall = audit_attribute(_OVERALL, [_OVERALL] * y.size, y, prob, options)
    audits = tuple(
        audit_attribute(name, values, y, prob, options, value_order(name, values, bands))
        for name, values in attributes.items()
    )
    passed, checks = judge({a.attribute: a.gaps for a in audits}, gate)
    return FairnessReport(overall, audits, gate, checks, passed, options.threshold)
