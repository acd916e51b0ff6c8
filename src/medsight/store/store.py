"""The study store: DICOM objects in content-addressed files, their index in a database.

Ingest order is what makes an object visible only whole (docs/architecture.md, "Store"):

1. parse the header (:func:`medsight.io.dicom.index.index_record`), before anything is written;
2. write the file (temporary, fsync, rename) under its sha256;
3. write the rows in one transaction and commit.

Readers find objects through rows only, and a row is committed only after its file is
on disk, so a reader never sees a row without its file. When step 3 fails, the file
written in step 2 is removed before the error propagates, so a failure leaves neither.
(A process killed between 2 and 3 leaves an unreferenced file that no reader can
reach; :meth:`Store.remove_orphans` sweeps those.)

Logs carry statuses, sizes and hash prefixes only: never a UID or an attribute value.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, exists, select
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from medsight.errors import MedsightError, OutputError, ResourceLimitError, StoredInstanceNotFoundError
from medsight.io.dicom.index import IndexRecord, index_record
from medsight.settings import StoreSettings
from medsight.store import migrate
from medsight.store.blobs import BlobStore, sha256_hex
from medsight.store.database import DATABASE_FILE, Tables, database_url, make_engine, write_session
from medsight.store.encryption import check_keys, configured_keys
from medsight.store.keys import KeyRing
from medsight.store.models import Instance, Series, Study
from medsight.store.query import (
    InstanceQuery,
    InstanceResult,
    SeriesQuery,
    SeriesResult,
    StudyQuery,
    StudyResult,
    instance_result,
    search_instances,
    search_series,
    search_studies,
)
from medsight.store.rows import IngestStatus, RowCache, write_rows

__all__ = ["IngestResult", "PreparedObject", "Store"]

_log = logging.getLogger(__name__)
_ATTEMPTS = 3  # concurrent first instances of one study race on its unique UID: retry
_FILE_THREADS = 4  # fsync waits on the disk, not the CPU: a few overlap well even on 2 cores


@dataclass(frozen=True)
class PreparedObject:
    """An object checked and parsed, not yet written (see :meth:`Store.prepare`)."""

    data: bytes = field(repr=False)
    record: IndexRecord = field(repr=False)
    sha256: str


@dataclass
class _Committed:
    """Rows committed for one object; ``result`` is filled once its locks are released."""

    status: IngestStatus
    replaced: str | None
    result: IngestResult = field(init=False)


@dataclass(frozen=True)
class IngestResult:
    """The outcome of storing one object (UIDs kept out of the repr)."""

    status: IngestStatus
    sop_instance_uid: str = field(repr=False)
    series_instance_uid: str = field(repr=False)
    study_instance_uid: str = field(repr=False)
    sop_class_uid: str | None
    sha256: str
    size: int


class Store(Tables):
    """Ingest, query and retrieve DICOM instances.

    Args:
        engine: the database (migrated: see :meth:`open` and :func:`medsight.store.migrate.upgrade`).
        objects: the folder of content-addressed files.
        max_object_bytes: largest object :meth:`ingest` accepts.
    """

    def __init__(self, engine: Engine, objects: Path, *, max_object_bytes: int, keys: KeyRing | None = None) -> None:
        super().__init__(sessionmaker(engine, expire_on_commit=False))
        self.engine = engine
        self.blobs = BlobStore(objects, keys)
        self.max_object_bytes = max_object_bytes

    @classmethod
    def open(cls, settings: StoreSettings, *, upgrade: bool = True, create_key: bool = False) -> Store:
        """Open (and by default create or migrate) the store that ``settings`` describe.

        Args:
            create_key: make a master key in the data folder for a store that is not
                sealed yet and has none configured (the service's default; see
                :mod:`medsight.store.encryption`).

        Raises:
            EncryptionKeyError: the store is encrypted and its key is missing or another.
        """
        data_dir = Path(settings.data_dir)
        # Owner only: the database and the objects hold patient data.
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (data_dir / "objects").mkdir(exist_ok=True, mode=0o700)
        # The key first: a wrong key must stop everything before the database is touched.
        keys = configured_keys(settings, create=create_key)
        check_keys(data_dir / "objects", keys)
        url = database_url(settings)
        if settings.database_url is None:
            _create_private(data_dir / DATABASE_FILE)
        engine = make_engine(url)
        if upgrade:
            try:
                migrate.upgrade(engine)
            except SQLAlchemyError as exc:
                engine.dispose()
                raise MedsightError(f"cannot open the store's database ({type(exc).__name__})") from exc
        return cls(engine, data_dir / "objects", max_object_bytes=settings.max_object_bytes, keys=keys)

    def close(self) -> None:
        """Close the database connections."""
        self.engine.dispose()

    def prepare(self, data: bytes) -> PreparedObject:
        """Check and parse one object before anything is written.

        Raises:
            ResourceLimitError: the object is larger than ``max_object_bytes``.
            InvalidDicomError: not DICOM, or a required UID is missing.
        """
        if len(data) > self.max_object_bytes:
            raise ResourceLimitError(f"object of {len(data)} bytes, more than the limit of {self.max_object_bytes}")
        return PreparedObject(data=data, record=index_record(data), sha256=sha256_hex(data))

    def ingest(self, data: bytes) -> IngestResult:
        """Store one DICOM object (a PS3.10 file's bytes); idempotent per SOP Instance UID.

        Raises:
            ResourceLimitError: the object is larger than ``max_object_bytes``.
            InvalidDicomError: not DICOM, or a required UID is missing.
            OutputError: the file or the rows could not be written; nothing was stored.
        """
        [outcome] = self.ingest_prepared([self.prepare(data)])
        if isinstance(outcome, MedsightError):
            raise outcome
        return outcome

    def ingest_prepared(self, objects: Sequence[PreparedObject]) -> list[IngestResult | OutputError]:
        """Store several prepared objects (one upload) with one database transaction.

        Each object is stored whole or not at all, as with :meth:`ingest`; the outcome of
        each is in the list, in order. The files are written (and fsynced) in parallel,
        then all rows are committed together; if that transaction fails (another writer
        created the same study first, or one object's rows cannot be written) every
        object is retried in a transaction of its own, so one bad object never costs
        the others.
        """
        if not objects:
            return []
        if len({item.record.sop_instance_uid for item in objects}) < len(objects):
            # The same instance twice in one upload: its order matters, keep it sequential.
            return [outcome for item in objects for outcome in self.ingest_prepared([item])]
        with self.blobs.lock_many(item.sha256 for item in objects):
            written = self._put_files(objects)
            outcomes = self._commit_batch(objects, written)
        for item, outcome in zip(objects, outcomes, strict=True):
            if isinstance(outcome, _Committed):
                self._after_commit(item, outcome)
        return [outcome.result if isinstance(outcome, _Committed) else outcome for outcome in outcomes]

    def _put_files(self, objects: Sequence[PreparedObject]) -> list[bool | OutputError]:
        """Write each object's file; True where it was created now (fsync waits overlap)."""

        def put(item: PreparedObject) -> bool | OutputError:
            try:
                return self.blobs.put(item.data, item.sha256)
            except OutputError as exc:
                return exc

        if len(objects) == 1:
            return [put(objects[0])]
        with ThreadPoolExecutor(max_workers=min(_FILE_THREADS, len(objects)), thread_name_prefix="store") as pool:
            return list(pool.map(put, objects))

    def _commit_batch(
        self, objects: Sequence[PreparedObject], written: Sequence[bool | OutputError]
    ) -> list[_Committed | OutputError]:
        ready = [item for item, state in zip(objects, written, strict=True) if not isinstance(state, OutputError)]
        committed: dict[str, _Committed | OutputError] = {}
        try:
            if len(ready) > 1:
                committed = self._commit_together(ready)
        except (SQLAlchemyError, MedsightError):
            committed = {}  # nothing of the batch was committed: one transaction each below
        except BaseException:
            self._remove_created(objects, written, committed={})
            raise
        if len(committed) < len(ready):
            try:
                for item in ready:
                    if item.sha256 not in committed:
                        committed[item.sha256] = self._commit_one(item)
            except BaseException:
                self._remove_created(objects, written, committed)
                raise
        self._remove_created(objects, written, committed)
        return [
            state if isinstance(state, OutputError) else committed[item.sha256]
            for item, state in zip(objects, written, strict=True)
        ]

    def _commit_together(self, objects: Sequence[PreparedObject]) -> dict[str, _Committed | OutputError]:
        cache = RowCache()
        with write_session(self.sessions) as session:
            cache.prefetch(session, [item.record for item in objects])
            outcomes = {
                item.sha256: _Committed(*write_rows(session, item.record, item.sha256, len(item.data), cache))
                for item in objects
            }
        return dict(outcomes)

    def _commit_one(self, item: PreparedObject) -> _Committed | OutputError:
        try:
            return _Committed(*self._commit_rows(item.record, item.sha256, len(item.data)))
        except OutputError as exc:
            return exc

    def _remove_created(
        self,
        objects: Sequence[PreparedObject],
        written: Sequence[bool | OutputError],
        committed: dict[str, _Committed | OutputError],
    ) -> None:
        """Remove the files created now whose rows never committed: nothing may refer to them."""
        for item, created in zip(objects, written, strict=True):
            if created is True and not isinstance(committed.get(item.sha256), _Committed):
                self.blobs.remove(item.sha256)

    def _after_commit(self, item: PreparedObject, outcome: _Committed) -> None:
        if outcome.replaced is not None:
            try:
                self._remove_if_unreferenced(outcome.replaced)
            except (MedsightError, OSError) as exc:  # stored all the same: remove_orphans() sweeps it
                _log.warning("replaced object %s... not removed (%s)", outcome.replaced[:12], type(exc).__name__)
        _log.info("ingest %s: object %s... (%d bytes)", outcome.status, item.sha256[:12], len(item.data))
        outcome.result = IngestResult(
            status=outcome.status,
            sop_instance_uid=item.record.sop_instance_uid,
            series_instance_uid=item.record.series_instance_uid,
            study_instance_uid=item.record.study_instance_uid,
            sop_class_uid=item.record.sop_class_uid,
            sha256=item.sha256,
            size=len(item.data),
        )

    def _commit_rows(self, record: IndexRecord, sha256: str, size: int) -> tuple[IngestStatus, str | None]:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with write_session(self.sessions) as session:
                    return write_rows(session, record, sha256, size)
            except DatabaseIntegrityError as exc:
                # Another writer created the same patient, study, series or instance
                # first; a new transaction sees its row.
                if attempt == _ATTEMPTS:
                    raise OutputError(f"database write failed ({type(exc.orig).__name__})") from exc
            except SQLAlchemyError as exc:
                raise OutputError(f"database write failed ({type(exc).__name__})") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _remove_if_unreferenced(self, sha256: str) -> None:
        with self.blobs.lock(sha256), self._reading() as session:
            if not session.scalar(select(exists().where(Instance.sha256 == sha256))):
                self.blobs.remove(sha256)

    def open_instance(self, sop_instance_uid: str) -> bytes:
        """The stored bytes of one instance, checked against their sha256.

        Raises:
            StoredInstanceNotFoundError: no instance with this UID is stored.
            StoredObjectCorruptError: its file is missing or altered.
        """
        with self._reading() as session:
            sha256 = session.scalar(select(Instance.sha256).where(Instance.sop_instance_uid == sop_instance_uid))
        if sha256 is None:
            raise StoredInstanceNotFoundError("no stored instance has that SOP Instance UID")
        return self.blobs.get(sha256)

    def iter_instances(
        self, study_instance_uid: str, series_instance_uid: str | None = None
    ) -> Iterator[tuple[InstanceResult, bytes]]:
        """Each instance of a study (or one of its series) with its checked bytes, in query order.

        Raises:
            StoredInstanceNotFoundError: the study (or series) holds no stored instance.
            StoredObjectCorruptError: a file is missing or altered (raised when reached).
        """
        query = InstanceQuery(study_instance_uid=study_instance_uid, series_instance_uid=series_instance_uid)
        found = self.instances(query)
        if not found:
            raise StoredInstanceNotFoundError("no stored instance in that study or series")
        for instance in found:
            yield instance, self.blobs.get(instance.sha256)

    def studies(self, query: StudyQuery) -> list[StudyResult]:
        """Studies matching ``query`` (:func:`medsight.store.query.search_studies`)."""
        with self._reading() as session:
            return search_studies(session, query)

    def series(self, query: SeriesQuery) -> list[SeriesResult]:
        """Series matching ``query`` (:func:`medsight.store.query.search_series`)."""
        with self._reading() as session:
            return search_series(session, query)

    def instances(self, query: InstanceQuery) -> list[InstanceResult]:
        """Instances matching ``query`` (:func:`medsight.store.query.search_instances`)."""
        with self._reading() as session:
            return search_instances(session, query)

    def instance(self, sop_instance_uid: str) -> InstanceResult:
        """The index entry of one instance.

        Raises:
            StoredInstanceNotFoundError: no instance with this UID is stored.
        """
        with self._reading() as session:
            statement = select(Instance, Series.series_instance_uid, Study.study_instance_uid)
            statement = statement.join(Instance.series).join(Series.study)
            row = session.execute(statement.where(Instance.sop_instance_uid == sop_instance_uid)).one_or_none()
        if row is None:
            raise StoredInstanceNotFoundError("no stored instance has that SOP Instance UID")
        return instance_result(*row)

    def remove_orphans(self) -> int:
        """Delete files no instance refers to (left by a crash mid-ingest); return how many."""
        removed = 0
        for sha256 in list(self.blobs.iter_hashes()):
            with self.blobs.lock(sha256), self._reading() as session:
                if not session.scalar(select(exists().where(Instance.sha256 == sha256))):
                    self.blobs.remove(sha256)
                    removed += 1
        return removed


def _create_private(path: Path) -> None:
    """Create an empty file with mode 0600 (SQLite gives its -wal and -shm files the same)."""
    if not path.exists():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
