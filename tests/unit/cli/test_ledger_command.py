"""``medsight ledger``: keygen, verify (exit 0 intact, 5 tampered or rolled back), prove, checkpoint."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from medsight.cli.app import main
from medsight.ledger import Entry, EventType
from medsight.services.ledger import LedgerService
from medsight.settings import StoreSettings
from medsight.store import Store


class Done:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def medsight(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The command in this process (a fresh interpreter costs seconds a call on a loaded machine)."""

    def run(*args: str | Path) -> Done:
        monkeypatch.setattr(sys, "argv", ["medsight", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return run


def _record(var: Path, n: int) -> None:
    store = Store.open(StoreSettings(data_dir=var))
    try:
        ledger = LedgerService.open(store.sessions, var)
        for i in range(n):
            ledger.record_now(Entry.now(EventType.VIEW, "user:dr.ada", f"study:{i:032x}"))
    finally:
        store.close()


def test_verify_prove_checkpoint_and_tampering(tmp_path: Path, medsight) -> None:  # type: ignore[no-untyped-def]
    var = tmp_path / "var"
    assert medsight("ledger", "keygen", "--data-dir", var).returncode == 0
    _record(var, 12)
    done = medsight("ledger", "verify", "--json", "--data-dir", var)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["entries"] == 12

    checkpoint = tmp_path / "checkpoint.json"
    witness = tmp_path / "witness.jsonl"
    assert (
        medsight("ledger", "checkpoint", "--out", checkpoint, "--witness", witness, "--data-dir", var).returncode == 0
    )
    receipt = tmp_path / "receipt.json"
    assert medsight("ledger", "prove", "4", "--out", receipt, "--data-dir", var).returncode == 0
    offline = subprocess.run(
        [sys.executable, "-m", "medsight.ledger.verify_receipt", "--public-key", var / "ledger.key.pub", receipt],
        capture_output=True,
        text=True,
        check=False,
    )
    assert offline.returncode == 0, offline.stdout

    # Roll the database back by two entries (and the heads that signed them): consistent alone...
    with sqlite3.connect(var / "medsight.db") as db:
        db.execute("DELETE FROM ledger_entries WHERE idx >= 10")
        db.execute("DELETE FROM ledger_heads WHERE tree_size > 10")
    assert medsight("ledger", "verify", "--data-dir", var).returncode == 0
    # ...but not with the checkpoint kept elsewhere.
    rolled = medsight("ledger", "verify", "--from-checkpoint", checkpoint, "--data-dir", var)
    assert rolled.returncode == 5
    assert "error[ledger.integrity]" in rolled.stderr
    assert "rolled back" in rolled.stderr

    with sqlite3.connect(var / "medsight.db") as db:
        db.execute(
            "UPDATE ledger_entries SET data = "
            "CAST(replace(CAST(data AS TEXT), 'dr.ada', 'dr.eve') AS BLOB) WHERE idx = 7"
        )
    tampered = medsight("ledger", "verify", "--data-dir", var)
    assert tampered.returncode == 5
    assert "first bad entry: 7" in tampered.stderr
