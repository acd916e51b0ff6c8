"""Witnessing: a second place that remembers which heads it has seen, so history cannot be rewritten quietly.

A witness accepts a new signed head only if its signature verifies and it is
consistent with the last head it accepted: a larger tree with a valid consistency
proof, or the same tree (same size, same root). A rolled-back or forked log is
refused, and the refusal is the evidence. :class:`FileWitness` keeps its heads in an
append-only JSON-lines file; the service's witness endpoint keeps one such file per
log key it witnesses (``/api/v1/ledger/witness``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from medsight.ledger.proofs import verify_consistency
from medsight.ledger.treehead import PublicKey, SignedTreeHead

__all__ = ["FileWitness", "WitnessError", "check_extension"]


class WitnessError(ValueError):
    """A head the witness refuses: bad signature, rollback, fork or a bad consistency proof."""


def check_extension(key: PublicKey, last: SignedTreeHead | None, new: SignedTreeHead, proof: Sequence[bytes]) -> None:
    """Accept ``new`` after ``last`` or raise :class:`WitnessError` saying why not."""
    if not key.verify(new):
        raise WitnessError("the tree head's signature does not verify")
    if last is None:
        return
    if new.size < last.size:
        raise WitnessError(f"rollback: the witness has seen {last.size} entries, this head signs {new.size}")
    if not verify_consistency(last.size, new.size, last.root, new.root, proof):
        raise WitnessError(f"the head of size {new.size} is not consistent with the witnessed head of size {last.size}")


class FileWitness:
    """Heads of one log, appended to a JSON-lines file (one head a line, never rewritten).

    Args:
        path: the file; created on first use.
        key: the log's public key.
    """

    def __init__(self, path: Path, key: PublicKey) -> None:
        self.path = path
        self.key = key

    def last(self) -> SignedTreeHead | None:
        """The last head accepted, or None."""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return None
        for line in reversed(lines):
            if line.strip():
                try:
                    return SignedTreeHead.from_json(json.loads(line))
                except (ValueError, json.JSONDecodeError) as exc:
                    raise WitnessError(f"the witness file {self.path.name} is damaged") from exc
        return None

    def observe(self, head: SignedTreeHead, proof: Sequence[bytes]) -> bool:
        """Record ``head`` if it extends the last one; False when it adds nothing new.

        Raises:
            WitnessError: the head is refused.
        """
        last = self.last()
        check_extension(self.key, last, head, proof)
        if last is not None and last.size == head.size:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND: each head lands whole at the end, never over an earlier one.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        with os.fdopen(fd, "a") as out:
            out.write(json.dumps(head.to_json(), sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())
        return True
