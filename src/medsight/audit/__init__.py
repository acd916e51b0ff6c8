"""Subgroup fairness audits of a classifier's scores, and the gate a release must pass.

- :mod:`~medsight.audit.groups`: attributes from a dataset's subgroup columns (age bands,
  intersections such as ``sex*age_band``);
- :mod:`~medsight.audit.gate`: the release gate (equalized-odds difference across sex
  <= 0.10 where both groups are large enough, by default);
- :mod:`~medsight.audit.fairness`: per-group metrics and the gaps between groups, with
  Fairlearn's ``MetricFrame`` as the engine and group-wise bootstrap CIs;
- :mod:`~medsight.audit.report`: the whole audit (:func:`~medsight.audit.report.fairness_audit`)
  and its JSON;
- :mod:`~medsight.audit.html`: the self-contained HTML report (matplotlib, inline PNG).

Everything but ``html`` is pure statistics (numpy, pandas, scikit-learn, Fairlearn): no
torch, no matplotlib, nothing from ``store`` or ``services``, so a notebook gets the same
numbers. This package re-exports only the light modules (``groups``, ``gate``: the
standard library): the CLI reads the gate's defaults without loading pandas and
scikit-learn, which ``fairness``, ``report`` and ``html`` bring and are imported by name.
"""

from medsight.audit.gate import DEFAULT_GATE, FairnessGate, judge
from medsight.audit.groups import (
    DEFAULT_AGE_BANDS,
    INTERSECTION,
    UNRECORDED,
    AgeBands,
    attribute_values,
    parse_attributes,
    value_order,
)

__all__ = [
    "DEFAULT_AGE_BANDS",
    "DEFAULT_GATE",
    "INTERSECTION",
    "UNRECORDED",
    "AgeBands",
    "FairnessGate",
    "attribute_values",
    "judge",
    "parse_attributes",
    "value_order",
]
