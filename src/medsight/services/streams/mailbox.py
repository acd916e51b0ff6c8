"""A one-slot mailbox: the newest item wins, older ones are dropped and counted.

A probe sends frames at its own rate; the model answers at its own. Queueing every
frame would make each answer later than the last (a queue that only grows when the
model is slower), so a stream keeps at most one waiting frame: a new frame replaces
the one still waiting, which is counted as dropped. Memory per stream is therefore
bounded by one waiting frame plus the one being analysed, whatever the sender does.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

__all__ = ["LatestSlot", "MailboxClosedError"]

T = TypeVar("T")


class MailboxClosedError(Exception):
    """Raised by :meth:`LatestSlot.get` once the slot is closed and empty."""


class LatestSlot(Generic[T]):
    """Holds at most one item; ``put`` replaces, ``get`` waits for one.

    Used from one event loop (not thread-safe, and it need not be: the receiving and
    analysing coroutines of one stream share it).

    Attributes:
        accepted: items put.
        dropped: items replaced before anyone took them.
    """

    def __init__(self) -> None:
        self._item: T | None = None
        self._full = False
        self._closed = False
        self._ready = asyncio.Event()
        self.accepted = 0
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Offer ``item``; returns True when it replaced a waiting one (that one is dropped).

        Raises:
            MailboxClosedError: the slot was closed.
        """
        if self._closed:
            raise MailboxClosedError
        replaced = self._full
        self.dropped += replaced
        self.accepted += 1
        self._item, self._full = item, True
        self._ready.set()
        return replaced

    async def get(self) -> T:
        """The waiting item, waiting for one if none is there.

        Raises:
            MailboxClosedError: closed and nothing is waiting.
        """
        while not self._full:
            if self._closed:
                raise MailboxClosedError
            self._ready.clear()
            await self._ready.wait()
        item = self._item
        self._item, self._full = None, False
        assert item is not None
        return item

    def close(self) -> None:
        """No more puts; ``get`` returns what waits, then raises :class:`MailboxClosedError`."""
        self._closed = True
        self._ready.set()

    @property
    def waiting(self) -> bool:
        """Whether an item waits."""
        return self._full
