"""The storage contract of the ledger, and the in-memory backend tests use.

A backend keeps three things: entries by index, the hashes of perfect subtrees by
:data:`~medsight.ledger.hashing.NodeKey` (about ``2n`` of them; any proof needs at most
a few dozen, fetched at once), and the signed tree heads in the order they were made.
It never hashes, signs or decides anything: :class:`~medsight.ledger.log.Log` does,
so a backend is a few lines of SQL or a few dicts (as Trillian splits storage from the
sequencer). The SQL backend lives in :mod:`medsight.store.ledger`, beside the other tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from medsight.ledger.hashing import NodeKey
from medsight.ledger.treehead import SignedTreeHead

__all__ = ["LedgerStorage", "MemoryStorage"]


class LedgerStorage(Protocol):
    """Where a log keeps its entries, nodes and heads; one instance per transaction."""

    def latest_head(self) -> SignedTreeHead | None:
        """The newest signed head (its size is the log's size), or None for an empty log."""
        ...

    def nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        """The stored hashes of these perfect subtrees (absent keys are left out)."""
        ...

    def entry(self, index: int) -> bytes | None:
        """The entry at ``index``, or None."""
        ...

    def append(
        self, first: int, entries: Sequence[bytes], nodes: Mapping[NodeKey, bytes], head: SignedTreeHead
    ) -> None:
        """Store entries from index ``first``, the nodes they complete and the head that signs them."""
        ...

    def add_head(self, head: SignedTreeHead) -> None:
        """Store a head signed again at an unchanged size (a periodic publication)."""
        ...

    def iter_entries(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """Every stored ``(index, entry)`` from ``start``, in index order, as stored (gaps and all)."""
        ...

    def iter_heads(self) -> Iterator[SignedTreeHead]:
        """Every stored head, oldest first."""
        ...


class MemoryStorage:
    """A :class:`LedgerStorage` in dicts, for tests and the benchmark's reference."""

    def __init__(self) -> None:
        self.entries: dict[int, bytes] = {}
        self.node_hashes: dict[NodeKey, bytes] = {}
        self.heads: list[SignedTreeHead] = []

    def latest_head(self) -> SignedTreeHead | None:
        return self.heads[-1] if self.heads else None

    def nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        return {key: self.node_hashes[key] for key in keys if key in self.node_hashes}

    def entry(self, index: int) -> bytes | None:
        return self.entries.get(index)

    def append(
        self, first: int, entries: Sequence[bytes], nodes: Mapping[NodeKey, bytes], head: SignedTreeHead
    ) -> None:
        for offset, data in enumerate(entries):
            if first + offset in self.entries:
                raise ValueError(f"entry {first + offset} exists already")
            self.entries[first + offset] = data
        self.node_hashes.update(nodes)
        self.heads.append(head)

    def add_head(self, head: SignedTreeHead) -> None:
        self.heads.append(head)

    def iter_entries(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        for index in sorted(self.entries):
            if index >= start:
                yield index, self.entries[index]

    def iter_heads(self) -> Iterator[SignedTreeHead]:
        yield from self.heads
