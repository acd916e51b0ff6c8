"""An app on a fresh SQLite store, and a token for every role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from medsight.access import Role
from medsight.server import create_app
from medsight.services.context import ServiceContext
from medsight.settings import ServiceSettings


@pytest.fixture
def context(tmp_path: Path) -> Iterator[ServiceContext]:
    opened = ServiceContext.open(ServiceSettings(data_dir=tmp_path / "var", analysis_workers=0, auto_analyze=False))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def app(context: ServiceContext) -> FastAPI:
    return create_app(context=context)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as opened:
        yield opened


@pytest.fixture
def tokens(context: ServiceContext) -> dict[Role, str]:
    return {role: context.access.issue_token(role=role).value for role in Role}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
