"""Analysis jobs against a real server: STOW in, routed job, results out; crash and restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from tests.data.chest_dicom import kermany_chest, synthetic_chest_series, with_uids
from tests.integration.server.dicomweb_data import multipart
from tests.integration.server.live import LiveServer

from medsight.io.dicom.sr import read_sr_items
from medsight.settings import StoreSettings
from medsight.store import Store
from medsight.store.jobs import Jobs

pytestmark = pytest.mark.integration

FINISHED = {"done", "refused", "failed"}


def _chest(folder: Path) -> bytes:
    data = kermany_chest(folder, label=1)
    if data is None:
        pytest.skip("../shared/datasets/chest_xray_pneumonia_224 is absent (a real chest X-ray is needed)")
    # An adult on paper, so routing runs both chest tasks (TB only from 15 years: services.routing).
    return with_uids(data, PatientBirthDate="19800101", StudyDate="20260101")


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _watch(server: LiveServer, token: str, job_id: str, timeout_s: float = 90) -> tuple[list[str], dict[str, Any]]:
    """Poll a job until it finishes; the statuses seen, in order, and the last answer."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = httpx.get(f"{server.url}/api/v1/analyses/{job_id}", headers=_headers(token)).json()
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if job["status"] in FINISHED:
            return seen, job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still {seen[-1]} after {timeout_s} s:\n{server.log()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(data_dir=tmp_path_factory.mktemp("jobs") / "var", extra_env={"MEDSIGHT_ANALYSIS_WORKERS": "1"})
    live.start()
    try:
        yield live
    finally:
        live.stop()


def test_a_stored_chest_x_ray_is_routed_analysed_and_reported(server: LiveServer, tmp_path: Path) -> None:
    chest = _chest(tmp_path)
    token = server.token("--role", "radiologist")
    body, content_type = multipart([(chest, "application/dicom")])
    stored = httpx.post(
        f"{server.url}/dicomweb/studies", content=body, headers={**_headers(token), "Content-Type": content_type}
    )
    assert stored.status_code == 200, stored.text
    from medsight.io.dicom.index import index_record

    record = index_record(chest)
    study, series = record.study_instance_uid, record.series_instance_uid
    # The routing rules queued one job per chest task on arrival (CR/DX chest -> both), newest first.
    listed = httpx.get(f"{server.url}/api/v1/analyses", params={"study_uid": study}, headers=_headers(token)).json()
    assert [j["task"] for j in listed] == ["cxr-pneumonia", "cxr-tuberculosis"]
    job_id = listed[0]["id"]
    seen, job = _watch(server, token, job_id)
    assert seen[0] in ("queued", "running")
    assert seen[-1] == "done", job
    assert seen == [s for s in ("queued", "running", "done") if s in seen]
    result = job["result"]
    assert {"task", "model", "threshold", "probability", "label", "uncertainty", "heatmap", "path"} <= set(result)
    assert result["model"]["name"] == "cxr-pneumonia-224"
    assert result["label"] == "pneumonia"

    # The same request again is the same job (idempotent per images, task, model version).
    for request in (
        {"study_uid": study, "task": "cxr-pneumonia"},
        {"study_uid": study, "series_uid": series, "task": "cxr-pneumonia"},
    ):
        again = httpx.post(f"{server.url}/api/v1/analyses", json=request, headers=_headers(token))
        assert again.status_code == 202
        assert again.json()["id"] == job_id
        assert again.json()["status"] == "done"

    heatmap = httpx.get(f"{server.url}{job['links']['heatmap']}", headers=_headers(token))
    assert heatmap.headers["content-type"] == "image/png"
    assert heatmap.content.startswith(b"\x89PNG")
    fhir = httpx.get(f"{server.url}/fhir/DiagnosticReport/{job_id}", headers=_headers(token))
    assert fhir.headers["content-type"].startswith("application/fhir+json")
    report = DiagnosticReport.model_validate(fhir.json())
    assert report.status == "preliminary"
    assert report.imagingStudy[0].identifier.value == f"urn:oid:{study}"

    # Each job's SR is in the study, as its own series, for any DICOM viewer.
    _seen_tb, tb_job = _watch(server, token, listed[1]["id"])
    assert tb_job["status"] in ("done", "refused"), tb_job
    series_list = httpx.get(
        f"{server.url}/dicomweb/studies/{study}/series", headers={**_headers(token), "Accept": "application/dicom+json"}
    ).json()
    reports = 2 if tb_job["status"] == "done" else 1
    assert sorted(item["00080060"]["Value"][0] for item in series_list) == ["DX", *["SR"] * reports]
    store = Store.open(StoreSettings(data_dir=server.data_dir), upgrade=False)
    try:
        items = dict(read_sr_items(store.open_instance(job["report"]["sop_instance_uid"])))
    finally:
        store.close()
    assert items["Probability"] == f"{result['probability']} 1"
    assert items["Algorithm Name"] == "cxr-pneumonia-224"
    # Job ids, statuses and counts in the log; never a UID.
    log = server.log()
    assert f"job {job_id} done" in log
    assert study not in log
    assert series not in log
    assert record.sop_instance_uid not in log  # highdicom names the source instance at INFO


def _seed(data_dir: Path, objects: list[bytes]) -> str:
    """Put objects in the store of a server that is not running; the study's UID."""
    store = Store.open(StoreSettings(data_dir=data_dir))
    try:
        results = [store.ingest(data) for data in objects]
        return results[0].study_instance_uid
    finally:
        store.close()


def test_a_job_running_when_the_server_is_killed_is_finished_after_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    chest = kermany_chest(tmp_path) or synthetic_chest_series(tmp_path, 1)[0]
    # Several images, so the first run (which also loads the model) is long enough to kill.
    study = _seed(
        data_dir, [with_uids(chest, study="2.25.1", series="2.25.2", SOPInstanceUID=f"2.25.3{i}") for i in range(12)]
    )
    env = {"MEDSIGHT_JOB_LEASE_S": "2", "MEDSIGHT_ANALYSIS_WORKERS": "1", "MEDSIGHT_AUTO_ANALYZE": "false"}
    first = LiveServer(data_dir=data_dir, extra_env=env).start()
    token = first.token("--role", "admin")
    try:
        submitted = httpx.post(
            f"{first.url}/api/v1/analyses", json={"study_uid": study, "task": "cxr-pneumonia"}, headers=_headers(token)
        )
        assert submitted.status_code == 202
        job_id = submitted.json()["id"]
        deadline = time.monotonic() + 60
        while httpx.get(f"{first.url}/api/v1/analyses/{job_id}", headers=_headers(token)).json()["status"] != "running":
            assert time.monotonic() < deadline, first.log()
            time.sleep(0.01)
    finally:
        first.kill()
    store = Store.open(StoreSettings(data_dir=data_dir), upgrade=False)
    try:
        assert Jobs(store.sessions).get(job_id).status.value == "running"  # killed mid-job
    finally:
        store.close()

    second = LiveServer(data_dir=data_dir, extra_env=env).start()
    try:
        _seen, job = _watch(second, token, job_id)
    finally:
        second.stop()
    assert job["status"] in ("done", "refused"), job
    assert job["attempts"] == 2  # the killed run, then the one that finished
    assert "expired leases: 1 job(s) re-queued" in second.log()


def test_sigterm_finishes_or_releases_the_running_job(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    study = _seed(data_dir, synthetic_chest_series(tmp_path, 3))
    env = {"MEDSIGHT_ANALYSIS_WORKERS": "1", "MEDSIGHT_AUTO_ANALYZE": "false"}
    server = LiveServer(data_dir=data_dir, extra_env=env).start()
    token = server.token("--role", "admin")
    submitted = httpx.post(
        f"{server.url}/api/v1/analyses", json={"study_uid": study, "task": "cxr-pneumonia"}, headers=_headers(token)
    )
    job_id = submitted.json()["id"]
    assert server.stop() in (0, -15)
    assert "analysis workers stopped" in server.log()
    store = Store.open(StoreSettings(data_dir=data_dir), upgrade=False)
    try:
        status = Jobs(store.sessions).get(job_id).status.value
    finally:
        store.close()
    assert status in ("queued", "refused", "done")  # never left running
