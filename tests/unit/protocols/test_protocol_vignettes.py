"""Clinical vignettes (vignettes.yaml): the expected top recommendation and warnings, each citing its guideline."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from medsight.protocols import load_knowledge_base, parse_profile, recommend

VIGNETTES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "vignettes.yaml").read_text())
TODAY = date(2026, 11, 26)  # prior imaging dates in the vignettes are fixed; so is "today"


def test_there_are_at_least_60_vignettes_covering_every_indication() -> None:
    assert len(VIGNETTES) >= 60
    assert len({v["id"] for v in VIGNETTES}) == len(VIGNETTES)
    covered = {v["profile"]["indication"] for v in VIGNETTES}
    assert covered == set(load_knowledge_base().indications)
    assert all(v["cites"].strip() for v in VIGNETTES)


@pytest.mark.parametrize("vignette", VIGNETTES, ids=lambda v: v["id"])
def test_vignette(vignette: dict[str, Any]) -> None:
    result = recommend(parse_profile(vignette["profile"]), today=TODAY)
    answer = result.as_json()
    if vignette.get("status") == "needs_input":
        assert answer["status"] == "needs_input"
        assert answer["recommendations"] == []
        assert set(vignette["missing"]) <= {m["field"] for m in answer["missing"]}
        return
    assert answer["status"] == "ok", answer["missing"]
    top = answer["recommendations"][0]
    ranked = [(r["procedure_id"], r["appropriateness"]["rating"]) for r in answer["recommendations"]]
    assert top["procedure_id"] == vignette["top"], f"{vignette['cites']}: got {ranked}"
    codes = {w["code"] for w in answer["warnings"]}
    assert set(vignette.get("warnings", [])) <= codes, codes
    # Every recommendation explains itself with at least one cited rule.
    for recommendation in answer["recommendations"]:
        assert recommendation["reasons"]
        assert all(reason["citation"]["url"].startswith("https://") for reason in recommendation["reasons"])
