"""The consent API: recorded by pseudonym only, history and what is in force, scopes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.unit.server.conftest import auth

from medsight.access import Role
from medsight.privacy.pseudonym import Pseudonymizer

KEY = "consent-test-key-0123456789"


def test_grant_withdraw_and_read(client: TestClient, tokens: dict[Role, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDSIGHT_DEID_KEY", KEY)
    headers = auth(tokens[Role.RADIOLOGIST])
    body = {"patient_id": "MRN-77", "purpose": "model-training", "granted": True, "document_ref": "form 12"}
    created = client.post("/api/v1/consents", json=body, headers=headers)
    assert created.status_code == 201, created.text
    pseudonym = created.json()["pseudonym"]
    assert pseudonym == Pseudonymizer(KEY.encode()).patient("MRN-77")
    assert "MRN-77" not in created.text
    client.post("/api/v1/consents", json={**body, "granted": False}, headers=headers)
    sharing = {"pseudonym": pseudonym, "purpose": "sharing", "party": "Hospital B", "granted": True}
    assert client.post("/api/v1/consents", json=sharing, headers=headers).status_code == 201
    read = client.get(f"/api/v1/consents/{pseudonym}", headers=auth(tokens[Role.AUDITOR]))
    assert read.status_code == 200
    state = {(c["purpose"], c["party"]): c["granted"] for c in read.json()["in_force"]}
    assert state == {("model-training", None): False, ("sharing", "Hospital B"): True}
    assert [h["state"] for h in read.json()["history"]] == ["granted", "withdrawn", "granted"]


def test_patient_id_without_a_key_is_refused(
    client: TestClient, tokens: dict[Role, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDSIGHT_DEID_KEY", raising=False)
    monkeypatch.delenv("MEDSIGHT_DEID_KEY_FILE", raising=False)
    body = {"patient_id": "MRN-77", "purpose": "research-export", "granted": True}
    response = client.post("/api/v1/consents", json=body, headers=auth(tokens[Role.ADMIN]))
    assert response.status_code == 503
    assert response.json()["code"] == "privacy.no_key"


@pytest.mark.parametrize(
    "body",
    [
        {"purpose": "research-export", "granted": True},  # no patient
        {"pseudonym": "MRN-77", "purpose": "research-export", "granted": True},  # not a pseudonym
        {"pseudonym": "ANON-X", "purpose": "sharing", "granted": True},  # no party
        {"pseudonym": "ANON-X", "purpose": "marketing", "granted": True},
    ],
)
def test_bad_requests_are_usage_errors(client: TestClient, tokens: dict[Role, str], body: dict[str, object]) -> None:
    response = client.post("/api/v1/consents", json=body, headers=auth(tokens[Role.ADMIN]))
    assert response.status_code == 400
    assert response.json()["code"] == "usage.invalid"


def test_lookup_by_patient_id_answers_as_read_by_pseudonym(
    client: TestClient, tokens: dict[Role, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDSIGHT_DEID_KEY", KEY)
    headers = auth(tokens[Role.RADIOLOGIST])
    body = {"patient_id": "MRN-88", "purpose": "research-export", "granted": True, "document_ref": "form 3"}
    pseudonym = client.post("/api/v1/consents", json=body, headers=headers).json()["pseudonym"]
    found = client.post("/api/v1/consents/lookup", json={"patient_id": "MRN-88"}, headers=headers)
    assert found.status_code == 200, found.text
    assert found.headers["cache-control"] == "no-store"
    assert found.json() == client.get(f"/api/v1/consents/{pseudonym}", headers=headers).json()
    assert found.json()["in_force"] == [{"purpose": "research-export", "party": None, "granted": True}]
    assert "MRN-88" not in found.text
    unknown = client.post("/api/v1/consents/lookup", json={"patient_id": "MRN-NEW"}, headers=headers).json()
    assert unknown["pseudonym"].startswith("ANON-")
    assert (unknown["in_force"], unknown["history"]) == ([], [])


def test_lookup_by_patient_id_is_for_writers_only(
    client: TestClient, tokens: dict[Role, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Auditors read by pseudonym; linking a Patient ID to its pseudonym is not theirs to do.
    monkeypatch.setenv("MEDSIGHT_DEID_KEY", KEY)
    response = client.post("/api/v1/consents/lookup", json={"patient_id": "MRN-88"}, headers=auth(tokens[Role.AUDITOR]))
    assert response.status_code == 403


def test_lookup_by_patient_id_without_a_key_is_refused(
    client: TestClient, tokens: dict[Role, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDSIGHT_DEID_KEY", raising=False)
    monkeypatch.delenv("MEDSIGHT_DEID_KEY_FILE", raising=False)
    response = client.post("/api/v1/consents/lookup", json={"patient_id": "MRN-88"}, headers=auth(tokens[Role.ADMIN]))
    assert response.status_code == 503
    assert response.json()["code"] == "privacy.no_key"


@pytest.mark.parametrize("body", [{}, {"patient_id": ""}, {"patient_id": "x" * 65}])
def test_lookup_needs_a_patient_id(client: TestClient, tokens: dict[Role, str], body: dict[str, object]) -> None:
    response = client.post("/api/v1/consents/lookup", json=body, headers=auth(tokens[Role.ADMIN]))
    assert response.status_code == 400
    assert response.json()["code"] == "usage.invalid"


def test_reading_by_something_that_is_not_a_pseudonym_is_refused(client: TestClient, tokens: dict[Role, str]) -> None:
    # A Patient ID typed where a pseudonym belongs is refused, not looked up as one.
    response = client.get("/api/v1/consents/MRN-77", headers=auth(tokens[Role.AUDITOR]))
    assert response.status_code == 400
    assert response.json()["code"] == "usage.invalid"
    assert "MRN-77" not in response.text
