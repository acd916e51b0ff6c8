"""The ledger's SQL storage: :class:`medsight.ledger.LedgerStorage` over the service's database.

Bound to one session, so the sequencer's writes join the transaction of the action
they record (:meth:`LedgerTables.writing` opens one on its own, for the CLI and the
benchmark). Entries and perfect-subtree hashes are keyed by integers that are SQLite's
rowid; a proof fetches its few dozen nodes in one ``IN`` query. On PostgreSQL the
latest head is read ``FOR UPDATE``, so two transactions never append at one index
(on SQLite, ``BEGIN IMMEDIATE`` already runs writers one at a time).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from medsight.ledger import SignedTreeHead, TreeHead
from medsight.ledger.hashing import NodeKey
from medsight.store.database import Tables
from medsight.store.models import LedgerEntry, LedgerHead, LedgerNode

__all__ = ["LedgerTables", "SqlLedgerStorage"]

_LEVEL_SHIFT = 48
_PAGE = 4096
_IN_CHUNK = 8000  # below SQLite's 32,766 bound variables


def _node_id(key: NodeKey) -> int:
    return key[0] << _LEVEL_SHIFT | key[1]


def _key(node_id: int) -> NodeKey:
    return node_id >> _LEVEL_SHIFT, node_id & ((1 << _LEVEL_SHIFT) - 1)


def _head(row: LedgerHead) -> SignedTreeHead:
    return SignedTreeHead(TreeHead(row.tree_size, row.timestamp_ms, row.root), row.signature, row.key_id)


class SqlLedgerStorage:
    """The ledger tables as seen from one open session.

    Args:
        session: the transaction to read and write in.
        lock: read the latest head ``FOR UPDATE`` (writers on PostgreSQL).
    """

    def __init__(self, session: Session, *, lock: bool = False) -> None:
        self.session = session
        self.lock = lock

    def latest_head(self) -> SignedTreeHead | None:
        query = select(LedgerHead).order_by(LedgerHead.pk.desc()).limit(1)
        if self.lock:
            query = query.with_for_update()
        row = self.session.scalars(query).first()
        return _head(row) if row is not None else None

    def nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        ids = sorted({_node_id(key) for key in keys})
        found: dict[NodeKey, bytes] = {}
        for at in range(0, len(ids), _IN_CHUNK):
            rows = self._driver_sql(
                "SELECT node_id, hash FROM ledger_nodes WHERE node_id IN ({})", ids[at : at + _IN_CHUNK]
            )
            found.update((_key(node_id), bytes(h)) for node_id, h in rows)
        return found

    def entry(self, index: int) -> bytes | None:
        rows = self._driver_sql("SELECT data FROM ledger_entries WHERE idx IN ({})", [index])
        return bytes(rows[0][0]) if rows else None

    def _driver_sql(self, template: str, values: Sequence[int]) -> list[Any]:
        """A plain driver query: a proof is a handful of point look-ups, and SQLAlchemy's statement
        machinery cost ten times the look-ups themselves (0.4 ms a proof, against 1 ms allowed)."""
        connection = self.session.connection()
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        sql = template.format(", ".join([mark] * len(values)))
        return list(connection.exec_driver_sql(sql, tuple(values)).fetchall())

    def append(
        self, first: int, entries: Sequence[bytes], nodes: Mapping[NodeKey, bytes], head: SignedTreeHead
    ) -> None:
        # Core executemany: one statement for the batch, not one ORM object per row.
        self.session.execute(insert(LedgerEntry), [{"idx": first + i, "data": data} for i, data in enumerate(entries)])
        self.session.execute(insert(LedgerNode), [{"node_id": _node_id(k), "hash": h} for k, h in nodes.items()])
        self.add_head(head)

    def add_head(self, head: SignedTreeHead) -> None:
        self.session.execute(
            insert(LedgerHead).values(
                tree_size=head.size,
                timestamp_ms=head.head.timestamp_ms,
                root=head.root,
                signature=head.signature,
                key_id=head.key_id,
            )
        )

    def iter_entries(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        # Keyset pages: no cursor held open while the caller queries nodes on the same connection.
        while True:
            rows = self.session.execute(
                select(LedgerEntry.idx, LedgerEntry.data)
                .where(LedgerEntry.idx >= start)
                .order_by(LedgerEntry.idx)
                .limit(_PAGE)
            ).all()
            for idx, data in rows:
                yield idx, bytes(data)
            if len(rows) < _PAGE:
                return
            start = rows[-1][0] + 1

    def iter_heads(self) -> Iterator[SignedTreeHead]:
        for row in self.session.scalars(select(LedgerHead).order_by(LedgerHead.pk)):
            yield _head(row)


class LedgerTables(Tables):
    """The ledger tables of one store's database.

    Args:
        sessions: the store's session factory.
    """

    @contextmanager
    def reading(self) -> Iterator[SqlLedgerStorage]:
        """A storage on a read-only session."""
        with self._reading() as session:
            yield SqlLedgerStorage(session)

    @contextmanager
    def snapshot(self) -> Iterator[SqlLedgerStorage]:
        """A storage on one consistent snapshot, for a verification that runs while the service appends.

        SQLite in WAL mode reads one snapshot per transaction anyway; PostgreSQL needs
        REPEATABLE READ, or the entries read last could outrun the heads read first.
        """
        with self._reading() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield SqlLedgerStorage(session)

    @contextmanager
    def writing(self) -> Iterator[SqlLedgerStorage]:
        """A storage on its own write transaction, committed when the block ends."""
        with self._writing() as session:
            yield SqlLedgerStorage(session, lock=True)

    @staticmethod
    def within(session: Session) -> SqlLedgerStorage:
        """A storage on the caller's write transaction (an action and its entry commit together)."""
        return SqlLedgerStorage(session, lock=True)
