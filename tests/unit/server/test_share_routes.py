"""Share links: consent, expiry, revocation, tampering, another study, and every access in the ledger."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.data.chest_dicom import synthetic_chest_series
from tests.unit.server.conftest import auth

from medsight.access import Role
from medsight.ledger import Entry, EventType
from medsight.server.receipts import RECEIPT_HEADER, decode_receipt_header
from medsight.services.context import ServiceContext
from medsight.store import StudyQuery

PARTY = "Dr. Remote"


@pytest.fixture(autouse=True)
def deid_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDSIGHT_DEID_KEY", "a-test-key-of-enough-bytes")
    monkeypatch.delenv("MEDSIGHT_DEID_KEY_FILE", raising=False)


def _study(context: ServiceContext, tmp_path: Path, seed: int) -> str:
    folder = tmp_path / str(seed)
    folder.mkdir()
    return context.store.ingest(synthetic_chest_series(folder, 1, seed=seed)[0]).study_instance_uid


def _consent(client: TestClient, context: ServiceContext, study: str, headers: dict[str, str]) -> None:
    [found] = context.store.studies(StudyQuery(study_instance_uids=(study,)))
    body = {"patient_id": found.patient_id, "purpose": "sharing", "party": PARTY, "granted": True}
    assert client.post("/api/v1/consents", json=body, headers=headers).status_code == 201


def _events(context: ServiceContext) -> list[Entry]:
    assert context.ledger is not None
    with context.ledger.tables.reading() as storage:
        return [Entry.decode(data) for _, data in storage.iter_entries()]


def _open(client: TestClient, token: str) -> dict[str, str]:
    opened = client.post("/api/v1/shares/open", json={"token": token})
    assert opened.status_code == 200, opened.text
    return auth(opened.json()["session_token"])


def test_a_link_opens_one_study_read_only_and_every_access_is_logged(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], tmp_path: Path
) -> None:
    radiologist = auth(tokens[Role.RADIOLOGIST])
    study, other = _study(context, tmp_path, 1), _study(context, tmp_path, 2)
    body = {"study_uid": study, "party": PARTY, "expires": "2h"}
    refused = client.post("/api/v1/shares", json=body, headers=radiologist)
    assert refused.status_code == 403  # no consent to sharing yet
    assert refused.json()["code"] == "privacy.error"
    _consent(client, context, study, radiologist)
    made = client.post("/api/v1/shares", json=body, headers=radiologist)
    assert made.status_code == 201, made.text
    assert decode_receipt_header(made.headers[RECEIPT_HEADER]).index >= 0
    token = made.json()["token"]

    session = _open(client, token)
    assert client.get(f"/dicomweb/studies/{study}/series", headers=session).status_code == 200
    assert client.get(f"/dicomweb/studies/{study}", headers=session).status_code == 200
    assert client.get(f"/dicomweb/studies/{study}/metadata", headers=session).status_code == 200
    # Only that study, and only reading it.
    assert client.get(f"/dicomweb/studies/{other}/series", headers=session).status_code == 403
    assert client.get("/dicomweb/studies", headers=session).status_code == 403
    assert client.get("/api/v1/analyses", headers=session).status_code == 403
    assert client.post("/dicomweb/studies", headers=session).status_code == 403
    assert client.post("/api/v1/shares", json=body, headers=session).status_code == 403

    _open(client, token)  # a second opening: a second share-access
    events = _events(context)
    share_id = made.json()["share"]["id"]
    by_share = [e.event for e in events if e.actor == f"share:{share_id}"]
    assert by_share.count(EventType.SHARE_ACCESS) == 2
    assert EventType.VIEW in by_share
    assert EventType.DOWNLOAD in by_share
    assert [e.event for e in events].count(EventType.SHARE) == 1
    listed = client.get("/api/v1/shares", params={"study_uid": study}, headers=radiologist).json()
    assert listed[0]["accesses"] == 2

    revoked = client.delete(f"/api/v1/shares/{share_id}", headers=radiologist)
    assert revoked.json()["state"] == "revoked"
    # At once: the open session and the link both stop working.
    assert client.get(f"/dicomweb/studies/{study}/series", headers=session).status_code == 401
    assert client.post("/api/v1/shares/open", json={"token": token}).status_code == 401
    assert EventType.SHARE_REVOKE in [e.event for e in _events(context)]


def test_expiry_counts_and_tampering(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], tmp_path: Path
) -> None:
    radiologist = auth(tokens[Role.RADIOLOGIST])
    study = _study(context, tmp_path, 3)
    _consent(client, context, study, radiologist)
    body = {"study_uid": study, "party": PARTY, "expires": "1h", "max_accesses": 1}
    token = client.post("/api/v1/shares", json=body, headers=radiologist).json()["token"]

    prefix, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (f"{prefix}.{payload}.{flipped}", token.replace("msl.", "mss."), token[:-1]):
        assert client.post("/api/v1/shares/open", json={"token": bad}).status_code == 401
    session = _open(client, token)
    used_up = client.post("/api/v1/shares/open", json={"token": token})
    assert used_up.status_code == 401
    assert "used up" in used_up.json()["message"]
    assert client.get(f"/dicomweb/studies/{study}/series", headers=session).status_code == 200

    assert context.shares is not None
    real = context.shares.clock
    context.shares.clock = lambda: real() + timedelta(hours=2)
    assert client.get(f"/dicomweb/studies/{study}/series", headers=session).status_code == 401
    context.shares.clock = real
    assert client.post("/api/v1/shares", json={**body, "expires": "90d"}, headers=radiologist).status_code == 400


def test_a_deidentified_share_is_a_copy_under_new_uids(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], tmp_path: Path
) -> None:
    radiologist = auth(tokens[Role.RADIOLOGIST])
    study = _study(context, tmp_path, 4)
    _consent(client, context, study, radiologist)
    body = {"study_uid": study, "party": PARTY, "expires": "1h", "deidentified": True}
    made = client.post("/api/v1/shares", json=body, headers=radiologist).json()
    copy = made["share"]["study_uid"]
    assert copy != study
    session = _open(client, made["token"])
    assert client.get(f"/dicomweb/studies/{copy}/series", headers=session).status_code == 200
    assert client.get(f"/dicomweb/studies/{study}/series", headers=session).status_code == 403
    metadata = client.get(f"/dicomweb/studies/{copy}/metadata", headers=session).json()
    assert "00100010" not in metadata[0] or metadata[0]["00100010"].get("Value") != (
        client.get(f"/dicomweb/studies/{study}/metadata", headers=radiologist).json()[0]["00100010"].get("Value")
    )


def test_a_withdrawal_of_consent_closes_the_link_and_its_open_sessions(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], tmp_path: Path
) -> None:
    radiologist = auth(tokens[Role.RADIOLOGIST])
    study = _study(context, tmp_path, 5)
    _consent(client, context, study, radiologist)
    body = {"study_uid": study, "party": PARTY, "expires": "2h"}
    token = client.post("/api/v1/shares", json=body, headers=radiologist).json()["token"]
    session = _open(client, token)
    assert client.get(f"/dicomweb/studies/{study}/series", headers=session).status_code == 200

    [found] = context.store.studies(StudyQuery(study_instance_uids=(study,)))
    withdrawal = {"patient_id": found.patient_id, "purpose": "sharing", "party": PARTY, "granted": False}
    assert client.post("/api/v1/consents", json=withdrawal, headers=radiologist).status_code == 201
    # At once, without anyone revoking the link (issue 8: withdrawal reaches open share links).
    closed = client.get(f"/dicomweb/studies/{study}/series", headers=session)
    assert closed.status_code == 401
    assert closed.json()["message"] == "the share link has been withdrawn"
    assert client.post("/api/v1/shares/open", json={"token": token}).status_code == 401
    # A grant for another party does not reopen it.
    other = {"patient_id": found.patient_id, "purpose": "sharing", "party": "Someone Else", "granted": True}
    assert client.post("/api/v1/consents", json=other, headers=radiologist).status_code == 201
    assert client.post("/api/v1/shares/open", json={"token": token}).status_code == 401
