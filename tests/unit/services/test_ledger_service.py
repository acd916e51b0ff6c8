"""The service's ledger: events recorded in the transactions of the actions, group commit, receipts."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.data.chest_dicom import synthetic_chest_series

from medsight.errors import LedgerIntegrityError
from medsight.ledger import Entry, EventType, check_receipt
from medsight.services.consent import record_consent
from medsight.services.context import ServiceContext
from medsight.services.ledger import LedgerService, acting, collect_receipts, record_model_deploy, study_object
from medsight.settings import ServiceSettings
from medsight.store import StudyQuery
from medsight.store.consent import ConsentLog


@pytest.fixture
def context(tmp_path: Path) -> Iterator[ServiceContext]:
    opened = ServiceContext.open(ServiceSettings(data_dir=tmp_path / "var", analysis_workers=0, auto_analyze=False))
    try:
        yield opened
    finally:
        opened.close()


def _ledger(context: ServiceContext) -> LedgerService:
    assert context.ledger is not None
    return context.ledger


def _events(ledger: LedgerService) -> list[Entry]:
    with ledger.tables.reading() as storage:
        return [Entry.decode(data) for _, data in storage.iter_entries()]


def test_ingest_and_consent_are_recorded_in_their_transactions(context: ServiceContext, tmp_path: Path) -> None:
    ledger = _ledger(context)
    data = synthetic_chest_series(tmp_path, 2)
    with acting("dr.ada"), collect_receipts() as receipts:
        stored = [context.store.ingest(item) for item in data]
    events = _events(ledger)
    assert [e.event for e in events] == [EventType.INGEST, EventType.INGEST]
    assert {e.object for e in events} == {f"sha256:{hashlib.sha256(item).hexdigest()}" for item in data}
    assert {e.actor for e in events} == {"user:dr.ada"}
    assert len(receipts) == 2
    for receipt in receipts:
        check_receipt(receipt, ledger.public_key)
    # The object never carries the UID or anything read from the file.
    uid = stored[0].study_instance_uid
    assert all(uid not in e.object for e in events)

    record_consent(ConsentLog(context.store.sessions), "ANON-ABCDEFGHIJKLMNOP", "sharing", granted=True,
                   recorded_by="dr.ada", party="remote-reader")  # fmt: skip
    last = _events(ledger)[-1]
    assert last.event is EventType.CONSENT_CHANGE
    assert last.object == "patient:ANON-ABCDEFGHIJKLMNOP"
    assert ledger.verify().ok


def test_an_action_whose_entry_cannot_be_written_does_not_happen(context: ServiceContext, tmp_path: Path) -> None:
    ledger = _ledger(context)
    broken = ledger.signer

    class Failing:
        public = broken.public

        def sign(self, head):  # type: ignore[no-untyped-def]
            raise RuntimeError("the key is gone")

    ledger.signer = Failing()  # type: ignore[assignment]
    data = synthetic_chest_series(tmp_path, 1)[0]
    with pytest.raises(RuntimeError):
        context.store.ingest(data)
    ledger.signer = broken
    assert ledger.size() == 0
    assert context.store.studies(StudyQuery()) == []


def test_group_commit_gives_every_caller_its_receipt(context: ServiceContext) -> None:
    ledger = _ledger(context)
    results: list[int] = []
    errors: list[BaseException] = []

    def view(i: int) -> None:
        try:
            with acting(f"reader{i % 3}"):
                receipt = ledger.event(EventType.VIEW, study_object(f"1.2.3.{i}"))
            check_receipt(receipt, ledger.public_key)
            results.append(receipt.index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=view, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results) == list(range(24))
    report = ledger.verify()
    assert report.ok
    assert report.heads <= 24


def test_a_failed_commit_fails_every_waiting_caller(context: ServiceContext) -> None:
    ledger = _ledger(context)
    ledger.signer = None  # type: ignore[assignment]
    with pytest.raises(LedgerIntegrityError):
        ledger.event(EventType.VIEW, "study:00")


def test_an_export_records_de_identify_and_export_per_study(context: ServiceContext) -> None:
    ledger = _ledger(context)
    receipts = ledger.exported("dr.ada", ["1.2.3", "1.2.4", "1.2.3"])
    assert [check_receipt(r, ledger.public_key).event for r in receipts] == [
        EventType.DEIDENTIFY,
        EventType.EXPORT,
        EventType.DEIDENTIFY,
        EventType.EXPORT,
    ]
    assert len({r.head.size for r in receipts}) == 1  # one transaction, one signed head


def test_a_model_release_is_recorded_with_its_name_version_and_settings(tmp_path: Path) -> None:
    receipt = record_model_deploy(tmp_path / "var", "ops", "cxr-pneumonia-28", "1.0.0", "ab" * 32)
    entry = Entry.decode(receipt.entry)
    expected = (EventType.MODEL_DEPLOY, "user:ops", "config-sha256:" + "ab" * 32)
    assert (entry.event, entry.actor, entry.object) == expected
    assert (entry.model, entry.model_version) == ("cxr-pneumonia-28", "1.0.0")
