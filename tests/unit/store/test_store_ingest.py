"""Ingest and retrieval: round trips, idempotence, replacement, atomicity, integrity."""

from __future__ import annotations

import logging
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from tests.data.synthetic import PLANTED

from medsight.errors import (
    InvalidDicomError,
    MedsightError,
    ResourceLimitError,
    StoredInstanceNotFoundError,
    StoredObjectCorruptError,
)
from medsight.settings import StoreSettings
from medsight.store import IngestStatus, SeriesQuery, Store, StudyQuery
from medsight.store.models import Instance, Patient, Series, Study

Variant = Callable[..., bytes]


def _count(store: Store, model: type) -> int:
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _files(store: Store) -> list[str]:
    return list(store.blobs.iter_hashes())


def test_ingest_then_open_round_trips_the_bytes(store: Store, ct_series: list[bytes]) -> None:
    results = [store.ingest(data) for data in ct_series]
    assert [r.status for r in results] == [IngestStatus.STORED] * 3
    for result, data in zip(results, ct_series, strict=True):
        assert store.open_instance(result.sop_instance_uid) == data
        assert result.size == len(data)
    assert len({r.study_instance_uid for r in results}) == 1
    (study,) = store.studies(StudyQuery())
    assert (study.number_of_series, study.number_of_instances, study.modalities_in_study) == (1, 3, ("CT",))
    assert study.patient_id == PLANTED["PatientID"]
    assert study.patient_name == PLANTED["PatientName"]
    (series,) = store.series(SeriesQuery(study_instance_uid=study.study_instance_uid))
    assert (series.modality, series.series_number, series.body_part_examined) == ("CT", 2, "CHEST")
    assert series.number_of_instances == 3


def test_iterating_a_series_gives_every_instance_in_instance_number_order(store: Store, ct_series: list[bytes]) -> None:
    for data in reversed(ct_series):
        store.ingest(data)
    (series,) = store.series(SeriesQuery())
    found = list(store.iter_instances(series.study_instance_uid, series.series_instance_uid))
    assert [i.instance_number for i, _ in found] == [1, 2, 3]
    assert [data for _, data in found] == ct_series
    assert [i.rows for i, _ in found] == [8, 8, 8]
    with pytest.raises(StoredInstanceNotFoundError):
        list(store.iter_instances("1.2.3.4"))


def test_re_ingesting_the_same_bytes_is_idempotent(store: Store, ct_series: list[bytes]) -> None:
    first = store.ingest(ct_series[0])
    again = store.ingest(ct_series[0])
    assert again.status is IngestStatus.ALREADY_STORED
    assert again.sha256 == first.sha256
    assert (_count(store, Instance), _count(store, Series), _count(store, Study), _count(store, Patient)) == (
        1,
        1,
        1,
        1,
    )
    assert _files(store) == [first.sha256]


def test_other_bytes_for_a_stored_instance_replace_it_with_a_warning_status(
    store: Store, ct_series: list[bytes], variant: Variant
) -> None:
    first = store.ingest(ct_series[0])
    changed = variant(ct_series[0], SeriesDescription="corrected")
    second = store.ingest(changed)
    assert second.status is IngestStatus.REPLACED
    assert second.sop_instance_uid == first.sop_instance_uid
    assert store.open_instance(first.sop_instance_uid) == changed
    assert _count(store, Instance) == 1
    assert _files(store) == [second.sha256]  # the replaced object's file is gone


def test_a_replacement_that_moves_an_instance_drops_the_emptied_series_and_study(
    store: Store, ct_series: list[bytes], variant: Variant
) -> None:
    store.ingest(ct_series[0])
    moved = variant(ct_series[0], StudyInstanceUID="1.2.826.0.1.99.1", SeriesInstanceUID="1.2.826.0.1.99.2")
    assert store.ingest(moved).status is IngestStatus.REPLACED
    assert [s.study_instance_uid for s in store.studies(StudyQuery())] == ["1.2.826.0.1.99.1"]
    assert _count(store, Series) == 1


def _fail_before_commit(store: Store) -> Callable[[], None]:
    """Make the next commit of the store's sessions fail after the rows were flushed."""

    def boom(session: Session) -> None:
        raise RuntimeError("injected failure before commit")

    event.listen(store.sessions, "before_commit", boom)
    return lambda: event.remove(store.sessions, "before_commit", boom)


def test_a_failure_between_file_and_rows_leaves_neither(store: Store, ct_series: list[bytes]) -> None:
    restore = _fail_before_commit(store)
    try:
        with pytest.raises(RuntimeError, match="injected"):
            store.ingest(ct_series[0])
    finally:
        restore()
    assert _files(store) == []
    assert (_count(store, Instance), _count(store, Series), _count(store, Study), _count(store, Patient)) == (
        0,
        0,
        0,
        0,
    )
    assert store.studies(StudyQuery()) == []
    assert store.ingest(ct_series[0]).status is IngestStatus.STORED  # and the store still works


def test_a_failed_replacement_keeps_the_old_object(store: Store, ct_series: list[bytes], variant: Variant) -> None:
    first = store.ingest(ct_series[0])
    restore = _fail_before_commit(store)
    try:
        with pytest.raises(RuntimeError):
            store.ingest(variant(ct_series[0], SeriesDescription="corrected"))
    finally:
        restore()
    assert store.open_instance(first.sop_instance_uid) == ct_series[0]
    assert _files(store) == [first.sha256]


def test_a_changed_file_is_detected_on_read(store: Store, ct_series: list[bytes]) -> None:
    result = store.ingest(ct_series[0])
    path = store.blobs.path(result.sha256)
    corrupt = bytearray(path.read_bytes())
    corrupt[-1] ^= 0x01
    path.chmod(0o600)
    path.write_bytes(bytes(corrupt))
    with pytest.raises(StoredObjectCorruptError, match="does not match"):
        store.open_instance(result.sop_instance_uid)
    path.unlink()
    with pytest.raises(StoredObjectCorruptError, match="missing"):
        store.open_instance(result.sop_instance_uid)


def test_an_unknown_instance_is_not_found(store: Store) -> None:
    with pytest.raises(StoredInstanceNotFoundError):
        store.open_instance("1.2.3")
    with pytest.raises(StoredInstanceNotFoundError):
        store.instance("1.2.3")


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda data: b"not dicom at all" * 20, InvalidDicomError),
        (lambda data: data[:100], InvalidDicomError),
        (lambda data: data + b"\0" * 1024 * 1024, ResourceLimitError),
    ],
    ids=["not-dicom", "truncated-header", "too-large"],
)
def test_bad_objects_are_refused_and_nothing_is_stored(
    store: Store, ct_series: list[bytes], make: Callable[[bytes], bytes], error: type[MedsightError]
) -> None:
    with pytest.raises(error):
        store.ingest(make(ct_series[0]))
    assert _files(store) == []
    assert _count(store, Instance) == 0


@pytest.mark.parametrize("keyword", ["SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"])
def test_an_object_without_a_required_uid_is_invalid_dicom(
    store: Store, ct_series: list[bytes], variant: Variant, keyword: str
) -> None:
    with pytest.raises(InvalidDicomError, match=keyword.replace("UID", " UID").replace("Instance", " Instance")):
        store.ingest(variant(ct_series[0], **{keyword: None}))
    assert _files(store) == []


def test_two_threads_storing_one_instance_leave_one_row(store: Store, ct_series: list[bytes]) -> None:
    _concurrently(store, [ct_series[0], ct_series[0]])
    assert _count(store, Instance) == 1
    assert len(_files(store)) == 1


def test_two_threads_storing_a_new_study_create_it_once(store: Store, ct_series: list[bytes]) -> None:
    statuses = _concurrently(store, ct_series[:2])
    assert statuses == [IngestStatus.STORED, IngestStatus.STORED]
    assert (_count(store, Study), _count(store, Series), _count(store, Instance)) == (1, 1, 2)


def _concurrently(store: Store, objects: list[bytes]) -> list[IngestStatus]:
    barrier = threading.Barrier(len(objects))
    statuses: list[IngestStatus] = []
    errors: list[BaseException] = []

    def run(data: bytes) -> None:
        barrier.wait()
        try:
            statuses.append(store.ingest(data).status)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(data,)) for data in objects]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    return sorted(statuses)


def test_orphan_files_are_swept_and_referenced_ones_kept(store: Store, ct_series: list[bytes]) -> None:
    kept = store.ingest(ct_series[0])
    with store.blobs.lock("ab" * 32):
        store.blobs.put(b"orphan", "ab" * 32)  # as a crash between file and rows would leave
    assert store.remove_orphans() == 1
    assert _files(store) == [kept.sha256]


def test_no_planted_patient_value_reaches_a_log_or_an_error(
    store: Store, ct_series: list[bytes], variant: Variant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    store.ingest(ct_series[0])
    store.ingest(ct_series[0])
    store.ingest(variant(ct_series[0], SeriesDescription="corrected"))
    failures: list[Callable[[], object]] = [
        lambda: store.ingest(variant(ct_series[1], SOPInstanceUID=None)),
        lambda: store.ingest(ct_series[1][:200]),
        lambda: store.studies(StudyQuery(study_date=PLANTED["PatientBirthDate"] + "x")),
        lambda: store.open_instance(PLANTED["PatientID"]),
        lambda: list(store.iter_instances(PLANTED["AccessionNumber"])),
    ]
    for failure in failures:
        with pytest.raises(MedsightError) as info:
            failure()
        texts.extend([str(info.value), repr(info.value), str(info.value.__cause__ or "")])
    texts.extend(record.getMessage() for record in caplog.records)
    texts.extend(repr(r) for r in store.studies(StudyQuery(patient_name="FAKE*")))
    texts.append(repr(StudyQuery(patient_name=PLANTED["PatientName"], patient_id=PLANTED["PatientID"])))
    for planted in PLANTED.values():
        assert not any(planted.casefold() in t.casefold() for t in texts), "planted patient data leaked"


def test_database_and_objects_are_owner_only(tmp_path: Path, ct_series: list[bytes]) -> None:
    store = Store.open(StoreSettings(data_dir=tmp_path / "var"))
    try:
        result = store.ingest(ct_series[0])
        for path in (tmp_path / "var", tmp_path / "var" / "medsight.db", store.blobs.path(result.sha256)):
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path.name
    finally:
        store.close()


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MEDSIGHT_DATABASE_URL", "postgresql+psycopg://user:secret@db/medsight")
    settings = StoreSettings()
    assert settings.data_dir == tmp_path
    assert settings.database_url is not None
    assert "secret" not in repr(settings)


def test_patients_without_an_id_are_never_merged(store: Store, ct_series: list[bytes], variant: Variant) -> None:
    for n, name in enumerate(["FIRST^ANON", "SECOND^ANON"], 1):
        for k in (1, 2):  # two instances of each study share that study's patient
            store.ingest(
                variant(
                    ct_series[0],
                    PatientID=None,
                    PatientName=name,
                    StudyInstanceUID=f"1.2.826.0.1.77.{n}",
                    SeriesInstanceUID=f"1.2.826.0.1.77.{n}.1",
                    SOPInstanceUID=f"1.2.826.0.1.77.{n}.1.{k}",
                )
            )
    found = {s.study_instance_uid: (s.patient_id, s.patient_name) for s in store.studies(StudyQuery())}
    assert found == {"1.2.826.0.1.77.1": (None, "FIRST^ANON"), "1.2.826.0.1.77.2": (None, "SECOND^ANON")}
    assert _count(store, Patient) == 2
    assert store.studies(StudyQuery(patient_id="*")) != []  # universal matching includes them
    assert store.studies(StudyQuery(patient_id="?*")) == []


def test_sqlite_writes_begin_immediate(tmp_path: Path, ct_series: list[bytes]) -> None:
    store = Store.open(StoreSettings(data_dir=tmp_path / "var"))
    begun: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: begun.append(args[2]))
    try:
        store.ingest(ct_series[0])
        store.studies(StudyQuery())
    finally:
        store.close()
    assert [s for s in begun if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN"]


def test_a_database_url_selects_postgresql(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ct_series: list[bytes]
) -> None:
    monkeypatch.setenv("MEDSIGHT_DATABASE_URL", postgres_url)
    store = Store.open(StoreSettings(data_dir=tmp_path / "var"))
    try:
        assert store.engine.dialect.name == "postgresql"
        sop_uid = store.ingest(ct_series[2]).sop_instance_uid
        assert store.open_instance(sop_uid) == ct_series[2]
        assert not (tmp_path / "var" / "medsight.db").exists()
    finally:
        store.close()  # the rows stay in the session's schema: each store test truncates first


def test_database_errors_are_translated_and_leave_no_file(tmp_path: Path, ct_series: list[bytes]) -> None:
    from medsight.errors import OutputError

    store = Store.open(StoreSettings(data_dir=tmp_path / "var"), upgrade=False)  # no tables
    try:
        with pytest.raises(OutputError, match="database write failed") as written:
            store.ingest(ct_series[0])
        with pytest.raises(MedsightError, match="database query failed") as read:
            store.studies(StudyQuery(patient_name=PLANTED["PatientName"]))
        assert _files(store) == []
        for error in (written.value, read.value):
            assert "SELECT" not in error.message
            assert PLANTED["PatientName"].casefold() not in str(error.__cause__).casefold()
    finally:
        store.close()
