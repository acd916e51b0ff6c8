"""Routing rules: the built-in chest X-ray rule, rule files, and the ingest listener."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.data.chest_dicom import synthetic_chest_series, with_uids

from medsight.access import Principal, Role
from medsight.errors import UsageError
from medsight.services.context import ServiceContext
from medsight.services.routing import DEFAULT_RULES, Router, RoutingRule, age_at_study, load_rules
from medsight.settings import ServiceSettings

DX = "1.2.840.10008.5.1.4.1.1.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
SENDER = Principal("clinic", Role.REFERRER, "t9")


def _routed(modality: str | None, body_part: str | None, sop_class: str) -> bool:
    return any(rule.matches(modality, body_part, [sop_class]) for rule in DEFAULT_RULES)


@pytest.mark.parametrize(
    ("modality", "body_part", "sop_class", "routed"),
    [
        ("DX", "CHEST", DX, True),
        ("CR", None, "1.2.840.10008.5.1.4.1.1.1", True),
        ("DX", "chest", DX, True),
        ("DX", "THORAX", DX, True),
        ("OT", "CHEST", DX, True),  # DX-like: a Digital X-Ray object whatever its Modality says
        ("DX", "KNEE", DX, False),
        ("CT", "CHEST", CT, False),
        ("MR", None, "1.2.840.10008.5.1.4.1.1.4", False),
    ],
)
def test_the_built_in_rules_send_chest_radiographs_to_both_chest_tasks(
    modality: str | None, body_part: str | None, sop_class: str, routed: bool
) -> None:
    assert _routed(modality, body_part, sop_class) is routed
    for task in ("cxr-tuberculosis", "cxr-pneumonia"):
        rules = [rule for rule in DEFAULT_RULES if rule.task == task]
        assert any(rule.matches(modality, body_part, [sop_class], 40.0) for rule in rules) is routed
    # Tuberculosis only for patients known to be 15 or older (its model is not for children).
    tb = [rule for rule in DEFAULT_RULES if rule.task == "cxr-tuberculosis"]
    for age in (None, 4.0, 14.9):
        assert not any(rule.matches(modality, body_part, [sop_class], age) for rule in tb)
    # Pneumonia last: its job is the newest, which the worklist shows.
    assert [rule.task for rule in DEFAULT_RULES][-1] == "cxr-pneumonia"


def test_rule_files_are_validated_at_start_up(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"rules": [{"task": "cxr-pneumonia", "modalities": ["DX"], "body_parts": [""]}]}))
    (rule,) = load_rules(rules)
    assert rule == RoutingRule(task="cxr-pneumonia", modalities=("DX",), body_parts=("",))
    assert rule.matches("DX", None, [DX])
    assert not rule.matches("DX", "CHEST", [DX])
    assert load_rules(None) == DEFAULT_RULES
    for bad in ("{", json.dumps({"rules": [{"task": "cxr-pneumonia", "modality": "DX"}]})):
        rules.write_text(bad)
        with pytest.raises(UsageError, match="not a valid rule file"):
            load_rules(rules)
    rules.write_text(json.dumps({"rules": [{"task": "knee-oa"}]}))
    with pytest.raises(UsageError, match="unknown task"):
        load_rules(rules)
    with pytest.raises(UsageError, match="cannot read"):
        load_rules(tmp_path / "missing.json")


@pytest.fixture
def context(tmp_path: Path) -> Iterator[ServiceContext]:
    opened = ServiceContext.open(ServiceSettings(data_dir=tmp_path / "var", analysis_workers=0))
    try:
        yield opened
    finally:
        opened.close()


def test_arrivals_that_match_queue_one_job_per_series_and_task_for_the_sender(
    context: ServiceContext, tmp_path: Path, pydicom_test_files: Path
) -> None:
    assert any(isinstance(listener, Router) for listener in context.ingest_listeners)
    adult = {"PatientBirthDate": "19800101", "StudyDate": "20260101"}
    chest = [context.store.ingest(with_uids(data, **adult)) for data in synthetic_chest_series(tmp_path, 2)]
    child = [
        context.store.ingest(with_uids(data, PatientID="CHILD-1", PatientBirthDate="20220301", StudyDate="20260101"))
        for data in synthetic_chest_series(tmp_path, 1, seed=11)
    ]
    knee = context.store.ingest(with_uids(synthetic_chest_series(tmp_path, 1, seed=9)[0], BodyPartExamined="KNEE"))
    ct = context.store.ingest((pydicom_test_files / "CT_small.dcm").read_bytes())
    context.notify_ingested([*chest, knee, ct], SENDER)
    context.notify_ingested(chest, SENDER)  # sent again: the same job
    jobs = context.jobs.jobs.search()
    # One job per chest task for the chest series (newest first: pneumonia was queued last).
    assert [job.task for job in jobs] == ["cxr-pneumonia", "cxr-tuberculosis"]
    context.notify_ingested(child, SENDER)  # a 3-year-old: pneumonia only
    assert [job.task for job in context.jobs.jobs.search(study_instance_uids=[child[0].study_instance_uid])] == [
        "cxr-pneumonia"
    ]
    for job in jobs:
        assert job.study_instance_uid == chest[0].study_instance_uid
        assert job.series_instance_uid == chest[0].series_instance_uid
        assert job.requested_by == SENDER.actor
        assert len(job.inputs) == 2


def test_no_router_when_auto_analyze_is_off(tmp_path: Path) -> None:
    opened = ServiceContext.open(ServiceSettings(data_dir=tmp_path / "var", auto_analyze=False))
    try:
        assert not any(isinstance(listener, Router) for listener in opened.ingest_listeners)
    finally:
        opened.close()


def test_age_at_study() -> None:
    assert age_at_study("19800101", "20260101") == pytest.approx(46.0, abs=0.01)
    assert age_at_study("20220301", "20260101") == pytest.approx(3.84, abs=0.01)
    for born, seen in ((None, "20260101"), ("1980", "20260101"), ("20270101", "20260101"), ("", "")):
        assert age_at_study(born, seen) is None
