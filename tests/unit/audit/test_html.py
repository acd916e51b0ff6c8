"""The HTML report is one self-contained file, and escapes what came from the data."""

from __future__ import annotations

import re

import numpy as np

from medsight.audit.fairness import AuditOptions
from medsight.audit.html import render_html
from medsight.audit.report import fairness_audit


def test_the_report_is_self_contained_with_plots_and_the_gap_table() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, 200), 0, 1)
    sex = list(rng.choice(["female", "<script>alert(1)</script>"], 200))
    report = fairness_audit(y, p, {"sex": sex}, AuditOptions(threshold=0.5, n_boot=50))
    page = render_html(report, title="audit & <test>", context={"task": "cxr-tuberculosis"})
    assert page.startswith("<!doctype html>")
    assert "<script" not in page  # the group value was escaped, and the page has no script
    assert "&lt;script&gt;" in page
    assert "audit &amp; &lt;test&gt;" in page
    # Every image is inline; nothing is fetched.
    sources = re.findall(r"src='([^']*)'", page)
    assert len(sources) == 2  # ROC and calibration for the one attribute
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page
    assert "https://" not in page
    assert "Equalized-odds difference" in page
    assert "Release gate" in page
