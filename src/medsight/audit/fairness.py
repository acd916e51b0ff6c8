"""Subgroup performance and the gaps between subgroups, at a model's deployed threshold.

The engine is Fairlearn's :class:`~fairlearn.metrics.MetricFrame`: each metric below is
computed per group by it, and the gaps between groups are its between-groups difference
(largest group value minus smallest) over the groups large enough to compare. Bootstrap
intervals come from a faster, vectorised path (:func:`medsight.metrics.bootstrap_draws`):
MetricFrame's own bootstrap recomputes every metric through pandas per resample, about
35 ms each here, which is minutes for 1,000 resamples of four attributes.

**Resampling.** Each group is resampled on its own, positives and negatives separately
(the design keeps every group's size and prevalence, as :func:`~medsight.metrics.bootstrap_ci`
does for a whole split). A gap's interval comes from the gap of each resample: resample
``b`` of every group, combined. Prevalence is fixed by that design, so its interval is
Wilson's score interval for a proportion instead.

**Verdicts.** A group with fewer than ``min_group_n`` cases is reported with its numbers
and ``status: "too_small"``, and is left out of every gap: a difference measured on a
handful of cases is noise, and flagging (or clearing) a model on it would be a guess.
Cases whose attribute is not recorded form the group ``unrecorded``, reported, never
compared. Equalized-odds difference (Hardt et al. 2016, as Fairlearn defines it) is the
larger of the TPR and FPR differences; the FNR gap is the underdiagnosis gap of
Seyyed-Kalantari et al. (Nature Medicine 2021) and equals the TPR gap.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import precision_score, roc_auc_score

from medsight.audit.groups import UNRECORDED
from medsight.errors import UsageError
from medsight.metrics import bootstrap_draws, expected_calibration_error, percentile_interval, wilson_interval

__all__ = [
    "GAP_METRICS",
    "GROUP_METRICS",
    "AttributeAudit",
    "AuditOptions",
    "audit_attribute",
    "metric_frame",
    "wilson_interval",
]

#: Per-group metrics, in report order (``n`` and ``positives`` besides).
GROUP_METRICS: tuple[str, ...] = ("prevalence", "auc", "sensitivity", "specificity", "ppv", "fnr", "fpr", "ece")
#: Gaps between the groups large enough to judge, in report order.
GAP_METRICS: tuple[str, ...] = (
    "tpr_difference",
    "fpr_difference",
    "equalized_odds_difference",
    "auc_difference",
    "fnr_difference",
)


@dataclass(frozen=True)
class AuditOptions:
    """How an audit is computed.

    Attributes:
        threshold: the model's deployed threshold (a case is positive when ``p >= threshold``).
        min_group_n: groups smaller than this are reported as too small, never judged.
        n_boot: bootstrap resamples for the intervals.
        level: two-sided confidence level.
        seed: seed of the resampling.
    """

    threshold: float
    min_group_n: int = 30
    n_boot: int = 1000
    level: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise UsageError(f"threshold must lie in [0, 1], got {self.threshold}")
        if self.min_group_n < 1 or self.n_boot < 10:
            raise UsageError("min_group_n must be >= 1 and n_boot >= 10")
        if not 0.0 < self.level < 1.0:
            raise UsageError(f"level must lie strictly between 0 and 1, got {self.level}")


@dataclass(frozen=True)
class AttributeAudit:
    """One attribute's audit: a record per group and the gaps between judged groups.

    Attributes:
        attribute: its name (``sex``, ``sex*age_band``).
        groups: one record per value: ``value``, ``n``, ``positives``, ``status``
            (``judged``, ``too_small``, ``unrecorded``), each metric of
            :data:`GROUP_METRICS` and its ``<metric>_ci``.
        gaps: ``compared`` (the judged values), ``excluded`` and each metric of
            :data:`GAP_METRICS` with its ``<metric>_ci``; values are None when fewer than
            two groups can be compared.
        curves: per judged-or-not value, the labels and probabilities (for the report's plots).
    """

    attribute: str
    groups: list[dict[str, Any]]
    gaps: dict[str, Any]
    curves: Mapping[str, tuple[NDArray[np.int64], NDArray[np.float64]]] = field(repr=False, compare=False)


def audit_attribute(
    attribute: str,
    values: Sequence[str],
    y_true: ArrayLike,
    prob: ArrayLike,
    options: AuditOptions,
    order: Sequence[str] | None = None,
) -> AttributeAudit:
    """Audit one attribute: per-group metrics (MetricFrame), gaps, and their bootstrap CIs.

    Args:
        attribute: the attribute's name, for the report.
        values: each case's value of the attribute (``UNRECORDED`` where missing).
        y_true: 1-D labels in {0, 1}.
        prob: 1-D calibrated probabilities of the positive class.
        options: threshold, minimum group size, bootstrap.
        order: the order of the group records (default: MetricFrame's, sorted).

    Raises:
        UsageError: arrays of different lengths, or invalid labels or probabilities.
    """
    y = np.asarray(y_true).astype(np.int64)
    p = np.asarray(prob, dtype=np.float64)
    if not (len(values) == y.size == p.size):
        raise UsageError("attribute values, labels and probabilities differ in length")
    frame = metric_frame(y, p, values, options.threshold, attribute)
    by_group = frame.by_group
    rng = np.random.default_rng(options.seed)
    draws: dict[str, dict[str, NDArray[np.float64]]] = {}
    records, curves = [], {}
    present = [str(v) for v in by_group.index]
    ordered = [v for v in order if v in present] + [v for v in present if v not in order] if order else present
    for value in ordered:
        members = np.asarray([v == value for v in values])
        yg, pg = y[members], p[members]
        curves[str(value)] = (yg, pg)
        draws[str(value)] = _group_draws(yg, pg, options, rng)
        status = "unrecorded" if value == UNRECORDED else ("judged" if yg.size >= options.min_group_n else "too_small")
        records.append(_record(str(value), by_group.loc[value], yg, status, draws[str(value)], options.level))
    compared = [r["value"] for r in records if r["status"] == "judged"]
    excluded = [
        {"value": r["value"], "n": r["n"], "reason": _reason(r, options)} for r in records if r["status"] != "judged"
    ]
    gaps: dict[str, Any] = {
        "min_group_n": options.min_group_n,
        "compared": compared,
        "excluded": excluded,
    }
    # MetricFrame's between-groups difference (largest minus smallest group value), taken
    # over the compared groups only: the same as a MetricFrame of their cases would give.
    differences = by_group.loc[compared].astype(float).agg(lambda column: column.max() - column.min())
    gaps.update(_gaps(differences, compared, draws, options.level))
    return AttributeAudit(attribute=attribute, groups=records, gaps=gaps, curves=curves)


def metric_frame(
    y: NDArray[np.int64], p: NDArray[np.float64], values: Sequence[str], threshold: float, attribute: str
) -> MetricFrame:
    """Fairlearn's MetricFrame of every metric in :data:`GROUP_METRICS` (and ``n``, ``positives``).

    ``y_pred`` carries the probabilities; each metric thresholds them itself where it needs
    a decision, so threshold-free metrics (AUC, ECE) see the scores.
    """
    metrics: dict[str, Callable[..., float]] = {
        "n": count,
        "positives": lambda yt, yp: float(np.sum(yt)),
        "prevalence": lambda yt, yp: float(np.mean(yt)),
        "auc": _auc,
        "sensitivity": lambda yt, yp: _rate(yt == 1, yp >= threshold),
        "specificity": lambda yt, yp: _rate(yt == 0, yp < threshold),
        "ppv": lambda yt, yp: _ppv(yt, yp >= threshold),
        "fnr": lambda yt, yp: _rate(yt == 1, yp < threshold),
        "fpr": lambda yt, yp: _rate(yt == 0, yp >= threshold),
        "ece": lambda yt, yp: expected_calibration_error(yt, yp),
    }
    sensitive = pd.Series(list(values), name=attribute, dtype="object")
    return MetricFrame(metrics=metrics, y_true=y, y_pred=p, sensitive_features=sensitive)


def _auc(yt: NDArray[Any], yp: NDArray[Any]) -> float:
    return float(roc_auc_score(yt, yp)) if np.unique(yt).size == 2 else math.nan


def _rate(members: NDArray[np.bool_], hits: NDArray[np.bool_]) -> float:
    # Fairlearn's rates are 0.0 for a group with no case of the class; a rate over no
    # cases is undefined, and NaN keeps it out of every gap.
    members = np.asarray(members)
    return float(np.mean(np.asarray(hits)[members])) if members.any() else math.nan


def _ppv(yt: NDArray[Any], called: NDArray[np.bool_]) -> float:
    if not np.any(called):
        return math.nan
    return float(precision_score(yt, np.asarray(called).astype(np.int64), zero_division=np.nan))


def _group_draws(
    y: NDArray[np.int64], p: NDArray[np.float64], options: AuditOptions, rng: np.random.Generator
) -> dict[str, NDArray[np.float64]]:
    raw = bootstrap_draws(y, p, options.threshold, n_boot=options.n_boot, rng=rng, stratified=True)
    return {
        "auc": raw["auc"],
        "sensitivity": raw["sensitivity"],
        "specificity": raw["specificity"],
        "ppv": raw["ppv"],
        "fnr": 1.0 - raw["sensitivity"],
        "fpr": 1.0 - raw["specificity"],
        "ece": raw["ece"],
    }


def _record(
    value: str,
    row: pd.Series,
    y: NDArray[np.int64],
    status: str,
    draws: Mapping[str, NDArray[np.float64]],
    level: float,
) -> dict[str, Any]:
    record: dict[str, Any] = {"value": value, "n": int(row["n"]), "positives": int(row["positives"]), "status": status}
    for metric in GROUP_METRICS:
        record[metric] = _round(row[metric])
        if metric == "prevalence":
            record["prevalence_ci"] = [_round(v) for v in wilson_interval(int(y.sum()), int(y.size), level)]
        else:
            record[f"{metric}_ci"] = [_round(v) for v in percentile_interval(draws[metric], level)]
    return record


def _gaps(
    differences: pd.Series,
    compared: list[str],
    draws: Mapping[str, Mapping[str, NDArray[np.float64]]],
    level: float,
) -> dict[str, Any]:
    """Largest minus smallest group value over the compared groups, with bootstrap CIs."""
    gaps: dict[str, Any] = {}
    if len(compared) < 2:
        for metric in GAP_METRICS:
            gaps[metric], gaps[f"{metric}_ci"] = None, [None, None]
        return gaps
    columns = {
        "tpr_difference": "sensitivity",
        "fpr_difference": "fpr",
        "auc_difference": "auc",
        "fnr_difference": "fnr",
    }
    point = {gap: float(differences[metric]) for gap, metric in columns.items()}
    point["equalized_odds_difference"] = max(point["tpr_difference"], point["fpr_difference"])
    boot = {gap: _spread(np.stack([draws[g][metric] for g in compared])) for gap, metric in columns.items()}
    boot["equalized_odds_difference"] = np.fmax(boot["tpr_difference"], boot["fpr_difference"])
    for metric in GAP_METRICS:
        gaps[metric] = _round(point[metric])
        gaps[f"{metric}_ci"] = [_round(v) for v in percentile_interval(boot[metric], level)]
    return gaps


def _spread(stacked: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per resample (column), largest minus smallest group value; NaN where none is defined."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: the gap is undefined there
        spread: NDArray[np.float64] = np.nanmax(stacked, axis=0) - np.nanmin(stacked, axis=0)
    return spread


def _reason(record: Mapping[str, Any], options: AuditOptions) -> str:
    if record["status"] == "unrecorded":
        return "attribute not recorded: not a population group"
    return f"n < {options.min_group_n}: too small for a verdict"


def _round(value: Any) -> float | None:
    number = float(value)
    return None if not math.isfinite(number) else round(number, 4)
