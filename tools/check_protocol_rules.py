"""Check the imaging-protocol knowledge base and print what it holds.

Usage, from the repository root::

    python tools/check_protocol_rules.py [--json]

Loads ``src/medsight/protocols/rules/*.yaml`` through the same schema the service uses
(shape, cross-references, every field a condition reads, a catch-all pathway per
indication) and reports, per indication, its pathways, findings and the sources it cites.
Exits 1 with the failing place when the rules do not validate; run it after editing a rule
(and bump ``version`` in ``index.yaml``).
"""

from __future__ import annotations

import argparse
import json
import sys

from medsight.errors import KnowledgeBaseError
from medsight.protocols import load_knowledge_base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()
    try:
        kb = load_knowledge_base()
    except KnowledgeBaseError as error:
        print(f"rules invalid: {error.message}", file=sys.stderr)
        return 1
    rows = []
    for code, indication in sorted(kb.indications.items()):
        cited = {v.source for v in indication.variants} | {r.source for r in indication.rules}
        rows.append(
            {
                "code": code,
                "pathways": sorted({v.pathway.value for v in indication.variants}),
                "variants": len(indication.variants),
                "findings": sorted(indication.findings),
                "sources": sorted(cited),
            }
        )
    unused = sorted(set(kb.sources) - {s for row in rows for s in row["sources"]} - _cited_elsewhere(kb))
    if args.json:
        print(json.dumps({"version": kb.version, "indications": rows, "uncited_sources": unused}, indent=2))
        return 0
    print(
        f"knowledge base {kb.version}: {len(rows)} indications, {len(kb.procedures)} procedures, "
        f"{len(kb.sources)} sources, {len(kb.global_rules)} global rules"
    )
    for row in rows:
        print(
            f"  {row['code']}: {row['variants']} pathways ({', '.join(row['pathways'])}), {len(row['sources'])} sources"
        )
    if unused:
        print(f"sources cited by no rule: {', '.join(unused)}")
    return 0


def _cited_elsewhere(kb: object) -> set[str]:
    rules = getattr(kb, "global_rules", [])
    procedures = getattr(kb, "procedures", {}).values()
    return {r.source for r in rules} | {p.accuracy_source for p in procedures if p.accuracy_source}


if __name__ == "__main__":
    sys.exit(main())
