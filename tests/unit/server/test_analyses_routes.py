"""/api/v1/analyses and /fhir/DiagnosticReport through the app (a job run in-process)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from tests.data.chest_dicom import synthetic_chest_series
from tests.data.synthetic_mr import write_mr_series
from tests.unit.server.conftest import auth

from medsight.access import Principal, Role
from medsight.server import create_app
from medsight.services.analysis import JobRunner
from medsight.services.context import ServiceContext
from medsight.services.jobs import HeatmapKind
from medsight.settings import ServiceSettings
from medsight.store.sealed import is_sealed


def _run_queued(context: ServiceContext) -> None:
    job = context.jobs.jobs.claim("test-worker", context.jobs.clock(), 30)
    assert job is not None
    outcome = JobRunner(context.jobs).run(job, lambda: True)
    assert context.jobs.jobs.finish(job.job_id, "test-worker", outcome, context.jobs.clock())


def test_submit_poll_and_fetch_every_result_form(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], tmp_path: Path, tiny_bundle: Path
) -> None:
    context.jobs.model_for = lambda task: tiny_bundle
    study = context.store.ingest(synthetic_chest_series(tmp_path, 3)[0]).study_instance_uid
    body = {"study_uid": study, "task": "cxr-pneumonia"}
    radiologist = auth(tokens[Role.RADIOLOGIST])
    created = client.post("/api/v1/analyses", json=body, headers=radiologist)
    assert created.status_code == 202
    job = created.json()
    assert job["status"] == "queued"
    assert created.headers["location"] == f"/api/v1/analyses/{job['id']}"
    again = client.post("/api/v1/analyses", json=body, headers=radiologist)
    assert again.status_code == 202
    assert again.json()["id"] == job["id"]
    assert client.get(f"/api/v1/analyses/{job['id']}/heatmap", headers=radiologist).status_code == 404

    _run_queued(context)
    done = client.get(f"/api/v1/analyses/{job['id']}", headers=radiologist).json()
    assert done["status"] == "done", done
    assert {"probability", "label", "uncertainty", "threshold", "model", "heatmap"} <= set(done["result"])
    assert done["model"]["saliency_audit"] is None  # the tiny model's heatmaps were never audited
    assert done["report"]["sop_instance_uid"]
    listed = client.get("/api/v1/analyses", params={"study_uid": study}, headers=radiologist).json()
    assert [j["id"] for j in listed] == [job["id"]]
    heatmap = client.get(done["links"]["heatmap"], headers=radiologist)
    assert heatmap.headers["content-type"] == "image/png"
    assert heatmap.content.startswith(b"\x89PNG")
    fhir = client.get(f"/fhir/DiagnosticReport/{job['id']}", headers=radiologist)
    assert fhir.status_code == 200
    assert fhir.headers["content-type"].startswith("application/fhir+json")
    report = DiagnosticReport.model_validate(fhir.json())
    assert report.id == job["id"]


def test_scopes_and_the_referrers_own_studies_rule(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], tmp_path: Path
) -> None:
    study = context.store.ingest(synthetic_chest_series(tmp_path, 1)[0]).study_instance_uid
    body = {"study_uid": study, "task": "cxr-pneumonia"}
    assert client.post("/api/v1/analyses", json=body).status_code == 401
    assert client.post("/api/v1/analyses", json=body, headers=auth(tokens[Role.DEVICE])).status_code == 403
    assert client.get("/api/v1/analyses", headers=auth(tokens[Role.AUDITOR])).status_code == 403
    referrer = auth(tokens[Role.REFERRER])
    denied = client.post("/api/v1/analyses", json=body, headers=referrer)
    assert denied.status_code == 403
    assert denied.json()["code"] == "access.forbidden"
    job = client.post("/api/v1/analyses", json=body, headers=auth(tokens[Role.ADMIN])).json()
    assert client.get(f"/api/v1/analyses/{job['id']}", headers=referrer).status_code == 403
    assert client.get(f"/fhir/DiagnosticReport/{job['id']}", headers=referrer).status_code == 403
    assert client.get("/api/v1/analyses", headers=referrer).json() == []
    missing = client.get("/api/v1/analyses/0123456789abcdef", headers=auth(tokens[Role.ADMIN]))
    assert missing.status_code == 404
    assert missing.json()["code"] == "resource.not_found"
    unknown_task = client.post("/api/v1/analyses", json={**body, "task": "knee"}, headers=auth(tokens[Role.ADMIN]))
    assert unknown_task.status_code == 400
    no_study = client.post("/api/v1/analyses", json={**body, "study_uid": "1.2.3.4"}, headers=auth(tokens[Role.ADMIN]))
    assert no_study.status_code == 404


def test_the_heat_only_heatmap_is_rgba_with_the_same_rules(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], tmp_path: Path, tiny_bundle: Path
) -> None:
    context.jobs.model_for = lambda task: tiny_bundle
    study = context.store.ingest(synthetic_chest_series(tmp_path, 1)[0]).study_instance_uid
    admin = auth(tokens[Role.ADMIN])
    job = client.post("/api/v1/analyses", json={"study_uid": study, "task": "cxr-pneumonia"}, headers=admin).json()
    path = f"/api/v1/analyses/{job['id']}/heatmap"
    assert client.get(path, params={"kind": "heat"}, headers=admin).status_code == 404  # not finished
    _run_queued(context)
    done = client.get(f"/api/v1/analyses/{job['id']}", headers=admin).json()
    assert done["links"]["heat"] == f"{path}?kind=heat"
    heat = client.get(done["links"]["heat"], headers=admin)
    assert heat.status_code == 200
    assert heat.headers["content-type"] == "image/png"
    blended = client.get(path, headers=admin).content
    assert heat.content != blended
    assert client.get(path, params={"kind": "blended"}, headers=admin).content == blended  # the default, unchanged
    # PNG IHDR: width, height, bit depth 8, colour type 6 (RGBA); the same size as the blended preview.
    assert heat.content[24:26] == bytes([8, 6])
    assert heat.content[16:24] == blended[16:24]
    assert blended[25] == 2  # the blended preview stays RGB
    assert client.get(path, params={"kind": "nope"}, headers=admin).status_code in (400, 422)
    assert client.get(path, params={"kind": "heat"}).status_code == 401
    assert client.get(path, params={"kind": "heat"}, headers=auth(tokens[Role.AUDITOR])).status_code == 403
    assert client.get(path, params={"kind": "heat"}, headers=auth(tokens[Role.REFERRER])).status_code == 403
    # At rest the heatmaps are sealed under the store's master key, like the objects.
    assert is_sealed(context.jobs.heatmap_path(job["id"], HeatmapKind.HEAT).read_bytes())
    context.jobs.heatmap_path(job["id"], HeatmapKind.HEAT).write_bytes(b"altered")
    altered = client.get(path, params={"kind": "heat"}, headers=admin)
    assert altered.json()["code"] == "integrity.error"


def test_each_analysis_says_whether_its_model_was_released_and_a_strict_service_runs_released_models_only(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], tmp_path: Path, tiny_bundle: Path
) -> None:
    from medsight.audit import DEFAULT_GATE
    from medsight.services.release import PromoteRequest, promote

    context.jobs.model_for = lambda task: tiny_bundle
    radiologist = auth(tokens[Role.RADIOLOGIST])
    first, second = (
        context.store.ingest(synthetic_chest_series(tmp_path, 1, seed=n)[0]).study_instance_uid for n in (1, 2)
    )
    recorded = client.post("/api/v1/analyses", json={"study_uid": first, "task": "cxr-pneumonia"}, headers=radiologist)
    assert recorded.status_code == 202
    assert recorded.json()["model"]["released"] is False

    context.jobs.settings = context.jobs.settings.model_copy(update={"release_policy": "require"})
    refused = client.post("/api/v1/analyses", json={"study_uid": second, "task": "cxr-pneumonia"}, headers=radiologist)
    assert refused.status_code == 409
    assert refused.json()["code"] == "model.unreleased"

    promote(
        PromoteRequest(
            name=str(tiny_bundle),
            version="1.0.0",
            data_dir=context.settings.data_dir,
            gate=DEFAULT_GATE,
            override_reason="synthetic test cohort without demographics",
            by="pytest",
        )
    )
    accepted = client.post("/api/v1/analyses", json={"study_uid": second, "task": "cxr-pneumonia"}, headers=radiologist)
    assert accepted.status_code == 202
    assert accepted.json()["model"]["released"] is True
    earlier = client.get(f"/api/v1/analyses/{recorded.json()['id']}", headers=radiologist).json()
    assert earlier["model"]["released"] is True  # the same weights, released since


def test_an_analysis_carries_the_saliency_audit_recorded_for_its_weights(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], tmp_path: Path, tiny_bundle: Path
) -> None:
    import shutil

    from medsight.models.bundle import load_bundle, record_audit

    bundle = load_bundle(shutil.copytree(tiny_bundle, tmp_path / "audited"))
    summary = {
        "passed": False,
        "model_sha256": bundle.sha256,
        "audited_at": "2026-11-27T09:00:00+00:00",
        "checks": {"deletion": {"passed": False}, "randomization_all": {"passed": True}},
    }
    record_audit(bundle, summary, field="saliency_audit")
    context.jobs.model_for = lambda task: bundle.path
    study = context.store.ingest(synthetic_chest_series(tmp_path, 1)[0]).study_instance_uid
    job = client.post(
        "/api/v1/analyses", json={"study_uid": study, "task": "cxr-pneumonia"}, headers=auth(tokens[Role.RADIOLOGIST])
    ).json()
    assert job["model"]["saliency_audit"] == {
        "passed": False,
        "failed": ["deletion"],
        "audited_at": "2026-11-27T09:00:00+00:00",
        "method": "gradcam",  # an audit recorded before the method was a setting judged Grad-CAM
    }
    # An audit of another method's maps (a candidate recorded by hand) vouches for nothing here.
    record_audit(bundle, {**summary, "saliency": {"method": "occlusion", "patch": 8, "stride": 4}}, "saliency_audit")
    context.jobs._bundles.clear()  # the service re-reads its bundles on restart
    again = client.get(f"/api/v1/analyses/{job['id']}", headers=auth(tokens[Role.RADIOLOGIST])).json()
    assert again["model"]["saliency_audit"] is None


def test_series_that_wait_to_be_stable_are_listed_for_those_who_may_read_the_study(
    tmp_path: Path, client: TestClient, context: ServiceContext, tokens: dict[Role, str]
) -> None:
    radiologist, referrer = auth(tokens[Role.RADIOLOGIST]), auth(tokens[Role.REFERRER])
    study = context.store.ingest(synthetic_chest_series(tmp_path, 1)[0]).study_instance_uid
    # Without routing (MEDSIGHT_AUTO_ANALYZE=false) nothing ever waits; access still applies.
    assert client.get("/api/v1/analyses/waiting", params={"study_uid": study}, headers=radiologist).json() == []
    assert client.get("/api/v1/analyses/waiting", params={"study_uid": study}, headers=referrer).status_code == 403

    routed = ServiceContext.open(ServiceSettings(data_dir=tmp_path / "routed", analysis_workers=0))
    try:
        with TestClient(create_app(context=routed), raise_server_exceptions=False) as routed_client:
            token = routed.access.issue_token(role=Role.RADIOLOGIST).value
            flair = [routed.store.ingest(path.read_bytes()) for path in write_mr_series(tmp_path / "flair", seed=3)]
            routed.notify_ingested(flair[:5], Principal("scanner", Role.ADMIN, "t1"))
            params = {"study_uid": flair[0].study_instance_uid}
            (waiting,) = routed_client.get("/api/v1/analyses/waiting", params=params, headers=auth(token)).json()
            assert waiting["series_uid"] == flair[0].series_instance_uid
            assert waiting["stable_s"] == 30.0
            assert 20.0 < waiting["seconds_left"] <= 30.0
            assert routed_client.get("/api/v1/analyses", params=params, headers=auth(token)).json() == []
            no_study = routed_client.get("/api/v1/analyses/waiting", headers=auth(token))
            assert no_study.status_code == 400  # study_uid is required
    finally:
        routed.close()
