"""The worklist and feedback use cases on both backends: filters, sort, pages, referrers, verdicts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydicom.uid import generate_uid
from tests.data.synthetic import write_ct_series
from tests.unit.store.conftest import _variant

from medsight.access import Principal, Role
from medsight.errors import PermissionDeniedError, UnknownResourceError, UsageError
from medsight.services.accounts import AccessService
from medsight.services.context import ServiceContext
from medsight.services.feedback import give_feedback, job_feedback
from medsight.services.jobs import AnalysisRequest, JobService
from medsight.services.triage import UNCERTAIN_REASONS
from medsight.services.worklist import WorklistRequest, worklist, worklist_json
from medsight.settings import ServiceSettings
from medsight.store import Store
from medsight.store.accounts import Accounts
from medsight.store.jobs import JobOutcome, JobStatus

RADIOLOGIST = Principal("dr.ada", Role.RADIOLOGIST, "t1")
REFERRER = Principal("clinic", Role.REFERRER, "t2")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def context(store: Store, tmp_path: Path) -> ServiceContext:
    settings = ServiceSettings(data_dir=tmp_path / "var", analysis_workers=0, auto_analyze=False)
    access = AccessService(Accounts(store.sessions))
    jobs = JobService(store, access, settings, model_for=lambda task: "cxr-pneumonia-28")
    return ServiceContext(settings=settings, store=store, access=access, jobs=jobs)


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_ct_series(tmp_path_factory.mktemp("ct"), slices=1, rows=8, columns=8)[0].read_bytes()


def _study(context: ServiceContext, ct: bytes, **attributes: str) -> str:
    study = generate_uid()
    data = _variant(
        ct, StudyInstanceUID=study, SeriesInstanceUID=generate_uid(), SOPInstanceUID=generate_uid(), **attributes
    )
    context.store.ingest(data)
    return study


def _finish(context: ServiceContext, study: str, outcome: JobOutcome, task: str = "cxr-pneumonia") -> str:
    job, _ = context.jobs.submit_as(AnalysisRequest(study, None, task), "dr.ada")
    claimed = context.jobs.jobs.claim("worker", NOW, 60.0)
    assert claimed is not None
    assert claimed.job_id == job.job_id
    assert context.jobs.finish(job.job_id, "worker", outcome, NOW)  # the service adds the triage flags
    return job.job_id


@pytest.fixture
def three(context: ServiceContext, ct: bytes) -> dict[str, str]:
    """Three studies: one scored, one refused, one never analysed."""
    studies = {
        "scored": _study(
            context,
            ct,
            PatientName="ALPHA^ANN",
            PatientID="P1",
            StudyDate="20260101",
            StudyDescription="Chest PA",
            Modality="DX",
        ),
        "refused": _study(
            context,
            ct,
            PatientName="BETA^BOB",
            PatientID="P2",
            StudyDate="20260301",
            StudyDescription="Chest AP",
            Modality="CR",
        ),
        "plain": _study(
            context,
            ct,
            PatientName="GAMMA^GIL",
            PatientID="P3",
            StudyDate="20260201",
            StudyDescription="Head",
            Modality="CT",
        ),
    }
    scored = {"task": "cxr-pneumonia", "probability": 0.83, "label": "pneumonia", "threshold": 0.5}
    _finish(context, studies["scored"], JobOutcome(JobStatus.DONE, result=scored))
    refused = {
        "task": "cxr-pneumonia",
        "refused": {"code": "input.out_of_distribution", "check": "modality", "reason": "not a chest radiograph"},
    }
    _finish(context, studies["refused"], JobOutcome(JobStatus.REFUSED, result=refused))
    context.access.accounts.record_submitter(studies["plain"], REFERRER.actor)
    return studies


def _uids(context: ServiceContext, principal: Principal = RADIOLOGIST, **query: object) -> list[str]:
    page = worklist(context, principal, WorklistRequest(**query))  # type: ignore[arg-type]
    return [row.study_instance_uid for row in page.rows]


def test_rows_carry_the_latest_analysis_and_sort_by_date(context: ServiceContext, three: dict[str, str]) -> None:
    assert _uids(context) == [three["refused"], three["plain"], three["scored"]]
    assert _uids(context, order="asc") == [three["scored"], three["plain"], three["refused"]]
    request = WorklistRequest()
    shown = worklist_json(worklist(context, RADIOLOGIST, request), request, RADIOLOGIST)
    by_patient = {item["patient_name"]: item for item in shown["items"]}
    assert shown["total"] == 3
    assert by_patient["ALPHA^ANN"]["analysis"] | {"id": None} == {
        "id": None,
        "status": "done",
        "task": "cxr-pneumonia",
        "finding": "pneumonia",
        "probability": 0.83,
        "threshold": 0.5,
        "refused": None,
        "error": None,
    }
    assert by_patient["BETA^BOB"]["analysis"]["refused"] == "not a chest radiograph"
    assert by_patient["GAMMA^GIL"]["analysis"] is None
    assert [(a["positive"], a["uncertain"]) for a in by_patient["ALPHA^ANN"]["analyses"]] == [(True, False)]
    assert [(a["positive"], a["uncertain"]) for a in by_patient["BETA^BOB"]["analyses"]] == [(None, False)]
    assert by_patient["GAMMA^GIL"]["analyses"] == []
    assert by_patient["ALPHA^ANN"]["modalities"] == ["DX"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "done"}, ["scored"]),
        ({"status": "refused"}, ["refused"]),
        ({"status": "none"}, ["plain"]),
        ({"modality": "ct"}, ["plain"]),
        ({"date_from": "2026-01-15", "date_to": "2026-02-28"}, ["plain"]),
        ({"date_from": "20260201"}, ["refused", "plain"]),
        ({"text": "beta"}, ["refused"]),
        ({"text": "p3"}, ["plain"]),
        ({"text": "chest"}, ["refused", "scored"]),
        ({"text": "100%_"}, []),
        ({"sort": "patient", "order": "asc"}, ["scored", "refused", "plain"]),
        ({"sort": "status", "order": "asc"}, ["scored", "refused", "plain"]),
    ],
)
def test_filters_and_sorts_run_in_the_database(
    context: ServiceContext, three: dict[str, str], query: dict[str, str], expected: list[str]
) -> None:
    assert _uids(context, **query) == [three[name] for name in expected]


def test_pages_are_stable_and_counted(context: ServiceContext, three: dict[str, str]) -> None:
    first = worklist(context, RADIOLOGIST, WorklistRequest(limit=2))
    second = worklist(context, RADIOLOGIST, WorklistRequest(limit=2, offset=2))
    assert first.total == second.total == 3
    assert [r.study_instance_uid for r in first.rows + second.rows] == _uids(context)


def test_a_referrer_sees_only_the_studies_it_sent(context: ServiceContext, three: dict[str, str]) -> None:
    assert _uids(context, REFERRER) == [three["plain"]]
    assert worklist(context, REFERRER, WorklistRequest()).total == 1


@pytest.mark.parametrize(
    "query",
    [
        {"status": "lost"},
        {"sort": "size"},
        {"order": "up"},
        {"date_from": "2026-13"},
        {"limit": 0},
        {"offset": -1},
        {"flag": "red"},
    ],
)
def test_a_malformed_query_is_a_usage_error(context: ServiceContext, query: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        worklist(context, RADIOLOGIST, WorklistRequest(**query))  # type: ignore[arg-type]


def test_feedback_is_appended_and_read_back(context: ServiceContext, three: dict[str, str]) -> None:
    job = context.jobs.search(RADIOLOGIST, three["scored"])[0].job_id
    give_feedback(context, job, RADIOLOGIST, "Disagree", "  looks like atelectasis ")
    give_feedback(context, job, RADIOLOGIST, "agree", None)
    given = job_feedback(context, job, RADIOLOGIST)
    assert [(f.verdict.value, f.comment, f.actor) for f in given] == [
        ("disagree", "looks like atelectasis", "dr.ada"),
        ("agree", None, "dr.ada"),
    ]
    assert "atelectasis" not in repr(given)


def test_feedback_is_refused_when_it_cannot_apply(context: ServiceContext, three: dict[str, str]) -> None:
    job = context.jobs.search(RADIOLOGIST, three["scored"])[0].job_id
    with pytest.raises(UsageError, match="agree or disagree"):
        give_feedback(context, job, RADIOLOGIST, "maybe", None)
    with pytest.raises(UsageError, match="at most"):
        give_feedback(context, job, RADIOLOGIST, "agree", "x" * 2001)
    with pytest.raises(PermissionDeniedError):
        give_feedback(context, job, REFERRER, "agree", None)
    with pytest.raises(PermissionDeniedError):
        job_feedback(context, job, REFERRER)
    with pytest.raises(UnknownResourceError):
        give_feedback(context, "nope", RADIOLOGIST, "agree", None)
    queued, _ = context.jobs.submit_as(AnalysisRequest(three["plain"], None, "cxr-pneumonia"), "dr.ada")
    with pytest.raises(UsageError, match="no result yet"):
        give_feedback(context, queued.job_id, RADIOLOGIST, "agree", None)


def test_each_task_shows_its_latest_analysis_with_triage_flags(context: ServiceContext, ct: bytes) -> None:
    """A chest film gets a tuberculosis and a pneumonia job: the worklist must show both
    findings, not only the one queued last, and flag where a person should look closely."""
    patient = {"PatientName": "DELTA^DAN", "PatientID": "P4", "StudyDate": "20260401", "Modality": "DX"}
    study = _study(context, ct, **patient)
    members = {"n": 3, "positive": 2, "unanimous": False, "spread": 0.3, "probabilities": [0.4, 0.7, 0.8]}
    tuberculosis = {
        "task": "cxr-tuberculosis",
        "probability": 0.71,
        "threshold": 0.55,
        "label": "tuberculosis",
        "uncertainty": {"ambiguous": True, "members": members},
    }
    _finish(context, study, JobOutcome(JobStatus.DONE, result=tuberculosis), task="cxr-tuberculosis")
    first = {"task": "cxr-pneumonia", "probability": 0.9, "threshold": 0.5, "label": "pneumonia"}
    _finish(context, study, JobOutcome(JobStatus.DONE, result=first | {"uncertainty": {"ambiguous": False}}))
    # A second film of the study: its pneumonia job (both films) supersedes the first.
    second = _variant(ct, StudyInstanceUID=study, SeriesInstanceUID=generate_uid(), SOPInstanceUID=generate_uid())
    context.store.ingest(_variant(second, PatientName="DELTA^DAN", PatientID="P4", StudyDate="20260401"))
    latest = {"task": "cxr-pneumonia", "probability": 0.2, "threshold": 0.5, "label": "normal"}
    _finish(context, study, JobOutcome(JobStatus.DONE, result=latest | {"uncertainty": {"ambiguous": False}}))

    request = WorklistRequest()
    shown = worklist_json(worklist(context, RADIOLOGIST, request), request, RADIOLOGIST)
    (item,) = [item for item in shown["items"] if item["study_uid"] == study]
    assert item["analysis"]["finding"] == "normal"  # the newest job: what status filter and sort read
    keys = ("task", "finding", "positive", "uncertain", "uncertain_reasons")
    assert [tuple(a[key] for key in keys) for a in item["analyses"]] == [
        ("cxr-tuberculosis", "tuberculosis", True, True, ["prediction_set", "members_split"]),
        ("cxr-pneumonia", "normal", False, False, []),
    ]
    assert set(UNCERTAIN_REASONS) == {"prediction_set", "members_split"}


def test_the_worklist_filters_and_sorts_on_triage_flags(
    context: ServiceContext, ct: bytes, three: dict[str, str]
) -> None:
    """Flags come from the newest job of each task: a positive result superseded by a
    normal one no longer flags its study; a study with a positive and uncertain finding
    comes first when sorted by priority."""
    superseded = _study(context, ct, PatientName="EPSILON^EVE", PatientID="P5", StudyDate="20260501", Modality="DX")
    was = {"task": "cxr-pneumonia", "probability": 0.9, "threshold": 0.5, "label": "pneumonia"}
    _finish(context, superseded, JobOutcome(JobStatus.DONE, result=was))
    context.store.ingest(
        _variant(ct, StudyInstanceUID=superseded, SeriesInstanceUID=generate_uid(), SOPInstanceUID=generate_uid())
    )
    now = {"task": "cxr-pneumonia", "probability": 0.1, "threshold": 0.5, "label": "normal"}
    _finish(context, superseded, JobOutcome(JobStatus.DONE, result=now))
    doubtful = _study(context, ct, PatientName="ZETA^ZOE", PatientID="P6", StudyDate="20250101", Modality="DX")
    members = {"n": 3, "positive": 1, "unanimous": False}
    split = {"task": "cxr-tuberculosis", "probability": 0.3, "threshold": 0.55, "label": "normal"}
    _finish(context, doubtful, JobOutcome(JobStatus.DONE, result=split | {"uncertainty": {"members": members}}))

    assert set(_uids(context, flag="positive")) == {three["scored"]}
    assert set(_uids(context, flag="uncertain")) == {doubtful}
    assert set(_uids(context, flag="flagged")) == {three["scored"], doubtful}
    assert _uids(context, flag="flagged", status="refused") == []
    by_priority = _uids(context, sort="priority")
    assert by_priority[:2] == [three["scored"], doubtful]  # positive, then uncertain
    assert by_priority[2:] == [superseded, three["refused"], three["plain"]]  # the rest, newest first
    assert _uids(context, sort="priority", order="asc")[-2:] == [doubtful, three["scored"]]
