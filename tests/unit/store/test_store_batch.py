"""Batch ingest (one upload, one transaction): same outcomes as one object at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from tests.unit.store.conftest import Variant

from medsight.errors import InvalidDicomError, OutputError
from medsight.store import IngestStatus, Store, StudyQuery
from medsight.store.models import Instance, Series, Study


def _count(store: Store, model: type) -> int:
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _files(store: Store) -> list[str]:
    return list(store.blobs.iter_hashes())


def _commits(store: Store) -> list[int]:
    counted: list[int] = []
    event.listen(store.sessions, "after_commit", lambda _session: counted.append(1))
    return counted


def test_a_batch_stores_every_object_in_one_transaction(store: Store, ct_series: list[bytes]) -> None:
    commits = _commits(store)
    outcomes = store.ingest_prepared([store.prepare(data) for data in ct_series])
    assert [outcome.status for outcome in outcomes] == [IngestStatus.STORED] * 3  # type: ignore[union-attr]
    assert len(commits) == 1
    assert (_count(store, Instance), _count(store, Series), _count(store, Study)) == (3, 1, 1)
    assert len(_files(store)) == 3
    [study] = store.studies(StudyQuery())
    assert study.number_of_instances == 3


def test_a_batch_mixing_stored_and_new_objects_reports_each(store: Store, ct_series: list[bytes]) -> None:
    store.ingest(ct_series[0])
    outcomes = store.ingest_prepared([store.prepare(data) for data in ct_series])
    assert [outcome.status for outcome in outcomes] == [  # type: ignore[union-attr]
        IngestStatus.ALREADY_STORED,
        IngestStatus.STORED,
        IngestStatus.STORED,
    ]


def test_one_instance_twice_in_a_batch_is_stored_then_replaced(
    store: Store, ct_series: list[bytes], variant: Variant
) -> None:
    changed = variant(ct_series[0], SeriesDescription="corrected")
    outcomes = store.ingest_prepared([store.prepare(ct_series[0]), store.prepare(changed)])
    assert [outcome.status for outcome in outcomes] == [IngestStatus.STORED, IngestStatus.REPLACED]  # type: ignore[union-attr]
    assert len(_files(store)) == 1
    assert store.open_instance(outcomes[1].sop_instance_uid) == changed  # type: ignore[union-attr]


def test_one_object_whose_rows_fail_costs_only_itself(
    store: Store, ct_series: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = store.prepare(ct_series[1])
    original = Session.flush

    def flush(self: Session, *args: object, **kwargs: object) -> None:
        if any(getattr(row, "sop_instance_uid", None) == bad.record.sop_instance_uid for row in self.new):
            raise OutputError("injected row failure")
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Session, "flush", flush)
    outcomes = store.ingest_prepared([store.prepare(ct_series[0]), bad, store.prepare(ct_series[2])])
    monkeypatch.undo()
    assert isinstance(outcomes[1], OutputError)
    assert [outcomes[0].status, outcomes[2].status] == [IngestStatus.STORED] * 2  # type: ignore[union-attr]
    assert _count(store, Instance) == 2
    assert bad.sha256 not in _files(store)  # its file went with its rows


def test_a_file_that_cannot_be_written_fails_alone(
    store: Store, ct_series: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = store.prepare(ct_series[0])
    original = store.blobs.put

    def put(data: bytes, sha256: str) -> bool:
        if sha256 == bad.sha256:
            raise OutputError("injected disk failure")
        return original(data, sha256)

    monkeypatch.setattr(store.blobs, "put", put)
    outcomes = store.ingest_prepared([bad, store.prepare(ct_series[1])])
    assert isinstance(outcomes[0], OutputError)
    assert outcomes[1].status is IngestStatus.STORED  # type: ignore[union-attr]
    assert _count(store, Instance) == 1


def test_an_unexpected_failure_leaves_nothing(store: Store, ct_series: list[bytes]) -> None:
    def boom(_session: Session) -> None:
        raise RuntimeError("injected")

    event.listen(store.sessions, "before_commit", boom)
    try:
        with pytest.raises(RuntimeError):
            store.ingest_prepared([store.prepare(data) for data in ct_series])
    finally:
        event.remove(store.sessions, "before_commit", boom)
    assert _files(store) == []
    assert _count(store, Instance) == 0


def test_prepare_refuses_what_ingest_refuses(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InvalidDicomError):
        store.prepare(b"not dicom at all" * 20)
    assert store.ingest_prepared([]) == []
