"""``medsight ledger``: keys, verification, proofs and checkpoints of the verifiable ledger (issue 9)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from medsight.cli._progress import progress_bar
from medsight.cli._service import DataDirOption, service_settings
from medsight.errors import LedgerIntegrityError, UsageError
from medsight.ledger import FileWitness, KeyFileError, PublicKey, SignedTreeHead, WitnessError, generate_key
from medsight.services.ledger import LedgerService, key_path
from medsight.services.witness import push_to_witness
from medsight.store import Store

__all__ = ["ledger_app"]

ledger_app = typer.Typer(
    help="The verifiable ledger: every access, share and inference, in a signed Merkle log.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
PublicKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        help="The log's public key (hex), kept apart from the data (default: DATA_DIR/ledger.key.pub).",
        show_default=False,
    ),
]


@contextmanager
def _opened(data_dir: Path | None) -> Iterator[LedgerService]:
    settings = service_settings(data_dir)
    if not key_path(settings.data_dir).exists():
        raise UsageError(f"no ledger key in {settings.data_dir}; run `medsight ledger keygen` or start the service")
    store = Store.open(settings)
    try:
        yield LedgerService.open(store.sessions, settings.data_dir)
    finally:
        store.close()


def _public_key(data_dir: Path | None, path: Path | None) -> PublicKey:
    path = path or key_path(service_settings(data_dir).data_dir).with_suffix(".key.pub")
    try:
        return PublicKey.from_hex(path.read_text())
    except (OSError, KeyFileError) as exc:
        raise UsageError(f"cannot read the public key {path.name} ({type(exc).__name__})") from exc


def _read_head(path: Path) -> SignedTreeHead:
    try:
        data = json.loads(path.read_text())
        return SignedTreeHead.from_json(data.get("tree_head", data))
    except (OSError, ValueError, AttributeError) as exc:
        raise UsageError(f"{path.name} is not a saved checkpoint ({type(exc).__name__})") from exc


def _print(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2))


@ledger_app.command("keygen")
def keygen(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Make the log's Ed25519 signing key (DATA_DIR/ledger.key, mode 0600) and its public key (.pub)."""
    path = key_path(service_settings(data_dir).data_dir)
    try:
        public = generate_key(path)
    except KeyFileError as exc:
        raise UsageError(str(exc)) from exc
    if as_json:
        _print({"key_file": str(path), "public_key": public.raw.hex(), "key_id": public.key_id})
    else:
        typer.echo(f"wrote {path} (key id {public.key_id}); public key: {public.raw.hex()}")


@ledger_app.command("verify")
def verify(
    data_dir: DataDirOption = None,
    from_checkpoint: Annotated[
        Path | None,
        typer.Option("--from-checkpoint", help="A head saved by `medsight ledger checkpoint`: the log must extend it."),
    ] = None,
    public_key: PublicKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute the whole tree, check every signature and the checkpoint; exit 5 on any integrity failure."""
    checkpoint = _read_head(from_checkpoint) if from_checkpoint is not None else None
    key = _public_key(data_dir, public_key)
    with _opened(data_dir) as ledger, progress_bar(enabled=not as_json) as bar:
        task = bar.add_task("verifying", total=ledger.size())
        report = ledger.verify_with(key, checkpoint, progress=lambda done: bar.update(task, completed=done))
    if as_json:
        _print(report.to_json())
    elif report.ok:
        typer.echo(f"intact: {report.entries} entries, {report.heads} signed heads, root {report.root.hex()}")
    else:
        for problem in report.problems:
            typer.echo(f"- {problem}", err=True)
    if not report.ok:
        where = f"; first bad entry: {report.first_bad_entry}" if report.first_bad_entry is not None else ""
        raise LedgerIntegrityError(f"the ledger does not verify: {report.problems[0]}{where}")


@ledger_app.command("prove")
def prove(
    index: Annotated[int, typer.Argument(help="The entry's leaf index.", min=0)],
    data_dir: DataDirOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the receipt (JSON) to this file.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The receipt of entry N: the entry, its inclusion proof and the latest signed head."""
    with _opened(data_dir) as ledger:
        receipt = ledger.receipt(index).to_json()
    if out is not None:
        out.write_text(json.dumps(receipt, indent=2) + "\n")
    if as_json:
        _print(receipt)
    else:
        event = receipt["event"] or {}
        typer.echo(
            f"entry {index}: {event.get('event')} by {event.get('actor')} on {event.get('object')} at "
            f"{event.get('time')}; in the signed tree of {receipt['tree_size']} "
            f"({len(receipt['inclusion_proof'])} hashes of proof)"
        )


@ledger_app.command("consistency")
def consistency(
    old: Annotated[int, typer.Argument(help="The earlier tree size.", min=0)],
    new: Annotated[int | None, typer.Argument(help="The later tree size (default: the current one).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """A consistency proof between two tree sizes (JSON)."""
    with _opened(data_dir) as ledger:
        _print(ledger.consistency(old, new))


@ledger_app.command("checkpoint")
def checkpoint(
    data_dir: DataDirOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the signed head (JSON) to this file.")] = None,
    witness: Annotated[
        Path | None,
        typer.Option("--witness", help="Also append it to this append-only witness file (refused on a rollback)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Sign the current tree now and save the head: keep it apart from the data, for `verify --from-checkpoint`."""
    with _opened(data_dir) as ledger:
        head = ledger.publish()
        if witness is not None:
            file_witness = FileWitness(witness, ledger.public_key)
            try:
                last = file_witness.last()
                proof = ledger.consistency_proofs(last.size if last else 0, head.size)
                file_witness.observe(head, proof)
            except WitnessError as exc:
                raise LedgerIntegrityError(f"the witness refuses the head: {exc}") from exc
    data = head.to_json()
    if out is not None:
        out.write_text(json.dumps(data, indent=2) + "\n")
    if as_json or out is None:
        _print(data)
    else:
        typer.echo(f"checkpoint: {head.size} entries, root {head.root.hex()} -> {out}")


@ledger_app.command("witness")
def witness(
    url: Annotated[str, typer.Argument(help="The witnessing medsight service, e.g. https://peer:8000.")],
    token: Annotated[
        str,
        typer.Option("--token", envvar="MEDSIGHT_WITNESS_TOKEN", help="A token of that service with ledger:witness."),
    ],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Hand the latest signed head to another node; exit 5 if it has seen a history this log no longer has."""
    with _opened(data_dir) as ledger:
        answer = push_to_witness(ledger, url, token)
    if as_json:
        _print(answer)
    else:
        state = "new" if answer.get("new") else "already seen"
        typer.echo(f"witnessed: {answer.get('tree_size')} entries ({state}), key {answer.get('key_id')}")
