"""The release gate judged from an audit's gaps."""

from __future__ import annotations

import pytest

from medsight.audit import DEFAULT_GATE, FairnessGate, judge
from medsight.errors import UsageError


def gaps(eod: float | None, min_n: int = 30) -> dict[str, dict[str, object]]:
    return {"sex": {"min_group_n": min_n, "equalized_odds_difference": eod, "equalized_odds_difference_ci": [0, 1]}}


@pytest.mark.parametrize(
    ("eod", "verdict", "passed"),
    [(0.05, "pass", True), (0.10, "pass", True), (0.11, "fail", False), (None, "not_judged", True)],
)
def test_default_gate_is_equalized_odds_across_sex_at_most_a_tenth(
    eod: float | None, verdict: str, passed: bool
) -> None:
    ok, checks = judge(gaps(eod), DEFAULT_GATE)
    assert ok is passed
    assert checks[0]["verdict"] == verdict
    assert checks[0]["limit"] == 0.10


def test_a_gate_round_trips_through_json() -> None:
    gate = FairnessGate(("sex", "source"), 0.2, 50)
    assert FairnessGate.from_dict(gate.to_dict()) == gate


def test_a_gate_refuses_an_audit_with_another_minimum_group_size() -> None:
    with pytest.raises(UsageError, match="audit again"):
        judge(gaps(0.01, min_n=10), DEFAULT_GATE)


@pytest.mark.parametrize("kwargs", [{"attributes": ()}, {"max_equalized_odds_difference": 1.5}, {"min_group_n": 0}])
def test_invalid_gates_are_usage_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        FairnessGate(**kwargs)  # type: ignore[arg-type]
