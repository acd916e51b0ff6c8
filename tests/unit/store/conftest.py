"""Store fixtures: every store test runs on SQLite, and on PostgreSQL when one answers.

PostgreSQL is the one the machine provides on 127.0.0.1:5432 (trust auth, database
``test``; ``MEDSIGHT_TEST_POSTGRES_URL`` names another). Each test session migrates a
schema of its own, ``medsight_test_<random>``, and drops it at the end, so parallel
runs do not collide; each test starts from empty tables.
"""

from __future__ import annotations

import io
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from tests.data.synthetic import write_ct_series

from medsight.settings import StoreSettings
from medsight.store import Store
from medsight.store.database import make_engine
from medsight.store.migrate import upgrade
from medsight.store.models import Base

POSTGRES_URL = os.environ.get("MEDSIGHT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MAX_OBJECT_BYTES = 1024 * 1024


def _postgres_answers(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the test database, dropped (with all it holds) afterwards."""
    if not _postgres_answers(POSTGRES_URL):
        pytest.skip(f"no PostgreSQL answers at {make_url(POSTGRES_URL).host}:{make_url(POSTGRES_URL).port}")
    schema = f"medsight_test_{secrets.token_hex(6)}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_schema: str) -> str:
    """A ``MEDSIGHT_DATABASE_URL`` whose connections work in the session's schema."""
    return f"{POSTGRES_URL}?options=-csearch_path%3D{postgres_schema}"


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """An engine on the session's schema, migrated."""
    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store on each backend."""
    if request.param == "sqlite":
        opened = Store.open(StoreSettings(data_dir=tmp_path / "var", max_object_bytes=MAX_OBJECT_BYTES))
    else:
        engine: Engine = request.getfixturevalue("postgres_engine")
        with engine.begin() as connection:
            # Every table the models know, so tables added later start empty too.
            tables = ", ".join(f'"{name}"' for name in Base.metadata.tables)
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        opened = Store(engine, tmp_path / "objects", max_object_bytes=MAX_OBJECT_BYTES)
    yield opened
    if request.param == "sqlite":
        opened.close()


@pytest.fixture(scope="session")
def ct_series(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """Three small CT slices with the planted patient data (instance numbers 1-3)."""
    paths = write_ct_series(tmp_path_factory.mktemp("ct"), slices=3, rows=8, columns=8)
    return [path.read_bytes() for path in paths]


Variant = Callable[..., bytes]


@pytest.fixture(scope="session")
def variant() -> Variant:
    """``variant(data, **attributes)``: the object ``data`` with attributes set (None deletes)."""
    return _variant


def _variant(data: bytes, **attributes: Any) -> bytes:
    dataset = pydicom.dcmread(io.BytesIO(data))
    for keyword, value in attributes.items():
        if value is None:
            delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    if "SOPInstanceUID" in attributes and attributes["SOPInstanceUID"] is not None:
        dataset.file_meta.MediaStorageSOPInstanceUID = attributes["SOPInstanceUID"]
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()
