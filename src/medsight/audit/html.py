"""The fairness audit as one self-contained HTML page: tables, per-group ROC and calibration plots.

Self-contained: the plots are inline PNG (``data:`` URIs), the style is one ``<style>``
block, there is no script and nothing is fetched, so the file can be mailed, archived
beside the model and opened offline. Every value shown comes from
:meth:`~medsight.audit.report.FairnessReport.to_dict`, so the page and the JSON agree.
Text is escaped: group values come from a user's CSV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from medsight.audit._page import STYLE as _STYLE
from medsight.audit._page import data_uri as _data_uri
from medsight.audit._page import value_with_ci as _value
from medsight.audit._page import verdict
from medsight.audit.fairness import GAP_METRICS, GROUP_METRICS, AttributeAudit
from medsight.audit.report import FairnessReport
from medsight.plots import group_calibration_plot_png, group_roc_plot_png

__all__ = ["render_html"]


_GAP_NAMES = {
    "tpr_difference": "TPR difference",
    "fpr_difference": "FPR difference",
    "equalized_odds_difference": "Equalized-odds difference",
    "auc_difference": "AUC difference",
    "fnr_difference": "FNR (underdiagnosis) difference",
}


def render_html(report: FairnessReport, *, title: str, context: Mapping[str, Any] | None = None) -> str:
    """The report page.

    Args:
        report: the audit.
        title: page heading (model and data).
        context: extra facts listed under the heading (task, split, model sha256, data file).
    """
    data = report.to_dict()
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _facts(context or {}, report),
        f"<h2>Release gate: {verdict(report.passed)}</h2>",
        _gate_table(data["gate"]),
        "<h2>Gaps between groups</h2>",
        "<p>Largest minus smallest group value, over the groups large enough to judge "
        f"(n &ge; {report.gate.min_group_n}; the others are listed as excluded). 95% bootstrap CIs, "
        "each group resampled on its own. A gap's interval never goes below 0: it is a spread.</p>",
        _gap_table(data["gaps"]),
        "<h2>Overall</h2>",
        _group_table([{"value": "all", "status": "judged", **data["overall"]}]),
    ]
    for audit in report.attributes:
        parts += [f"<h2>By {escape(audit.attribute)}</h2>", _group_table(audit.groups), _plots(audit, report)]
    parts.append("</body></html>")
    return "\n".join(parts)


def _facts(context: Mapping[str, Any], report: FairnessReport) -> str:
    rows = [(str(k), str(v)) for k, v in context.items()]
    rows.append(("deployed threshold", f"{report.threshold:.4f}"))
    items = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{items}</table>"


def _gate_table(gate: Mapping[str, Any]) -> str:
    head = "<tr><th>attribute</th><th>equalized-odds difference</th><th>limit</th><th>verdict</th><th>why</th></tr>"
    rows = []
    for check in gate["checks"]:
        css = {"pass": "pass", "fail": "fail"}.get(check["verdict"], "muted")
        rows.append(
            f"<tr><td>{escape(check['attribute'])}</td>"
            f"<td>{_value(check['equalized_odds_difference'], check['equalized_odds_difference_ci'])}</td>"
            f"<td>{check['limit']:.3f}</td><td class='{css}'>{escape(check['verdict'])}</td>"
            f"<td>{escape(check['reason'])}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _gap_table(gaps: Mapping[str, Mapping[str, Any]]) -> str:
    head = "<tr><th>attribute</th><th>compared</th>" + "".join(f"<th>{_GAP_NAMES[m]}</th>" for m in GAP_METRICS)
    head += "<th>excluded</th></tr>"
    rows = []
    for attribute, gap in gaps.items():
        cells = "".join(f"<td>{_value(gap[m], gap[m + '_ci'])}</td>" for m in GAP_METRICS)
        excluded = ", ".join(f"{e['value']} (n={e['n']})" for e in gap["excluded"]) or "none"
        rows.append(
            f"<tr><td>{escape(attribute)}</td><td>{escape(', '.join(gap['compared']) or 'fewer than two')}</td>"
            f"{cells}<td>{escape(excluded)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _group_table(records: Sequence[Mapping[str, Any]]) -> str:
    head = "<tr><th>group</th><th>n</th><th>positives</th>" + "".join(f"<th>{m}</th>" for m in GROUP_METRICS)
    head += "<th>status</th></tr>"
    rows = []
    for record in records:
        cells = "".join(f"<td>{_value(record[m], record[m + '_ci'])}</td>" for m in GROUP_METRICS)
        status = record["status"].replace("_", " ")
        css = "" if record["status"] == "judged" else " class='muted'"
        rows.append(
            f"<tr{css}><td>{escape(record['value'])}</td><td>{record['n']}</td><td>{record['positives']}</td>"
            f"{cells}<td>{escape(status)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _plots(audit: AttributeAudit, report: FairnessReport) -> str:
    curves = dict(audit.curves)
    roc = group_roc_plot_png(curves, title=f"ROC by {audit.attribute}", threshold=report.threshold)
    calibration = group_calibration_plot_png(curves, title=f"Calibration by {audit.attribute}")
    return (
        "<div class='plots'>"
        f"<img alt='ROC curves by {escape(audit.attribute)}' src='{_data_uri(roc)}'>"
        f"<img alt='Calibration curves by {escape(audit.attribute)}' src='{_data_uri(calibration)}'>"
        "</div>"
    )
