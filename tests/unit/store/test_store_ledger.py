"""The ledger over the service database: the same log, proofs and tamper detection as in memory."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, text, update

from medsight.ledger import Entry, EventType, Log, Signer, check_receipt, verify_log
from medsight.ledger.hashing import leaf_hash, root_of
from medsight.store import Store
from medsight.store.ledger import LedgerTables
from medsight.store.models import LedgerEntry

SIGNER = Signer(Ed25519PrivateKey.generate())


def _fill(tables: LedgerTables, n: int, batch: int = 10) -> None:
    for start in range(0, n, batch):
        with tables.writing() as storage:
            Log(storage, SIGNER).append(
                [
                    Entry(EventType.VIEW, "user:reader", f"study:{i:032x}", 1_764_000_000_000 + i)
                    for i in range(start, start + batch)
                ]
            )


def test_append_prove_verify(store: Store) -> None:
    tables = LedgerTables(store.sessions)
    _fill(tables, 50)
    with tables.reading() as storage:
        log = Log(storage)
        assert log.size() == 50
        leaves = [leaf_hash(data) for _, data in storage.iter_entries()]
        assert log.root(50) == root_of(leaves)
        assert log.root(23) == root_of(leaves[:23])
        check_receipt(log.receipt(37), SIGNER.public)
        assert verify_log(storage, SIGNER.public).ok


def test_an_entry_in_the_callers_transaction_rolls_back_with_it(store: Store) -> None:
    tables = LedgerTables(store.sessions)
    _fill(tables, 10)
    try:
        with tables._writing() as session:
            Log(tables.within(session), SIGNER).append([Entry(EventType.EXPORT, "user:a", "study:ff", 1)])
            raise RuntimeError("the action failed")
    except RuntimeError:
        pass
    with tables.reading() as storage:
        assert Log(storage).size() == 10
        assert verify_log(storage, SIGNER.public).ok


def test_tampering_in_the_database_is_found(store: Store) -> None:
    tables = LedgerTables(store.sessions)
    _fill(tables, 40)
    with tables.reading() as storage:
        checkpoint = Log(storage).head()
    with store.sessions() as session:
        data = bytearray(session.get(LedgerEntry, 17).data)  # type: ignore[union-attr]
        data[12] ^= 1
        session.execute(update(LedgerEntry).where(LedgerEntry.idx == 17).values(data=bytes(data)))
        session.commit()
    with tables.reading() as storage:
        assert verify_log(storage, SIGNER.public).first_bad_entry == 17
    with store.sessions() as session:
        session.execute(delete(LedgerEntry).where(LedgerEntry.idx >= 10))
        session.execute(text("DELETE FROM ledger_heads WHERE tree_size > 10"))
        session.commit()
    with tables.reading() as storage:
        assert verify_log(storage, SIGNER.public).ok  # a consistent rollback...
        report = verify_log(storage, SIGNER.public, checkpoint=checkpoint)
        assert not report.ok  # ...is caught by the checkpoint kept elsewhere


def test_verification_reads_one_snapshot_while_appends_go_on(store: Store) -> None:
    tables = LedgerTables(store.sessions)
    _fill(tables, 20)
    with tables.snapshot() as storage:
        heads = list(storage.iter_heads())
        _fill(tables, 10)  # another writer commits meanwhile
        entries = list(storage.iter_entries())
    assert heads[-1].size == len(entries) == 20
