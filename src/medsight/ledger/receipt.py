"""Receipts: what a client keeps to prove, later and without the database, that an event was logged.

A receipt holds the entry's bytes, its leaf index, the audit path and the signed tree
head it leads to. :func:`check_receipt` needs only the log's public key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from medsight.ledger.entry import Entry, EntryFormatError
from medsight.ledger.hashing import leaf_hash
from medsight.ledger.proofs import verify_inclusion
from medsight.ledger.treehead import PublicKey, SignedTreeHead

__all__ = ["Receipt", "ReceiptError", "check_receipt"]


class ReceiptError(ValueError):
    """A receipt that is malformed or does not verify; the message says which check failed."""


@dataclass(frozen=True)
class Receipt:
    """Entry ``index`` of the log, with its inclusion proof in the tree that ``head`` signs."""

    index: int
    entry: bytes
    proof: list[bytes]
    head: SignedTreeHead

    def to_json(self) -> dict[str, Any]:
        try:
            decoded: dict[str, Any] | None = Entry.decode(self.entry).to_json()
        except EntryFormatError:
            decoded = None
        return {
            "leaf_index": self.index,
            "tree_size": self.head.size,
            "entry": base64.b64encode(self.entry).decode("ascii"),
            "event": decoded,
            "inclusion_proof": [p.hex() for p in self.proof],
            "tree_head": self.head.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Receipt:
        """Parse :meth:`to_json`'s form.

        Raises:
            ReceiptError: a field missing or malformed.
        """
        try:
            return cls(
                int(data["leaf_index"]),
                base64.b64decode(data["entry"], validate=True),
                [bytes.fromhex(p) for p in data["inclusion_proof"]],
                SignedTreeHead.from_json(data["tree_head"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ReceiptError(f"not a receipt ({type(exc).__name__})") from None


def check_receipt(receipt: Receipt, key: PublicKey) -> Entry:
    """Verify a receipt: the head's signature, the entry's format and its inclusion proof.

    Returns:
        The entry, decoded.

    Raises:
        ReceiptError: naming the first check that failed.
    """
    if not key.verify(receipt.head):
        raise ReceiptError("the tree head's signature does not verify with this public key")
    try:
        entry = Entry.decode(receipt.entry)
    except EntryFormatError as exc:
        raise ReceiptError(f"the entry is not canonical: {exc}") from None
    head = receipt.head
    if not verify_inclusion(receipt.index, head.size, leaf_hash(receipt.entry), receipt.proof, head.root):
        raise ReceiptError(f"the inclusion proof does not put entry {receipt.index} in the signed tree")
    return entry
