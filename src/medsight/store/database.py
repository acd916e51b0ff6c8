"""The store's database engine: SQLite in the data folder by default, PostgreSQL on request.

SQLite is set up for a server that several threads write to: WAL (readers never wait
for the writer), foreign keys on (off by default in SQLite), a busy timeout instead of
an immediate "database is locked", ``synchronous=FULL`` so an acknowledged store
survives a power cut, and case-sensitive ``LIKE`` so that wildcard matching means the
same as on PostgreSQL (PS3.4 C.2.2.2.4: matching is case-sensitive except for PN).

A write transaction on SQLite starts with ``BEGIN IMMEDIATE`` (see :func:`write_session`):
a deferred transaction that reads and then writes fails at once, busy timeout or
not, when another writer committed in between; an immediate one waits its turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from medsight.errors import MedsightError
from medsight.settings import StoreSettings

__all__ = ["DATABASE_FILE", "Tables", "database_url", "make_engine", "write_session"]

DATABASE_FILE = "medsight.db"
_BUSY_TIMEOUT_S = 30
_WRITE = "medsight_write"  # execution option that asks for BEGIN IMMEDIATE on SQLite


def database_url(settings: StoreSettings) -> str:
    """The URL to connect to: ``MEDSIGHT_DATABASE_URL``, else SQLite in the data folder."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return f"sqlite+pysqlite:///{Path(settings.data_dir).resolve() / DATABASE_FILE}"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the store's connection settings.

    Args:
        url: a SQLAlchemy URL; ``sqlite`` and ``postgresql+psycopg`` are supported.
        kwargs: passed to :func:`sqlalchemy.create_engine` (tests pass ``connect_args``).
    """
    parsed = make_url(url)
    # Bound parameters are patient data: keep them out of SQLAlchemy's logs and messages.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {}).setdefault("timeout", _BUSY_TIMEOUT_S)
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN, instead of the driver's own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            f"busy_timeout={_BUSY_TIMEOUT_S * 1000}",
            "synchronous=FULL",
            "case_sensitive_like=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose transaction writes: committed on success, rolled back on any error."""
    with factory() as session:
        session.connection(execution_options={_WRITE: True})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class Tables:
    """Base of the classes that own some of the store's tables (accounts, jobs, feedback...).

    Holds the session factory and translates database errors at one place: a
    :class:`MedsightError` that names only the exception class, never a bound value
    (those can be patient data).

    Args:
        sessions: the store's session factory.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        try:
            with self.sessions() as session:
                yield session
        except SQLAlchemyError as exc:
            raise MedsightError(f"database query failed ({type(exc).__name__})") from exc

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        try:
            with write_session(self.sessions) as session:
                yield session
        except SQLAlchemyError as exc:
            raise MedsightError(f"database write failed ({type(exc).__name__})") from exc
