"""Pending routes (series waiting to be stable), on both backends: waits only grow, and a route is taken once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from medsight.store import Store
from medsight.store.pending_routes import PendingRoutes


def test_a_wait_that_moved_or_was_taken_is_not_taken_again(store: Store) -> None:
    pending = PendingRoutes(store.sessions)
    start = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    pending.defer("1.2.3", "1.2.3.4", "a", ["1.2"], start)
    (read,) = pending.due(start)
    pending.defer("1.2.3", "1.2.3.4", "b", ["1.3"], start + timedelta(seconds=30))  # a later arrival
    assert not pending.take(read)
    assert pending.due(start) == []
    assert pending.next_due() == start + timedelta(seconds=30)
    (moved,) = pending.due(start + timedelta(seconds=30))
    assert (moved.actor, moved.sop_classes) == ("b", ("1.2", "1.3"))
    pending.defer("1.2.3", "1.2.3.4", "c", [], start)  # an earlier time never shortens a wait
    assert pending.next_due() == start + timedelta(seconds=30)
    assert pending.take(moved)
    assert not pending.take(moved)  # a second router finds it gone
    assert pending.next_due() is None
