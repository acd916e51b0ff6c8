"""Witnessing over HTTP: this node hands its heads to a second medsight node, which refuses a rewritten history."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from tests.integration.server.live import free_port

from medsight.access import Role
from medsight.errors import LedgerIntegrityError
from medsight.ledger import Entry, EventType
from medsight.server import create_app
from medsight.services.context import ServiceContext
from medsight.services.ledger import LedgerService
from medsight.services.witness import push_to_witness
from medsight.settings import ServiceSettings


def _open(path: Path) -> ServiceContext:
    return ServiceContext.open(ServiceSettings(data_dir=path, analysis_workers=0, auto_analyze=False))


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A second node, served over real HTTP: its URL and a token with ledger:witness."""
    context = _open(tmp_path / "peer")
    server = uvicorn.Server(uvicorn.Config(create_app(context=context), port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}", context.access.issue_token(role=Role.DEVICE).value
    finally:
        server.should_exit = True
        thread.join(10)
        context.close()


def _views(ledger: LedgerService, n: int, event: EventType = EventType.VIEW) -> None:
    for i in range(n):
        ledger.record_now(Entry.now(event, "user:a", f"study:{i:02x}"))


def test_a_peer_witnesses_growth_and_refuses_a_rewrite(tmp_path: Path, peer: tuple[str, str]) -> None:
    url, token = peer
    node = _open(tmp_path / "node")
    try:
        assert node.ledger is not None
        _views(node.ledger, 3)
        assert push_to_witness(node.ledger, url, token)["tree_size"] == 3
        _views(node.ledger, 2)
        assert push_to_witness(node.ledger, url, token)["new"] is True
    finally:
        node.close()
    # The same key over another history (the database replaced): the witness says no.
    (tmp_path / "node" / "medsight.db").unlink()
    rewritten = _open(tmp_path / "node")
    try:
        assert rewritten.ledger is not None
        _views(rewritten.ledger, 2, EventType.EXPORT)
        with pytest.raises(LedgerIntegrityError, match="rolled back"):
            push_to_witness(rewritten.ledger, url, token)
        _views(rewritten.ledger, 5, EventType.EXPORT)
        with pytest.raises(LedgerIntegrityError, match="refuses"):
            push_to_witness(rewritten.ledger, url, token)
    finally:
        rewritten.close()
