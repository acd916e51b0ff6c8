"""The ledger over HTTP: signed tree heads, receipts, proofs (RFC 9162), and a witness for other nodes.

``/api/v1/ledger/head``, ``/receipts/{index}``, ``/proofs/inclusion``, ``/proofs/consistency``
need ``ledger:read``. ``/witness`` is the other side of witnessing: another medsight node
(token with ``ledger:witness``) posts its signed heads here with a consistency proof
from the last head this node accepted from it; a rolled-back or forked log is refused
(409), and that refusal is the evidence. Heads are kept per log key in append-only files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from medsight.access import Principal, Scope
from medsight.errors import UsageError
from medsight.ledger import FileWitness, KeyFileError, PublicKey, SignedTreeHead, WitnessError
from medsight.server.deps import Allow, ContextDep
from medsight.services.context import ServiceContext
from medsight.services.ledger import LedgerService

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])
Reader = Annotated[Principal, Depends(Allow(Scope.LEDGER_READ))]
Witness = Annotated[Principal, Depends(Allow(Scope.LEDGER_WITNESS))]
_WITNESS_DIR = "witness"


def _ledger(context: ServiceContext) -> LedgerService:
    if context.ledger is None:
        raise HTTPException(503, "this service runs without a ledger")
    return context.ledger


@router.get("/head", summary="The latest signed tree head, and the public key that checks it")
def head(context: ContextDep, _principal: Reader) -> dict[str, Any]:
    ledger = _ledger(context)
    return {"tree_head": ledger.head().to_json(), "public_key": ledger.public_key.raw.hex()}


@router.get("/receipts/{index}", summary="The receipt of one entry against the latest signed head")
def receipt(index: int, context: ContextDep, _principal: Reader) -> dict[str, Any]:
    if index < 0:
        raise UsageError("a leaf index is >= 0")
    return _ledger(context).receipt(index).to_json()


@router.get("/proofs/inclusion", summary="An inclusion proof (RFC 9162 2.1.3)")
def inclusion(
    context: ContextDep,
    _principal: Reader,
    index: Annotated[int, Query(ge=0)],
    size: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    return _ledger(context).inclusion(index, size)


@router.get("/proofs/consistency", summary="A consistency proof between two tree sizes (RFC 9162 2.1.4)")
def consistency(
    context: ContextDep,
    _principal: Reader,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    return _ledger(context).consistency(first, second)


class WitnessSubmission(BaseModel):
    """Another node's signed head, its public key, and the proof from the head last witnessed here."""

    public_key: str = Field(min_length=64, max_length=64, description="hex")
    tree_head: dict[str, Any]
    consistency_proof: list[str] = Field(default_factory=list, max_length=64)


def _witness(context: ServiceContext, key: PublicKey) -> FileWitness:
    return FileWitness(Path(context.settings.data_dir) / _WITNESS_DIR / f"{key.key_id}.jsonl", key)


@router.get("/witness/{key_id}", summary="The last head witnessed here for the log with this key id")
def witnessed(key_id: str, context: ContextDep, _principal: Witness) -> dict[str, Any]:
    if not key_id.isalnum() or len(key_id) != 16:
        raise UsageError("a key id is 16 hex digits")
    path = Path(context.settings.data_dir) / _WITNESS_DIR / f"{key_id}.jsonl"
    if not path.exists():
        return {"tree_head": None}
    last = FileWitness(path, None).last()  # type: ignore[arg-type]  # reading needs no key
    return {"tree_head": last.to_json() if last is not None else None}


@router.post("/witness", summary="Witness another node's signed head (409 when it rewrites history)")
def witness(body: WitnessSubmission, context: ContextDep, _principal: Witness) -> dict[str, Any]:
    try:
        key = PublicKey.from_hex(body.public_key)
        head = SignedTreeHead.from_json(body.tree_head)
        proof = [bytes.fromhex(p) for p in body.consistency_proof]
    except (KeyFileError, ValueError) as exc:
        raise UsageError(f"not a witness submission ({type(exc).__name__})") from exc
    try:
        added = _witness(context, key).observe(head, proof)
    except WitnessError as exc:
        raise HTTPException(409, str(exc)) from exc
    return {"accepted": True, "new": added, "key_id": key.key_id, "tree_size": head.size}
