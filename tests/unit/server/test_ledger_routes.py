"""The ledger over HTTP: receipts in headers, heads and proofs, login failures, the witness endpoint."""

from __future__ import annotations

import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from tests.data.chest_dicom import synthetic_chest_series
from tests.unit.server.conftest import auth

from medsight.access import Role
from medsight.ledger import Entry, EventType, Log, MemoryStorage, PublicKey, Signer, check_receipt
from medsight.ledger.hashing import leaf_hash
from medsight.ledger.proofs import verify_consistency, verify_inclusion
from medsight.server import create_app
from medsight.server.receipts import RECEIPT_HEADER, decode_receipt_header
from medsight.services.context import ServiceContext
from medsight.settings import ServiceSettings


def _events(context: ServiceContext) -> list[Entry]:
    assert context.ledger is not None
    with context.ledger.tables.reading() as storage:
        return [Entry.decode(data) for _, data in storage.iter_entries()]


def test_reads_and_writes_carry_receipts(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], tmp_path: Path
) -> None:
    radiologist = auth(tokens[Role.RADIOLOGIST])
    study = context.store.ingest(synthetic_chest_series(tmp_path, 1)[0]).study_instance_uid
    head = client.get("/api/v1/ledger/head", headers=auth(tokens[Role.AUDITOR])).json()
    key = PublicKey.from_hex(head["public_key"])

    got = client.get(f"/dicomweb/studies/{study}", headers=radiologist)
    assert got.status_code == 200
    receipt = decode_receipt_header(got.headers[RECEIPT_HEADER])
    entry = check_receipt(receipt, key)
    assert entry.event is EventType.DOWNLOAD
    assert entry.actor.startswith("token:")
    assert study not in entry.object

    consent = {"pseudonym": "ANON-ABCDEFGHIJKLMNOP", "purpose": "sharing", "party": "reader", "granted": True}
    made = client.post("/api/v1/consents", json=consent, headers=radiologist)
    assert made.status_code == 201
    assert check_receipt(decode_receipt_header(made.headers[RECEIPT_HEADER]), key).event is EventType.CONSENT_CHANGE

    # A search records nothing and carries no receipt.
    assert RECEIPT_HEADER not in client.get("/dicomweb/studies", headers=radiologist).headers
    assert [e.event for e in _events(context)] == [EventType.INGEST, EventType.DOWNLOAD, EventType.CONSENT_CHANGE]


def test_proof_endpoints_and_login_failures(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str]
) -> None:
    reader = auth(tokens[Role.AUDITOR])
    for _ in range(3):
        assert client.get("/api/v1/ledger/head", headers=auth("msk_abcdefgh_nope")).status_code == 401
    events = _events(context)
    assert [e.event for e in events] == [EventType.LOGIN_FAILURE] * 3
    assert events[0].object.startswith("client:")
    head = client.get("/api/v1/ledger/head", headers=reader).json()["tree_head"]
    proof = client.get("/api/v1/ledger/proofs/inclusion", params={"index": 1}, headers=reader).json()
    assert context.ledger is not None
    with context.ledger.tables.reading() as storage:
        leaf = leaf_hash(storage.entry(1) or b"")
        old_root = Log(storage).root(1)
    hashes = [bytes.fromhex(h) for h in proof["inclusion_proof"]]
    assert verify_inclusion(1, head["tree_size"], leaf, hashes, bytes.fromhex(head["root_hash"]))
    cons = client.get("/api/v1/ledger/proofs/consistency", params={"first": 1}, headers=reader).json()
    hashes = [bytes.fromhex(h) for h in cons["consistency_proof"]]
    assert verify_consistency(1, 3, old_root, bytes.fromhex(head["root_hash"]), hashes)
    assert client.get("/api/v1/ledger/receipts/99", headers=reader).status_code == 404
    assert client.get("/api/v1/ledger/head", headers=auth(tokens[Role.DEVICE])).status_code == 403


def test_the_witness_refuses_a_rewritten_history(client: TestClient, tokens: dict[Role, str]) -> None:
    peer = auth(tokens[Role.DEVICE])
    signer = Signer(Ed25519PrivateKey.generate())
    honest, forked = Log(MemoryStorage(), signer), Log(MemoryStorage(), signer)
    honest.append([Entry(EventType.VIEW, "user:a", f"study:{i:02x}", i) for i in range(5)])
    forked.append([Entry(EventType.EXPORT, "user:a", f"study:{i:02x}", i) for i in range(7)])

    def submit(log: Log, proof: list[bytes]) -> int:
        body = {
            "public_key": signer.public.raw.hex(),
            "tree_head": log.head().to_json(),  # type: ignore[union-attr]
            "consistency_proof": [p.hex() for p in proof],
        }
        return client.post("/api/v1/ledger/witness", json=body, headers=peer).status_code

    assert submit(honest, []) == 200
    last = client.get(f"/api/v1/ledger/witness/{signer.public.key_id}", headers=peer).json()["tree_head"]
    assert last["tree_size"] == 5
    honest.append([Entry(EventType.VIEW, "user:b", "study:ff", 9)])
    assert submit(honest, honest.consistency_proof(5)) == 200
    assert submit(forked, forked.consistency_proof(6)) == 409


def test_heads_are_published_periodically_to_the_witness_file(tmp_path: Path) -> None:
    witness_file = tmp_path / "elsewhere" / "heads.jsonl"
    settings = ServiceSettings(
        data_dir=tmp_path / "var",
        analysis_workers=0,
        auto_analyze=False,
        ledger_publish_s=0.05,
        ledger_witness_file=witness_file,
    )
    context = ServiceContext.open(settings)
    try:
        assert context.ledger is not None
        context.ledger.record_now(Entry.now(EventType.VIEW, "user:a", "study:01"))
        with TestClient(create_app(context=context)):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not witness_file.exists():
                time.sleep(0.05)
        assert witness_file.read_text().count("\n") >= 1
        assert context.ledger.verify().heads >= 2
    finally:
        context.close()
