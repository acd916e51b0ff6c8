"""Triage flags of a result: positive at or above the threshold; uncertain, and why."""

from __future__ import annotations

import pytest

from medsight.services.triage import UNCERTAIN_REASONS, Triage, triage
from medsight.store.jobs import JobStatus

SCORED = {"probability": 0.6, "threshold": 0.6}


@pytest.mark.parametrize(
    ("uncertainty", "reasons"),
    [
        (None, ()),
        ({"ambiguous": False}, ()),
        ({"ambiguous": True}, ("prediction_set",)),
        ({"ambiguous": False, "members": {"unanimous": True}}, ()),
        ({"ambiguous": False, "members": {"unanimous": False}}, ("members_split",)),
        ({"ambiguous": True, "members": {"unanimous": False}}, ("prediction_set", "members_split")),
    ],
)
def test_a_finished_classification_is_flagged_by_its_uncertainty(
    uncertainty: dict[str, object] | None, reasons: tuple[str, ...]
) -> None:
    flags = triage(JobStatus.DONE, SCORED | {"uncertainty": uncertainty})
    assert flags == Triage(positive=True, uncertain_reasons=reasons)  # at the threshold is positive
    assert flags.uncertain is bool(reasons)
    assert set(reasons) <= set(UNCERTAIN_REASONS)


def test_below_the_threshold_is_negative() -> None:
    assert triage(JobStatus.DONE, {"probability": 0.2, "threshold": 0.6}).positive is False


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (JobStatus.REFUSED, {"refused": {"reason": "not a chest radiograph"}}),
        (JobStatus.FAILED, None),
        (JobStatus.RUNNING, SCORED),  # not finished: no verdict yet
        (JobStatus.DONE, {"volumes_ml": {"tumour": 3.6}}),  # a segmentation: a volume, not a verdict
        (JobStatus.DONE, {"probability": True, "threshold": 0.5}),  # not a number
    ],
)
def test_no_flags_where_there_is_no_verdict(status: JobStatus, result: dict[str, object] | None) -> None:
    assert triage(status, result) == Triage(positive=None, uncertain_reasons=())
