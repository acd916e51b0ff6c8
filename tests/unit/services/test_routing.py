"""Routing rules: the built-in chest X-ray rule, rule files, and the ingest listener."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.data.chest_dicom import synthetic_chest_series, with_uids
from tests.data.synthetic_mr import write_mr_series

from medsight.access import Principal, Role
from medsight.errors import UsageError
from medsight.services.context import ServiceContext
from medsight.services.routing import DEFAULT_RULES, NO_RULE, Router, RoutingRule, age_at_study, load_rules
from medsight.services.worklist import WorklistRequest, worklist, worklist_json
from medsight.settings import ServiceSettings
from medsight.store import IngestResult

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


MR = "1.2.840.10008.5.1.4.1.1.4"


def _brain_routed(description: str | None, body_part: str | None = "BRAIN", instances: int = 24) -> list[str]:
    return [
        rule.task
        for rule in DEFAULT_RULES
        if rule.matches("MR", body_part, [MR], None, description=description, instances=instances)
    ]


@pytest.mark.parametrize(
    ("description", "body_part", "instances", "routed"),
    [
        ("AX FLAIR", "BRAIN", 24, True),
        ("Ax T2 FLAIR", "HEAD", 30, True),
        ("t2_tirm_tra_dark-fluid", None, 24, True),  # Siemens' name; body part not recorded
        ("FLAIR_AX_FS", "brain", 8, True),
        ("AX FLAIR", "BRAIN", 7, False),  # thinner than the task's thinnest volume
        ("SAG 3D FLAIR", "BRAIN", 176, False),  # another plane
        ("t2_tirm_cor_dark-fluid", "HEAD", 24, False),
        ("AX T1 POST", "BRAIN", 24, False),  # another sequence
        (None, "BRAIN", 24, False),  # no description: nothing says it is FLAIR
        ("AX FLAIR", "KNEE", 24, False),
    ],
)
def test_the_built_in_rules_send_axial_flair_head_series_to_the_brain_tumour_task(
    description: str | None, body_part: str | None, instances: int, routed: bool
) -> None:
    assert _brain_routed(description, body_part, instances) == (["mri-brain-tumour"] if routed else [])
    # Never an MR series to a chest task, nor to the hippocampus task (no built-in rule: NO_RULE).
    assert not any(rule.matches("CT", body_part, [CT], 40.0, description=description) for rule in DEFAULT_RULES)
    assert "mri-hippocampus" not in {rule.task for rule in DEFAULT_RULES}
    assert "mri-hippocampus" in NO_RULE


def test_an_axial_flair_series_is_routed_to_the_brain_tumour_task_and_others_are_not(
    context: ServiceContext, tmp_path: Path
) -> None:
    def stored(name: str, seed: int, **kwargs: Any) -> list[IngestResult]:
        paths = write_mr_series(tmp_path / name, seed=seed, **kwargs)
        return [context.store.ingest(path.read_bytes()) for path in paths]

    flair = stored("flair", 1, description="AX FLAIR")
    others = [
        *stored("sag", 2, description="SAG FLAIR"),
        *stored("t1", 3, description="AX T1"),
        *stored("thin", 4, slices=4, description="AX FLAIR"),
    ]
    context.notify_ingested([*flair, *others], SENDER)
    assert context.jobs.jobs.search() == []  # a volume task waits for the series to be stable
    assert context.router is not None
    assert context.router.route_stable(datetime.now(UTC) + timedelta(seconds=31)) == 1
    jobs = context.jobs.jobs.search()
    assert [(job.task, job.series_instance_uid) for job in jobs] == [("mri-brain-tumour", flair[0].series_instance_uid)]
    assert len(jobs[0].inputs) == 8
    assert jobs[0].requested_by == SENDER.actor


class _Clock:
    """The job service's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_a_series_sent_one_instance_per_request_is_segmented_once_when_it_is_stable(
    context: ServiceContext, tmp_path: Path
) -> None:
    clock = context.jobs.clock = _Clock()
    router = context.router
    assert router is not None
    assert router.stable_s == 30.0
    slices = [context.store.ingest(path.read_bytes()) for path in write_mr_series(tmp_path / "flair", seed=5)]
    chest = context.store.ingest(with_uids(synthetic_chest_series(tmp_path, 1, seed=6)[0]))
    for number, stored in enumerate(slices, start=1):
        context.notify_ingested([stored], SENDER)
        clock.advance(20)  # the next instance comes within the quiet time
        assert router.route_stable() == 0, f"routed after {number} instance(s)"
        if number == 4:  # an image task in between is routed at arrival, as before
            context.notify_ingested([chest], SENDER)
            assert [job.task for job in context.jobs.jobs.search()] == ["cxr-pneumonia"]
    (waiting,) = router.pending.waiting()
    assert (waiting.series_instance_uid, waiting.actor) == (slices[0].series_instance_uid, SENDER.actor)
    clock.advance(9)  # 29 s after the last instance
    assert router.route_stable() == 0
    clock.advance(2)
    assert router.route_stable() == 1
    assert router.route_stable() == 0  # taken: routed once
    (job,) = context.jobs.jobs.search(study_instance_uids=[slices[0].study_instance_uid])
    assert (job.task, len(job.inputs), job.requested_by) == ("mri-brain-tumour", 8, SENDER.actor)
    assert router.pending.waiting() == []


def test_series_the_sender_calls_complete_and_a_zero_quiet_time_route_at_arrival(
    context: ServiceContext, tmp_path: Path
) -> None:
    flair = [context.store.ingest(path.read_bytes()) for path in write_mr_series(tmp_path / "a", seed=7)]
    context.notify_ingested(flair, SENDER, complete=True)
    assert [job.task for job in context.jobs.jobs.search()] == ["mri-brain-tumour"]
    router = Router(context.jobs, DEFAULT_RULES, stable_s=0)
    other = [context.store.ingest(path.read_bytes()) for path in write_mr_series(tmp_path / "b", seed=8)]
    router(other, SENDER)
    assert len(context.jobs.jobs.search()) == 2
    assert router.pending.waiting() == []


def test_only_series_a_waiting_rule_may_take_wait(context: ServiceContext, tmp_path: Path) -> None:
    assert context.router is not None
    few = [context.store.ingest(p.read_bytes()) for p in write_mr_series(tmp_path / "few", slices=3, seed=9)]
    t1 = [context.store.ingest(p.read_bytes()) for p in write_mr_series(tmp_path / "t1", seed=10, description="AX T1")]
    chest = [context.store.ingest(data) for data in synthetic_chest_series(tmp_path, 1, seed=12)]
    context.notify_ingested([*few, *t1, *chest], SENDER)
    # Three slices so far may become a volume; an AX T1 series or a chest film never will.
    assert [route.series_instance_uid for route in context.router.pending.waiting()] == [few[0].series_instance_uid]


def test_waiting_series_outlive_a_restart(tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmp_path / "var", analysis_workers=0)
    first = ServiceContext.open(settings)
    try:
        flair = [first.store.ingest(path.read_bytes()) for path in write_mr_series(tmp_path / "flair", seed=13)]
        first.notify_ingested(flair, SENDER)
    finally:
        first.close()
    second = ServiceContext.open(settings)
    try:
        assert second.router is not None
        assert second.router.route_stable(datetime.now(UTC) + timedelta(seconds=31)) == 1
        (job,) = second.jobs.jobs.search()
        assert (job.task, len(job.inputs)) == ("mri-brain-tumour", 8)
    finally:
        second.close()


def test_the_worklist_says_which_studies_wait_for_a_series_to_be_complete(
    context: ServiceContext, tmp_path: Path
) -> None:
    reader = Principal("reader", Role.RADIOLOGIST, "t2")

    def waiting_by_study() -> dict[str, tuple[bool, str | None]]:
        page = worklist_json(worklist(context, reader, WorklistRequest()), WorklistRequest(), reader)
        return {
            item["study_uid"]: (item["waiting"], item["analysis"] and item["analysis"]["task"])
            for item in page["items"]
        }

    flair = [context.store.ingest(path.read_bytes()) for path in write_mr_series(tmp_path / "flair", seed=15)]
    chest = context.store.ingest(with_uids(synthetic_chest_series(tmp_path, 1, seed=16)[0]))
    context.notify_ingested([*flair[:6], chest], SENDER)
    mri, film = flair[0].study_instance_uid, chest.study_instance_uid
    assert waiting_by_study() == {mri: (True, None), film: (False, "cxr-pneumonia")}
    context.notify_ingested(flair[6:], SENDER)
    assert context.router is not None
    context.router.route_stable(datetime.now(UTC) + timedelta(seconds=31))
    assert waiting_by_study()[mri] == (False, "mri-brain-tumour")
