"""Generate medsight's packaged PS3.15 Table E.1-1 from the shared JSON.

Usage, from the repository root::

    python tools/gen_deid_profile.py [--source ../shared/standards/ps3.15_table_E.1-1.json]
        [--out src/medsight/privacy/_table_e1_1.json] [--check]

The source is Table E.1-1 (Application Level Confidentiality Profile Attributes) as data,
621 rows (see ``../shared/standards/README.md``). The output keeps, per row, the tag (or
its pattern: ``50xxxxxx``, ``60xx4000``, ``private``), the name, the Basic Profile action
and the action under each option the table gives, and records the source's file name and
sha256. ``--check`` exits 1 when the packaged file differs from what the source gives.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "standards" / "ps3.15_table_E.1-1.json"
OUT = ROOT / "src" / "medsight" / "privacy" / "_table_e1_1.json"
EXPECTED_ROWS = 621
OPTION_COLUMNS = (
    "rtnSafePrivOpt",
    "rtnUIDsOpt",
    "rtnDevIdOpt",
    "rtnInstIdOpt",
    "rtnPatCharsOpt",
    "rtnLongFullDatesOpt",
    "rtnLongModifDatesOpt",
    "cleanDescOpt",
    "cleanStructContOpt",
    "cleanGraphOpt",
)
BASIC_ACTIONS = {"D", "Z", "X", "K", "C", "U", "X/Z", "X/D", "X/Z/D", "Z/D", "X/Z/U*"}
_TAG = re.compile(r"\(([0-9A-FX]{4}),([0-9A-FX]{4})\)")
_NOTE = re.compile(r"\(see Note \d+\)", re.IGNORECASE)
# Spot checks against PS3.15 Table E.1-1 (2025a).
SPOT_CHECKS = {
    "00100010": "Z",  # Patient's Name
    "00100020": "Z/D",  # Patient ID
    "00080018": "U",  # SOP Instance UID
    "00080050": "Z",  # Accession Number
    "00100030": "Z",  # Patient's Birth Date
    "00081140": "X/Z/U*",  # Referenced Image Sequence
    "00081010": "X/Z/D",  # Station Name
    "0040a730": "D",  # Content Sequence
}


def build(source: Path) -> dict[str, Any]:
    """The packaged table for the rows in ``source``.

    Raises:
        SystemExit: the source has the wrong row count, an unknown action or tag form,
            a duplicate tag, or fails a spot check.
    """
    raw = source.read_bytes()
    rows = json.loads(raw)
    if len(rows) != EXPECTED_ROWS:
        raise SystemExit(f"{source}: {len(rows)} rows, expected {EXPECTED_ROWS}")
    out_rows = [_row(row) for row in sorted(rows, key=lambda r: r["id"])]
    keys = [row["tag"] for row in out_rows]
    if len(set(keys)) != len(keys):
        raise SystemExit(f"{source}: duplicate tags")
    by_tag = {row["tag"]: row for row in out_rows}
    for tag, action in SPOT_CHECKS.items():
        if by_tag[tag]["basic"] != action:
            raise SystemExit(f"{source}: {tag} has {by_tag[tag]['basic']}, PS3.15 says {action}")
    return {
        "standard": "DICOM PS3.15 Annex E, Table E.1-1",
        "source": source.name,
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "generator": "tools/gen_deid_profile.py",
        "rows": out_rows,
    }


def _row(row: dict[str, str]) -> dict[str, Any]:
    basic = row["basicProfile"]
    if basic not in BASIC_ACTIONS:
        raise SystemExit(f"unknown action {basic!r} for {row['tag']}")
    tag = row["tag"]
    if tag.upper().startswith("(GGGG,EEEE)"):
        key = "private"
    else:
        match = _TAG.fullmatch(tag.upper())
        if match is None:
            raise SystemExit(f"unknown tag form {tag!r}")
        key = (match.group(1) + match.group(2)).lower()
    options = {column: row[column] for column in OPTION_COLUMNS if column in row}
    for column, action in options.items():
        if action not in {"K", "C"}:
            raise SystemExit(f"unknown option action {action!r} for {tag} {column}")
    name = " ".join(_NOTE.sub("", row["name"]).split())  # "Icon Image Sequence (see Note 11)"
    return {"tag": key, "name": name, "std": row["stdCompIOD"] == "Y", "basic": basic, "options": options}


def render(table: dict[str, Any]) -> str:
    """The packaged file's text: one row per line, so diffs stay readable."""
    head = {key: value for key, value in table.items() if key != "rows"}
    lines = [json.dumps(row, sort_keys=True) for row in table["rows"]]
    body = ",\n".join(f"  {line}" for line in lines)
    meta = json.dumps(head, indent=2, sort_keys=True)[:-2]
    return f'{meta},\n  "rows": [\n{body}\n  ]\n}}\n'


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) the packaged table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when the packaged file differs")
    args = parser.parse_args(argv)
    text = render(build(args.source))
    if args.check:
        same = args.out.is_file() and args.out.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{args.out} differs from {args.source}")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
