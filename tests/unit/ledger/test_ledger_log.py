"""The sequencer over the in-memory store: appends, proofs, receipts, witnessing and tampering caught by verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from medsight.ledger import (
    Entry,
    EntryFormatError,
    EventType,
    FileWitness,
    Log,
    MemoryStorage,
    PublicKey,
    Receipt,
    ReceiptError,
    SignedTreeHead,
    Signer,
    WitnessError,
    check_receipt,
    generate_key,
    verify_log,
)
from medsight.ledger.hashing import leaf_hash, root_of
from medsight.ledger.proofs import verify_consistency

SIGNER = Signer(Ed25519PrivateKey.generate())


def entry(i: int, event: EventType = EventType.VIEW) -> Entry:
    return Entry(event, f"user:reader{i % 3}", f"sha256:{i:064x}", 1_764_000_000_000 + i)


def filled(n: int, batch: int = 7) -> tuple[Log, MemoryStorage]:
    storage = MemoryStorage()
    log = Log(storage, SIGNER, clock=lambda: 1_764_000_000_000)
    for start in range(0, n, batch):
        log.append([entry(i) for i in range(start, min(n, start + batch))])
    return log, storage


def test_entry_round_trip_and_strict_decoding() -> None:
    e = Entry(EventType.ANALYZE, "user:alice", "study:ab12", 1_764_000_000_123, "cxr-pneumonia", "1.2.0")
    assert Entry.decode(e.encode()) == e
    assert e.to_json()["model"] == {"name": "cxr-pneumonia", "version": "1.2.0"}
    with pytest.raises(EntryFormatError):
        Entry.decode(e.encode() + b"\x00")
    with pytest.raises(EntryFormatError):
        Entry.decode(e.encode()[:-1])
    with pytest.raises(EntryFormatError):
        Entry.decode(b"\x02" + e.encode()[1:])
    # Patient names and free text do not fit the alphabet.
    for bad in ("Doe^John", "", "a" * 200, "é"):
        with pytest.raises(EntryFormatError):
            Entry(EventType.VIEW, "user:alice", bad, 0)


def test_event_codes_are_stable() -> None:
    # Appending a new type is fine; reordering would change every stored entry's meaning.
    assert [t.wire for t in EventType][:11] == list(range(1, 12))
    assert EventType.INGEST.wire == 1
    assert EventType.LOGIN_FAILURE.wire == 11


def test_roots_and_proofs_match_the_reference() -> None:
    log, storage = filled(45)
    hashes = [leaf_hash(storage.entries[i]) for i in range(45)]
    assert log.head() is not None
    assert log.head().root == root_of(hashes)
    for size in (1, 2, 17, 45):
        assert log.root(size) == root_of(hashes[:size])
    for index in (0, 13, 44):
        receipt = log.receipt(index)
        assert check_receipt(receipt, SIGNER.public) == Entry.decode(storage.entries[index])
    for old in (1, 7, 8, 30):
        assert verify_consistency(old, 45, log.root(old), log.root(45), log.consistency_proof(old))


def test_receipt_survives_json_and_refuses_tampering(tmp_path: Path) -> None:
    log, _ = filled(10)
    receipt = Receipt.from_json(json.loads(json.dumps(log.receipt(3).to_json())))
    check_receipt(receipt, SIGNER.public)
    other = Signer(Ed25519PrivateKey.generate()).public
    with pytest.raises(ReceiptError, match="signature"):
        check_receipt(receipt, other)
    forged = Receipt(receipt.index, entry(99).encode(), receipt.proof, receipt.head)
    with pytest.raises(ReceiptError, match="inclusion"):
        check_receipt(forged, SIGNER.public)
    moved = Receipt(4, receipt.entry, receipt.proof, receipt.head)
    with pytest.raises(ReceiptError, match="inclusion"):
        check_receipt(moved, SIGNER.public)


def test_standalone_verifier(tmp_path: Path) -> None:
    key = tmp_path / "ledger.key"
    generate_key(key)
    log, _ = filled(12)
    log.signer = Signer.from_file(key)
    log.append([entry(12)])
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"receipt": log.receipt(12).to_json()}))
    bad = tmp_path / "bad.json"
    data = log.receipt(5).to_json()
    data["inclusion_proof"][0] = "00" * 32
    bad.write_text(json.dumps(data))
    # A fresh interpreter, no database, nothing but the public key and the files.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3] / "src")}
    run = [sys.executable, "-m", "medsight.ledger.verify_receipt", "--public-key", str(key) + ".pub"]
    ok = subprocess.run([*run, str(good)], capture_output=True, text=True, env=env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok: entry 12" in ok.stdout
    failed = subprocess.run([*run, str(good), str(bad)], capture_output=True, text=True, env=env, check=False)
    assert failed.returncode == 5
    assert "bad.json: FAILED" in failed.stdout


def test_key_file_is_private_and_not_overwritten(tmp_path: Path) -> None:
    key = tmp_path / "k" / "ledger.key"
    public = generate_key(key)
    assert key.stat().st_mode & 0o777 == 0o600
    assert Signer.from_file(key).public.raw == public.raw
    assert PublicKey.from_hex((tmp_path / "k" / "ledger.key.pub").read_text()).key_id == public.key_id
    with pytest.raises(ValueError, match="exists"):
        generate_key(key)


def test_intact_log_verifies() -> None:
    log, storage = filled(100)
    log.publish()
    report = verify_log(storage, SIGNER.public, checkpoint=storage.heads[5])
    assert report.ok, report.problems
    assert report.entries == report.tree_size == 100
    assert report.root == log.root(100)


@pytest.mark.parametrize("index", [0, 1, 31, 99])
@pytest.mark.parametrize("offset", [0, 1, 9, -1])
def test_any_changed_byte_names_the_entry(index: int, offset: int) -> None:
    _, storage = filled(100)
    data = bytearray(storage.entries[index])
    data[offset] ^= 0x01
    storage.entries[index] = bytes(data)
    report = verify_log(storage, SIGNER.public)
    assert not report.ok
    assert report.first_bad_entry == index


def test_every_byte_of_one_entry() -> None:
    _, storage = filled(20)
    original = storage.entries[11]
    for offset in range(len(original)):
        data = bytearray(original)
        data[offset] ^= 0x80
        storage.entries[11] = bytes(data)
        report = verify_log(storage, SIGNER.public)
        assert report.first_bad_entry == 11, offset
    storage.entries[11] = original
    assert verify_log(storage, SIGNER.public).ok


def test_entry_and_leaf_hash_rewritten_together_fail_the_signed_root() -> None:
    _, storage = filled(50)
    forged = entry(1000).encode()
    storage.entries[20] = forged
    storage.node_hashes[(0, 20)] = leaf_hash(forged)
    report = verify_log(storage, SIGNER.public)
    assert not report.ok
    assert report.first_bad_entry is not None
    assert report.first_bad_entry <= 20


def test_dropped_reordered_inserted_entries() -> None:
    _, storage = filled(30)
    dropped = dict(storage.entries)
    del dropped[12]
    storage_d = MemoryStorage()
    storage_d.entries, storage_d.node_hashes, storage_d.heads = dropped, storage.node_hashes, storage.heads
    assert verify_log(storage_d, SIGNER.public).first_bad_entry == 12

    swapped = dict(storage.entries)
    swapped[5], swapped[6] = swapped[6], swapped[5]
    storage_d.entries = swapped
    assert verify_log(storage_d, SIGNER.public).first_bad_entry == 5

    inserted = {i if i < 9 else i + 1: data for i, data in storage.entries.items()}
    inserted[9] = entry(500).encode()
    storage_d.entries = inserted
    report = verify_log(storage_d, SIGNER.public)
    assert report.first_bad_entry == 9
    assert not report.ok

    storage_d.entries = {**storage.entries, 30: entry(30).encode()}
    assert "not covered" in " ".join(verify_log(storage_d, SIGNER.public).problems)


def test_swapped_signature_and_foreign_key() -> None:
    _, storage = filled(30)
    a, b = storage.heads[1], storage.heads[2]
    storage.heads[1] = SignedTreeHead(a.head, b.signature, a.key_id)
    report = verify_log(storage, SIGNER.public)
    assert not report.ok
    assert "signature" in report.problems[0]
    assert not verify_log(filled(5)[1], Signer(Ed25519PrivateKey.generate()).public).ok


def test_rollback_against_a_checkpoint() -> None:
    log, storage = filled(40)
    checkpoint = log.head()
    assert checkpoint is not None
    rolled = MemoryStorage()
    for i in range(21):
        rolled.entries[i] = storage.entries[i]
    rolled.node_hashes = storage.node_hashes
    rolled.heads = [h for h in storage.heads if h.size <= 21]
    assert verify_log(rolled, SIGNER.public).ok  # consistent in itself...
    report = verify_log(rolled, SIGNER.public, checkpoint=checkpoint)
    assert not report.ok
    assert "rolled back" in report.problems[0]


def test_rewritten_history_fails_the_checkpoint() -> None:
    log, _storage = filled(40)
    checkpoint = log.head()
    other, other_storage = filled(0)
    other.append([entry(i, EventType.INGEST) for i in range(40)])  # same size, same key, other history
    report = verify_log(other_storage, SIGNER.public, checkpoint=checkpoint)
    assert not report.ok
    assert report.first_bad_entry == 0


def test_file_witness(tmp_path: Path) -> None:
    log, storage = filled(10)
    witness = FileWitness(tmp_path / "witness.jsonl", SIGNER.public)
    assert witness.observe(storage.heads[0], [])
    last = witness.last()
    assert last is not None
    head = log.head()
    assert head is not None
    assert witness.observe(head, log.consistency_proof(last.size))
    assert not witness.observe(head, [])
    with pytest.raises(WitnessError, match="rollback"):
        witness.observe(storage.heads[0], [])
    forked, _ = filled(0)
    forked.append([entry(i, EventType.EXPORT) for i in range(12)])
    forked_head = forked.head()
    assert forked_head is not None
    with pytest.raises(WitnessError, match="not consistent"):
        witness.observe(forked_head, forked.consistency_proof(10))
    assert len((tmp_path / "witness.jsonl").read_text().splitlines()) == 2


def test_a_damaged_interior_node_is_reported() -> None:
    _log, storage = filled(64)
    storage.node_hashes[(3, 2)] = b"\x00" * 32
    report = verify_log(storage, SIGNER.public)
    assert not report.ok
    assert "node (3, 2)" in report.problems[0]
