"""The sequencer: the one writer that appends entries, completes nodes and signs heads.

Each :meth:`Log.append` takes a batch, assigns the next indexes, hashes the leaves,
completes the perfect subtrees they close (a binary counter: leaf ``i`` closes one
node per trailing 1-bit of ``i``), folds the right edge into the new root and signs
it, and hands everything to the storage in one call. With the SQL backend that call
runs inside the caller's transaction, so an entry, its nodes and the head that signs it
are committed together with the action they record, or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from medsight.ledger.entry import Entry
from medsight.ledger.hashing import NodeKey, fold, leaf_hash, node_hash, perfect_subtrees
from medsight.ledger.proofs import consistency_ranges, inclusion_ranges, prove
from medsight.ledger.receipt import Receipt
from medsight.ledger.storage import LedgerStorage
from medsight.ledger.treehead import SignedTreeHead, Signer, TreeHead

__all__ = ["AppendResult", "Log", "LogStateError", "extend"]


class LogStateError(RuntimeError):
    """The storage does not hold what the log needs (a node missing, a size out of range)."""


@dataclass(frozen=True)
class AppendResult:
    """Where a batch went: its first index and the head that signs it."""

    first: int
    count: int
    head: SignedTreeHead


Frontier = list[tuple[int, int, bytes]]  # (level, index, hash) of the right edge, largest first


def extend(frontier: Frontier, first: int, leaves: Sequence[bytes], nodes: dict[NodeKey, bytes]) -> None:
    """Add leaf hashes from index ``first`` to ``frontier`` in place, recording every node they close."""
    for offset, h in enumerate(leaves):
        level, pos = 0, first + offset
        nodes[(0, pos)] = h
        while frontier and frontier[-1][0] == level:
            h = node_hash(frontier.pop()[2], h)
            level, pos = level + 1, pos >> 1
            nodes[(level, pos)] = h
        frontier.append((level, pos, h))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Log:
    """A Merkle log over one storage.

    Args:
        storage: where entries, nodes and heads are kept.
        signer: the log's key; None for a read-only log (proofs only).
        clock: milliseconds since the epoch (tests fix it).
    """

    def __init__(
        self, storage: LedgerStorage, signer: Signer | None = None, clock: Callable[[], int] = _now_ms
    ) -> None:
        self.storage = storage
        self.signer = signer
        self.clock = clock
        self._head: SignedTreeHead | None = None
        self._loaded = False

    def head(self) -> SignedTreeHead | None:
        """The latest signed head (read once per Log: a Log lives for one transaction)."""
        if not self._loaded:
            self._head, self._loaded = self.storage.latest_head(), True
        return self._head

    def size(self) -> int:
        head = self.head()
        return head.size if head is not None else 0

    def _frontier(self, size: int) -> Frontier:
        keys = perfect_subtrees(0, size)
        found = self.storage.nodes(keys)
        if len(found) != len(keys):
            raise LogStateError(f"the right edge of the tree at size {size} is incomplete")
        return [(level, index, found[(level, index)]) for level, index in keys]

    def append(self, entries: Sequence[Entry | bytes]) -> AppendResult:
        """Append a batch and sign the new head.

        Raises:
            LogStateError: no signer, an empty batch or a damaged right edge.
        """
        if self.signer is None:
            raise LogStateError("this log has no signing key")
        if not entries:
            raise LogStateError("nothing to append")
        raw = [e.encode() if isinstance(e, Entry) else e for e in entries]
        first = self.size()
        frontier = self._frontier(first)
        nodes: dict[NodeKey, bytes] = {}
        extend(frontier, first, [leaf_hash(data) for data in raw], nodes)
        head = self.signer.sign(TreeHead(first + len(raw), self.clock(), fold([h for _, _, h in frontier])))
        self.storage.append(first, raw, nodes, head)
        self._head = head
        return AppendResult(first, len(raw), head)

    def publish(self) -> SignedTreeHead:
        """Sign the current size again with a fresh timestamp (periodic publication)."""
        if self.signer is None:
            raise LogStateError("this log has no signing key")
        size = self.size()
        head = self.signer.sign(TreeHead(size, self.clock(), self.root(size)))
        self.storage.add_head(head)
        self._head = head
        return head

    def root(self, size: int) -> bytes:
        """The root hash at any size up to the current one."""
        self._check_size(size)
        return fold(prove([(0, size)], self.storage.nodes)) if size else fold([])

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree of ``size`` leaves (the current size by default)."""
        size = self.size() if size is None else size
        self._check_size(size)
        try:
            return prove(inclusion_ranges(index, size), self.storage.nodes)
        except (ValueError, LookupError) as exc:
            raise LogStateError(str(exc)) from None

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """The proof that the tree of ``old`` leaves is a prefix of the tree of ``new``."""
        new = self.size() if new is None else new
        self._check_size(new)
        try:
            return prove(consistency_ranges(old, new), self.storage.nodes)
        except (ValueError, LookupError) as exc:
            raise LogStateError(str(exc)) from None

    def receipt(self, index: int) -> Receipt:
        """What a client keeps for entry ``index``: the entry, its proof and the latest signed head."""
        head = self.head()
        data = self.storage.entry(index)
        if head is None or data is None or index >= head.size:
            raise LogStateError(f"no entry {index} in the log")
        return Receipt(index, data, self.inclusion_proof(index, head.size), head)

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size():
            raise LogStateError(f"the log has no tree of size {size} (it has {self.size()} entries)")
