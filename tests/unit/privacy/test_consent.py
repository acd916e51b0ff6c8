"""Consent decisions: the latest wins, none means no, sharing names its party."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from medsight.errors import UsageError
from medsight.privacy.consent import ConsentDecision, Purpose, in_force, parse_purpose

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _d(who: str, purpose: Purpose, granted: bool, minutes: int, party: str = "") -> ConsentDecision:
    return ConsentDecision(who, purpose, party, granted, "tester", T0 + timedelta(minutes=minutes))


def test_latest_decision_wins_whatever_the_order() -> None:
    decisions = [
        _d("ANON-A", Purpose.MODEL_TRAINING, False, 5),
        _d("ANON-A", Purpose.MODEL_TRAINING, True, 1),
        _d("ANON-B", Purpose.MODEL_TRAINING, True, 2),
        _d("ANON-B", Purpose.RESEARCH_EXPORT, False, 9),
    ]
    assert in_force(decisions, Purpose.MODEL_TRAINING) == {"ANON-A": False, "ANON-B": True}
    assert in_force(decisions, Purpose.RESEARCH_EXPORT) == {"ANON-B": False}
    assert in_force(decisions, Purpose.CLINICAL_CARE) == {}


def test_sharing_is_per_party() -> None:
    decisions = [_d("ANON-A", Purpose.SHARING, True, 1, "Hospital B")]
    assert in_force(decisions, Purpose.SHARING, "Hospital B") == {"ANON-A": True}
    assert in_force(decisions, Purpose.SHARING, "Hospital C") == {}


@pytest.mark.parametrize(
    ("name", "party", "ok"),
    [
        ("research-export", None, True),
        ("MODEL_TRAINING", None, True),
        ("sharing", "Hospital B", True),
        ("sharing", None, False),
        ("research-export", "Hospital B", False),
        ("marketing", None, False),
    ],
)
def test_parse_purpose(name: str, party: str | None, ok: bool) -> None:
    if ok:
        assert parse_purpose(name, party)[0] in Purpose
    else:
        with pytest.raises(UsageError):
            parse_purpose(name, party)


def test_document_reference_stays_out_of_the_repr() -> None:
    decision = ConsentDecision("ANON-A", Purpose.SHARING, "B", True, "x", T0, "form 123 of Jane Doe")
    assert "Jane" not in repr(decision)
