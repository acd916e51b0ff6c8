"""The one-slot mailbox: newest wins, drops counted, bounded whatever the sender does."""

from __future__ import annotations

import asyncio

import pytest

from medsight.services.streams.mailbox import LatestSlot, MailboxClosedError


def test_a_new_item_replaces_the_waiting_one_and_counts_a_drop() -> None:
    async def scenario() -> tuple[int, int, int]:
        slot: LatestSlot[int] = LatestSlot()
        assert slot.put(1) is False
        assert slot.put(2) is True
        assert slot.put(3) is True
        return await slot.get(), slot.dropped, slot.accepted

    assert asyncio.run(scenario()) == (3, 2, 3)


def test_get_waits_for_an_item() -> None:
    async def scenario() -> int:
        slot: LatestSlot[int] = LatestSlot()
        waiter = asyncio.create_task(slot.get())
        await asyncio.sleep(0.01)
        assert not waiter.done()
        slot.put(7)
        return await waiter

    assert asyncio.run(scenario()) == 7


def test_close_hands_out_what_waits_then_raises() -> None:
    async def scenario() -> None:
        slot: LatestSlot[int] = LatestSlot()
        slot.put(5)
        slot.close()
        assert await slot.get() == 5
        with pytest.raises(MailboxClosedError):
            await slot.get()
        with pytest.raises(MailboxClosedError):
            slot.put(6)

    asyncio.run(scenario())


def test_close_wakes_a_waiting_getter() -> None:
    async def scenario() -> None:
        slot: LatestSlot[int] = LatestSlot()
        waiter = asyncio.create_task(slot.get())
        await asyncio.sleep(0.01)
        slot.close()
        with pytest.raises(MailboxClosedError):
            await waiter

    asyncio.run(scenario())


def test_a_fast_producer_never_holds_more_than_one_item() -> None:
    async def scenario() -> tuple[list[int], int]:
        slot: LatestSlot[int] = LatestSlot()
        taken: list[int] = []

        async def consumer() -> None:
            while True:
                try:
                    taken.append(await slot.get())
                except MailboxClosedError:
                    return
                await asyncio.sleep(0.005)  # a slow model

        task = asyncio.create_task(consumer())
        for i in range(200):
            slot.put(i)
            if i % 10 == 0:
                await asyncio.sleep(0.001)
        slot.close()
        await task
        return taken, slot.dropped

    taken, dropped = asyncio.run(scenario())
    assert taken == sorted(taken)  # newest first, never an older one after a newer
    assert taken[-1] == 199  # the last frame sent is always analysed
    assert len(taken) + dropped == 200
    assert dropped > 100
