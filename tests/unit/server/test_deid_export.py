"""``POST /api/v1/exports/deid``: a zip of de-identified objects, nothing planted left, refusals counted."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.data.deid_corpus import planted_values, write_planted
from tests.unit.server.conftest import auth

from medsight.access import Role
from medsight.privacy.pseudonym import Pseudonymizer
from medsight.services.consent import record_consent
from medsight.services.context import ServiceContext
from medsight.store.consent import ConsentLog
from medsight.store.query import StudyQuery

KEY = "export-test-key-0123456789"


@pytest.fixture
def study(context: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two planted objects (a CT and an ultrasound with burned-in text) of a consenting patient."""
    monkeypatch.setenv("MEDSIGHT_DEID_KEY", KEY)
    for n, ultrasound in ((0, False), (1, True)):
        path = write_planted(tmp_path / f"{n}.dcm", n, ultrasound=ultrasound, size=32)
        context.store.ingest(path.read_bytes())
    pseudonym = Pseudonymizer(KEY.encode()).patient("PHIPATIENT0000")
    record_consent(ConsentLog(context.store.sessions), pseudonym, "research-export", granted=True, recorded_by="t")


def _study_uids(context: ServiceContext) -> list[str]:
    return [s.study_instance_uid for s in context.store.studies(StudyQuery())]


def test_export_is_deidentified(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], study: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    uids = _study_uids(context)
    response = client.post("/api/v1/exports/deid", json={"study_uids": uids}, headers=auth(tokens[Role.RADIOLOGIST]))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = sorted(archive.namelist())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["refused_burned_in_text"] == 0
    assert manifest["instances"] == len(names) - 1 == 2
    for name in names:
        data = archive.read(name)
        for n in (0, 1):
            assert not [p.name for p in planted_values(n) if p.needle is not None and p.needle in data], name


def test_flagged_images_are_refused_and_counted(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], study: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"study_uids": _study_uids(context), "options": []}
    response = client.post("/api/v1/exports/deid", json=body, headers=auth(tokens[Role.ADMIN]))
    assert response.status_code == 200
    assert response.headers["x-medsight-refused"] == "1"
    assert json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("manifest.json"))["instances"] == 1


def test_without_a_key_the_export_is_refused(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], study: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDSIGHT_DEID_KEY", raising=False)
    monkeypatch.delenv("MEDSIGHT_DEID_KEY_FILE", raising=False)
    response = client.post(
        "/api/v1/exports/deid", json={"study_uids": _study_uids(context)}, headers=auth(tokens[Role.RADIOLOGIST])
    )
    assert response.status_code == 503
    assert response.json()["code"] == "privacy.no_key"


def test_referrers_may_not_export(client: TestClient, tokens: dict[Role, str]) -> None:
    response = client.post("/api/v1/exports/deid", json={"study_uids": ["1.2"]}, headers=auth(tokens[Role.REFERRER]))
    assert response.status_code == 403


def test_only_consenting_patients_are_exported_and_withdrawal_counts(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], study: None
) -> None:
    headers = auth(tokens[Role.RADIOLOGIST])
    body = {"study_uids": _study_uids(context)}
    first = client.post("/api/v1/exports/deid", json=body, headers=headers)
    assert first.headers["x-medsight-without-consent"] == "0"
    withdrawn = {"patient_id": "PHIPATIENT0000", "purpose": "research-export", "granted": False}
    assert client.post("/api/v1/consents", json=withdrawn, headers=headers).status_code == 201
    second = client.post("/api/v1/exports/deid", json=body, headers=headers)
    assert second.status_code == 200
    assert second.headers["x-medsight-without-consent"] == "2"  # one patient, two studies
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(second.content)).read("manifest.json"))
    assert (manifest["instances"], manifest["studies_without_consent"]) == (0, 2)
    sharing = client.post("/api/v1/exports/deid", json={**body, "purpose": "sharing"}, headers=headers)
    assert sharing.status_code == 400  # sharing names its party
