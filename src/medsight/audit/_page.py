"""What the audit reports' self-contained HTML pages share: one style block, inline PNGs, a value with its CI.

Self-contained: plots are inline PNG (``data:`` URIs), the style is one ``<style>``
block, there is no script and nothing is fetched, so a page can be mailed, archived
beside the model and opened offline.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["STYLE", "data_uri", "facts_table", "value_with_ci", "verdict"]

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.ci{color:#777;font-size:.85em}.fail{color:#b00020;font-weight:bold}.pass{color:#0a7d32;font-weight:bold}
.muted{color:#999}.plots img{width:48%;min-width:360px}
"""


def data_uri(png: bytes) -> str:
    """``png`` as a ``data:`` URI for an ``<img src>``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def value_with_ci(value: float | None, ci: Sequence[float | None]) -> str:
    """A value to three decimals with its CI in grey, or a muted n/a."""
    if value is None:
        return "<span class='muted'>n/a</span>"
    interval = "" if None in ci else f" <span class='ci'>[{ci[0]:.3f}, {ci[1]:.3f}]</span>"
    return f"{value:.3f}{interval}"


def facts_table(rows: Mapping[str, Any]) -> str:
    """A two-column table of facts (escaped: some come from a user's data)."""
    items = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in rows.items())
    return f"<table>{items}</table>"


def verdict(passed: bool) -> str:
    """PASSED in green or FAILED in red."""
    return '<span class="pass">PASSED</span>' if passed else '<span class="fail">FAILED</span>'
