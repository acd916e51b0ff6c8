"""``/api/v1/protocols``: the indications, a recommendation with its FHIR draft, problems that name the field."""

from __future__ import annotations

from fastapi.testclient import TestClient
from fhir.resources.R4B.servicerequest import ServiceRequest
from tests.unit.server.conftest import auth

from medsight.access import Role

PROFILE = {
    "age": 62,
    "sex": "male",
    "indication": "lung_cancer_screening",
    "smoking": {"pack_years": 30, "years_since_quit": None},
}


def test_the_indications_list_every_code(client: TestClient, tokens: dict[Role, str]) -> None:
    response = client.get("/api/v1/protocols/indications", headers=auth(tokens[Role.REFERRER]))
    assert response.status_code == 200
    codes = {row["code"] for row in response.json()}
    assert len(codes) >= 26
    assert "suspected_appendicitis" in codes


def test_a_referrer_gets_ranked_recommendations_and_a_service_request_draft(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    response = client.post("/api/v1/protocols/recommend", json=PROFILE, headers=auth(tokens[Role.REFERRER]))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    answer = response.json()
    assert answer["status"] == "ok"
    assert answer["recommendations"][0]["procedure_id"] == "ldct_screening"
    draft = answer["fhir_service_request"]
    ServiceRequest.model_validate(draft)  # valid R4B
    assert (draft["status"], draft["intent"]) == ("draft", "proposal")
    assert draft["code"]["coding"][0]["code"] == "ldct_screening"
    assert any("USPSTF" in note["text"] for note in draft["note"])


def test_an_invalid_profile_is_a_422_problem_naming_the_field(client: TestClient, tokens: dict[Role, str]) -> None:
    response = client.post(
        "/api/v1/protocols/recommend",
        json={**PROFILE, "sex": "male", "pregnant": True},
        headers=auth(tokens[Role.RADIOLOGIST]),
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "protocol.invalid_profile"
    assert problem["message"].startswith("pregnant: ")


def test_a_profile_lacking_a_deciding_field_says_which(client: TestClient, tokens: dict[Role, str]) -> None:
    body = {"age": 60, "sex": "male", "indication": "suspected_stroke"}
    answer = client.post("/api/v1/protocols/recommend?fhir=false", json=body, headers=auth(tokens[Role.ADMIN])).json()
    assert answer["status"] == "needs_input"
    assert answer["missing"][0]["field"] == "findings.onset_hours"
    assert "fhir_service_request" not in answer


def test_devices_and_auditors_may_not_ask(client: TestClient, tokens: dict[Role, str]) -> None:
    for role in (Role.DEVICE, Role.AUDITOR):
        response = client.post("/api/v1/protocols/recommend", json=PROFILE, headers=auth(tokens[role]))
        assert response.status_code == 403
