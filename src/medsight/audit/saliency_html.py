"""The saliency audit as one self-contained HTML page: the checks, their verdicts, the curves.

Every value shown comes from :meth:`~medsight.audit.saliency.SaliencyReport.to_dict`, so
the page and the JSON agree. No image of a patient is embedded: the curves are means
over images.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from medsight.audit._page import STYLE, data_uri, facts_table, value_with_ci, verdict
from medsight.audit.saliency import SaliencyReport
from medsight.plots import perturbation_plot_png

__all__ = ["render_saliency_html"]

_NAMES = {
    "deletion": "Deletion gain (random area − map area)",
    "insertion": "Insertion gain (map area − random area)",
    "randomization_head": "Rank correlation with the map of a model whose output layer is re-initialised",
    "randomization_all": "Rank correlation with the map of a model whose weights are all re-initialised",
}


def render_saliency_html(report: SaliencyReport, *, title: str, context: Mapping[str, Any] | None = None) -> str:
    """The report page (``context``: facts listed under the heading)."""
    data = report.to_dict()
    curves = data["curves"]
    plot = perturbation_plot_png(curves["fractions"], curves, title=title)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        facts_table({**(context or {}), "images explained": data["n"]}),
        f"<h2>Checks: {verdict(report.passed)}</h2>",
        "<p>Means over images with 95% bootstrap CIs (images resampled). Deletion and insertion "
        "(Petsiuk et al., BMVC 2018) move pixels between the image and a blurred copy in the map's "
        "order and in a random smooth map's; model randomization (Adebayo et al., NeurIPS 2018) "
        "compares the map with the same network's after re-initialising its weights.</p>",
        _checks(data["checks"]),
        "<h2>Mean curves</h2>",
        f"<div class='plots'><img style='width:100%' alt='Deletion and insertion curves' src='{data_uri(plot)}'></div>",
        _areas(data["areas"]),
        "</body></html>",
    ]
    return "\n".join(parts)


def _checks(checks: Mapping[str, Mapping[str, Any]]) -> str:
    head = "<tr><th>check</th><th>mean [95% CI]</th><th>verdict</th><th>rule</th></tr>"
    rows = [
        f"<tr><td>{escape(_NAMES.get(name, name))}</td><td>{value_with_ci(c['mean'], c['ci'])}</td>"
        f"<td>{verdict(c['passed'])}</td><td>{escape(c['rule'])}</td></tr>"
        for name, c in checks.items()
    ]
    return f"<table>{head}{''.join(rows)}</table>"


def _areas(areas: Mapping[str, float | None]) -> str:
    head = "<tr><th>area under the mean curve</th><th>saliency order</th><th>random smooth map</th></tr>"
    rows = [
        f"<tr><td>{name}</td><td>{value_with_ci(areas[name], [None, None])}</td>"
        f"<td>{value_with_ci(areas[f'{name}_random'], [None, None])}</td></tr>"
        for name in ("deletion", "insertion")
    ]
    return f"<table>{head}{''.join(rows)}</table>"
