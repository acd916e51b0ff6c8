"""The ledger as the service uses it: record events, hand out receipts and proofs, verify.

Every recorded event goes into the database transaction of the action it records:
either the caller passes its session (:meth:`LedgerService.record`), or, for actions
that only read (viewing, downloading), :meth:`LedgerService.record_now` commits the
entry before the action's data is sent, so an action that cannot be logged does not
happen. Ingest is recorded without touching the store: :meth:`LedgerService.attach`
listens on the store's sessions and, in the transaction that commits new or replaced
instance rows, appends one ``ingest`` entry per instance (object: its sha256), by the
actor :func:`acting` names.

Receipts of the entries one request made are collected by :func:`collect_receipts`
(the server adds them to the response as a header), so JSON bodies stay as they were.

The signing key is ``<data-dir>/ledger.key`` (``medsight ledger keygen``); a service
that starts without one makes one, so a fresh install logs from its first request.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from medsight.access.tokens import split_token
from medsight.errors import LedgerIntegrityError, MedsightError, UnknownResourceError, UsageError
from medsight.ledger import (
    Entry,
    EntryFormatError,
    EventType,
    FileWitness,
    KeyFileError,
    Log,
    LogStateError,
    PublicKey,
    Receipt,
    SignedTreeHead,
    Signer,
    VerifyReport,
    WitnessError,
    generate_key,
    verify_log,
)
from medsight.settings import StoreSettings
from medsight.store import Store
from medsight.store.ledger import LedgerTables
from medsight.store.models import Consent, Instance, Job

__all__ = [
    "KEY_FILE",
    "LedgerService",
    "acting",
    "actor_id",
    "collect_receipts",
    "ensure_key",
    "hashed",
    "key_path",
    "record_model_deploy",
    "study_object",
]

_log = logging.getLogger(__name__)

KEY_FILE = "ledger.key"
_SYSTEM = "system:medsight"
_actor: contextvars.ContextVar[str] = contextvars.ContextVar("medsight_ledger_actor", default=_SYSTEM)
_receipts: contextvars.ContextVar[list[Receipt] | None] = contextvars.ContextVar(
    "medsight_ledger_receipts", default=None
)
_PENDING = "medsight_ledger_pending"


def key_path(data_dir: Path) -> Path:
    """Where the service's signing key lives."""
    return Path(data_dir) / KEY_FILE


def ensure_key(data_dir: Path) -> Signer:
    """Load the signing key, making one on first use.

    Raises:
        LedgerIntegrityError: the key file exists but is not a usable Ed25519 key.
    """
    path = key_path(data_dir)
    try:
        if not path.exists():
            generate_key(path)
            _log.info("ledger: new signing key %s", path.name)
        return Signer.from_file(path)
    except KeyFileError as exc:
        raise LedgerIntegrityError(str(exc)) from exc


def study_object(study_instance_uid: str) -> str:
    """A study's pseudonymous id in the ledger: ``study:`` and 128 bits of a domain-separated SHA-256.

    Whoever holds the UID can find its entries; the ledger alone never reveals it.
    """
    return hashed("study", study_instance_uid)


def hashed(kind: str, value: str) -> str:
    """``kind:`` and 128 bits of SHA-256 of ``value`` (a name typed at a login prompt, a token id)."""
    digest = hashlib.sha256(b"medsight-ledger/" + kind.encode() + b"\x00" + value.encode()).hexdigest()
    return f"{kind}:{digest[:32]}"


def actor_id(actor: str) -> str:
    """A principal's actor as the ledger writes it (``user:<name>``, ``token:<id>`` kept as is)."""
    candidate = actor if ":" in actor else f"user:{actor}"
    try:
        Entry(EventType.VIEW, candidate, "x", 0)
    except EntryFormatError:
        return hashed("user", actor)  # a name outside the ledger's alphabet is hashed, never dropped
    return candidate


@contextmanager
def acting(actor: str) -> Iterator[None]:
    """Name who performs the actions in this block (the ingest listener reads it)."""
    token = _actor.set(actor_id(actor))
    try:
        yield
    finally:
        _actor.reset(token)


@contextmanager
def collect_receipts() -> Iterator[list[Receipt]]:
    """Collect the receipts of every entry recorded in this block (one request)."""
    collected: list[Receipt] = []
    token = _receipts.set(collected)
    try:
        yield collected
    finally:
        _receipts.reset(token)


def _keep(receipts: list[Receipt]) -> None:
    sink = _receipts.get()
    if sink is not None:
        sink.extend(receipts)


class _Waiter:
    """One entry waiting for the group commit that takes it."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.done = threading.Event()
        self.receipt: Receipt | None = None
        self.error: LedgerIntegrityError | None = None


def _entries_for(session: Session) -> list[Entry]:
    """The events in a flush: instances stored (ingest), analyses requested, consent decisions."""
    actor = _actor.get()
    entries: list[Entry] = []
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Instance) and (obj in session.new or session.is_modified(obj)):
            entries.append(Entry.now(EventType.INGEST, actor, f"sha256:{obj.sha256}"))
        elif isinstance(obj, Job) and obj in session.new:
            entries.append(
                Entry.now(
                    EventType.ANALYZE,
                    actor_id(obj.requested_by),
                    study_object(obj.study_instance_uid),
                    model=_model_token(obj.model_name),
                    model_version=_model_token(obj.model_version),
                )
            )
        elif isinstance(obj, Consent) and obj in session.new:
            entries.append(Entry.now(EventType.CONSENT_CHANGE, actor_id(obj.recorded_by), f"patient:{obj.pseudonym}"))
    return entries


def _model_token(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._+-" else "-" for c in text)[:64]
    return cleaned


class LedgerService:
    """The service's ledger: one signer, the SQL storage in the service database.

    Args:
        tables: the ledger tables.
        signer: the log's key.
    """

    def __init__(self, tables: LedgerTables, signer: Signer) -> None:
        self.tables = tables
        self.signer = signer
        # One sequencer per process: on SQLite the write transaction already serialises, on
        # PostgreSQL FOR UPDATE does; the lock only keeps this process's threads from queueing there.
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Waiter] = []

    @classmethod
    def open(cls, sessions: sessionmaker[Session], data_dir: Path) -> LedgerService:
        return cls(LedgerTables(sessions), ensure_key(data_dir))

    @property
    def public_key(self) -> PublicKey:
        return self.signer.public

    def record(self, session: Session, entry: Entry) -> Receipt:
        """Append ``entry`` in the caller's transaction; its receipt is valid once that commits."""
        return self.record_many(session, [entry])[-1]

    def record_many(self, session: Session, entries: list[Entry]) -> list[Receipt]:
        """Append several entries at once in the caller's transaction."""
        receipts = self._append(session, entries)
        _keep(receipts)
        return receipts

    def _append(self, session: Session, entries: list[Entry]) -> list[Receipt]:
        try:
            log = Log(self.tables.within(session), self.signer)
            result = log.append(entries)
            return [log.receipt(result.first + i) for i in range(result.count)]
        except (LogStateError, SQLAlchemyError) as exc:
            raise LedgerIntegrityError(f"the ledger could not record the event ({type(exc).__name__})") from exc

    def record_now(self, entry: Entry) -> Receipt:
        """Append ``entry`` in a transaction of its own, committed before this returns.

        Group commit: the entries of requests that arrive while a commit is under way wait
        and go together in the next transaction, one fsync and one signature for all. An
        idle service commits at once; a busy one does not pay a commit per request.
        """
        return self.record_all_now([entry])[0]

    def record_all_now(self, entries: list[Entry]) -> list[Receipt]:
        """:meth:`record_now` for several entries, committed in one transaction."""
        waiters = [_Waiter(entry) for entry in entries]
        with self._queue_lock:
            self._queue.extend(waiters)
        last = waiters[-1]
        while not last.done.is_set():
            if self._lock.acquire(timeout=0.05):
                try:
                    if not last.done.is_set():
                        self._commit_queued()
                finally:
                    self._lock.release()
        for waiter in waiters:
            if waiter.error is not None:
                raise waiter.error
        receipts = [w.receipt for w in waiters if w.receipt is not None]
        _keep(receipts)
        return receipts

    def _commit_queued(self) -> None:
        with self._queue_lock:
            batch, self._queue = self._queue, []
        if not batch:
            return
        try:
            with self.tables._writing() as session:
                receipts = self._append(session, [w.entry for w in batch])
            for waiter, receipt in zip(batch, receipts, strict=True):
                waiter.receipt = receipt
        except MedsightError as exc:
            error = (
                exc
                if isinstance(exc, LedgerIntegrityError)
                else LedgerIntegrityError(f"the ledger could not record the event ({exc.code})")
            )
            for waiter in batch:
                waiter.error = error
        finally:
            for waiter in batch:
                waiter.done.set()

    def event(self, event: EventType, object: str, **model: str) -> Receipt:
        """Record ``event`` on ``object`` by the current actor, now, in its own transaction."""
        return self.record_now(Entry.now(event, _actor.get(), object, **model))

    def record_access(self, event: EventType, actor: str, study_instance_uid: str) -> Receipt:
        """A read of a study (view, download, share-access), committed before the answer is sent."""
        return self.record_now(Entry.now(event, actor_id(actor), study_object(study_instance_uid)))

    def exported(self, actor: str, study_instance_uids: list[str]) -> list[Receipt]:
        """A de-identified export: each study de-identified, and exported, before the zip is sent."""
        who = actor_id(actor)
        entries = [
            Entry.now(event, who, study_object(uid))
            for uid in dict.fromkeys(study_instance_uids)
            for event in (EventType.DEIDENTIFY, EventType.EXPORT)
        ]
        return self.record_all_now(entries)

    def login_failure(self, authorization: str, client: str) -> None:
        """Record a refused credential: the token's public id when it has one (never its secret), the
        client's address hashed. A failure to record is logged, not raised: the caller gets its 401."""
        scheme, _, value = authorization.partition(" ")
        token_id = split_token(value.strip()) if scheme.lower() == "bearer" else None
        actor = actor_id(f"token:{token_id}") if token_id else "anonymous"
        try:
            self.record_now(Entry.now(EventType.LOGIN_FAILURE, actor, hashed("client", client)))
        except MedsightError as exc:
            _log.warning("ledger: a login failure was not recorded (%s)", exc.code)

    def attach(self, sessions: sessionmaker[Session]) -> None:
        """Record the events that transactions of ``sessions`` commit, in those transactions.

        One ``ingest`` per instance row added or replaced (object: the object's sha256), one
        ``analyze`` per analysis job created (object: the study's pseudonymous id; the model's
        name and version), one ``consent-change`` per consent decision (object: the
        patient's pseudonym). The store, the job queue and the consent registry need no
        change for it, and no path that writes those rows can skip the ledger.
        """

        def after_flush(session: Session, _context: Any) -> None:
            entries = _entries_for(session)
            if entries:
                session.info.setdefault(_PENDING, []).extend(entries)

        def before_commit(session: Session) -> None:
            session.flush()
            pending = session.info.pop(_PENDING, None)
            if pending:
                self.record_many(session, pending)

        def after_rollback(session: Session) -> None:
            session.info.pop(_PENDING, None)

        event.listen(sessions, "after_flush", after_flush)
        event.listen(sessions, "before_commit", before_commit)
        event.listen(sessions, "after_soft_rollback", lambda session, _tx: after_rollback(session))

    def publish_to(self, witness_file: Path | None) -> SignedTreeHead:
        """Sign the current tree now and, when given, append the head to an append-only witness file.

        Raises:
            LedgerIntegrityError: the witness file holds a head this log does not extend.
        """
        head = self.publish()
        if witness_file is not None:
            witness = FileWitness(witness_file, self.public_key)
            try:
                last = witness.last()
                witness.observe(head, self.consistency_proofs(last.size, head.size) if last else [])
            except WitnessError as exc:
                raise LedgerIntegrityError(f"the witness file refuses the head: {exc}") from exc
        return head

    def head(self) -> SignedTreeHead:
        """The latest signed head; an empty log signs its empty tree first."""
        with self.tables.reading() as storage:
            head = storage.latest_head()
        return head if head is not None else self.publish()

    def publish(self) -> SignedTreeHead:
        """Sign the current tree again, with the time now (periodic publication, checkpoints)."""
        with self._lock, self.tables.writing() as storage:
            return Log(storage, self.signer).publish()

    def receipt(self, index: int) -> Receipt:
        """The receipt of entry ``index`` against the latest head.

        Raises:
            UnknownResourceError: no such entry.
        """
        with self.tables.reading() as storage:
            try:
                return Log(storage).receipt(index)
            except LogStateError as exc:
                raise UnknownResourceError(str(exc)) from exc

    def inclusion(self, index: int, size: int | None = None) -> dict[str, Any]:
        """An inclusion proof as JSON (RFC 9162 section 2.1.3)."""
        with self.tables.reading() as storage:
            log = Log(storage)
            size = log.size() if size is None else size
            try:
                proof = log.inclusion_proof(index, size)
            except LogStateError as exc:
                raise UsageError(str(exc)) from exc
            data = storage.entry(index)
        try:
            leaf = {"entry": Entry.decode(data).to_json()} if data is not None else {}
        except EntryFormatError:
            leaf = {}  # a damaged entry: the proof is still served, `medsight ledger verify` names it
        return {"leaf_index": index, "tree_size": size, "inclusion_proof": [p.hex() for p in proof], **leaf}

    def consistency(self, old: int, new: int | None = None) -> dict[str, Any]:
        """A consistency proof as JSON (RFC 9162 section 2.1.4)."""
        with self.tables.reading() as storage:
            log = Log(storage)
            new = log.size() if new is None else new
            try:
                proof = log.consistency_proof(old, new)
            except LogStateError as exc:
                raise UsageError(str(exc)) from exc
        return {"first": old, "second": new, "consistency_proof": [p.hex() for p in proof]}

    def verify(
        self, checkpoint: SignedTreeHead | None = None, progress: Callable[[int], None] | None = None
    ) -> VerifyReport:
        """Recompute the whole log (see :func:`medsight.ledger.verify_log`)."""
        with self.tables.snapshot() as storage:
            return verify_log(storage, self.public_key, checkpoint, progress)

    def verify_with(
        self,
        key: PublicKey,
        checkpoint: SignedTreeHead | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> VerifyReport:
        """Recompute the whole log against a public key held elsewhere (an attacker may own the data folder)."""
        with self.tables.snapshot() as storage:
            return verify_log(storage, key, checkpoint, progress)

    def consistency_proofs(self, old: int, new: int) -> list[bytes]:
        """The raw consistency proof between two sizes (for witnesses)."""
        with self.tables.reading() as storage:
            try:
                return Log(storage).consistency_proof(old, new)
            except LogStateError as exc:
                raise UsageError(str(exc)) from exc

    def size(self) -> int:
        with self.tables.reading() as storage:
            return Log(storage).size()


def record_model_deploy(data_dir: Path, actor: str, name: str, version: str, config_sha256: str) -> Receipt:
    """A model released for use, in the ledger of the service on ``data_dir``.

    The entry's object is ``config-sha256:`` and the bundle's ``config_sha256``, which
    commits to the weights' hashes and to every setting that decides an output (threshold,
    calibration, input gate...): the release record beside it names both. Called before the
    release is written, so a release that cannot be logged is not made.

    Raises:
        LedgerIntegrityError: the entry could not be recorded.
    """
    store = Store.open(StoreSettings(data_dir=data_dir))
    try:
        ledger = LedgerService.open(store.sessions, data_dir)
        entry = Entry.now(
            EventType.MODEL_DEPLOY,
            actor_id(actor),
            f"config-sha256:{config_sha256}",
            model=_model_token(name),
            model_version=_model_token(version),
        )
        return ledger.record_now(entry)
    finally:
        store.close()
