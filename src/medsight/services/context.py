"""Everything one running service holds open: settings, the store, access, analysis jobs.

The server builds one :class:`ServiceContext` at start-up and hands it to every request
through a dependency; the CLI commands that touch the service's state (``tokens``,
``users``) open the same context on the same ``--data-dir``, so both see one database.
Opening a context starts no worker and imports no torch: the server's lifespan starts
the analysis workers (:func:`medsight.services.analysis.start_workers`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from medsight.access import Principal
from medsight.errors import MedsightError
from medsight.services.accounts import AccessService
from medsight.services.jobs import JobService
from medsight.services.ledger import LedgerService
from medsight.services.routing import Router, load_rules
from medsight.services.shares import ShareService
from medsight.settings import ServiceSettings
from medsight.store import IngestResult, Store
from medsight.store.accounts import Accounts

__all__ = ["IngestListener", "ServiceContext"]

_log = logging.getLogger(__name__)


class IngestListener(Protocol):
    """Called after instances were stored, with what was stored and who sent it (routing rules).

    ``complete``: the sender says the series it stored are whole, so nothing need wait
    for more of them.
    """

    def __call__(self, results: Sequence[IngestResult], principal: Principal, *, complete: bool = False) -> None: ...


@dataclass
class ServiceContext:
    """The open resources of one medsight service."""

    settings: ServiceSettings
    store: Store
    access: AccessService
    jobs: JobService
    ingest_listeners: list[IngestListener] = field(default_factory=list)
    #: The verifiable ledger (issue 9); None only in contexts that tests assemble by hand.
    ledger: LedgerService | None = None
    #: Share links of studies (issue 9), signed with the ledger's key; None without a ledger.
    shares: ShareService | None = None
    #: The routing rules' listener, also called every second to route stable series; None
    #: when arrivals are not analysed (``auto_analyze`` off).
    router: Router | None = None

    @classmethod
    def open(cls, settings: ServiceSettings) -> ServiceContext:
        """Open (creating or migrating) the store that ``settings`` name.

        Raises:
            UsageError: ``settings.routing_rules`` names a file that is not a valid rule file.
        """
        store = Store.open(settings, create_key=True)
        access = AccessService(Accounts(store.sessions))
        context = cls(settings=settings, store=store, access=access, jobs=JobService(store, access, settings))
        try:
            context.ledger = LedgerService.open(store.sessions, settings.data_dir)
        except MedsightError:
            store.close()
            raise
        # From here on, every transaction that stores an instance, queues an analysis or
        # records a consent also records its ledger entry, or fails whole.
        context.ledger.attach(store.sessions)
        context.shares = ShareService(store, context.ledger)
        if settings.auto_analyze:
            try:
                rules = load_rules(settings.routing_rules)
                context.router = Router(context.jobs, rules, stable_s=settings.routing_stable_s)
            except MedsightError:
                store.close()
                raise
            context.ingest_listeners.append(context.router)
        return context

    def notify_ingested(self, results: Sequence[IngestResult], principal: Principal, *, complete: bool = False) -> None:
        """Tell every listener what was just stored; a listener's failure never undoes the store.

        ``complete``: the series stored are whole (see :class:`IngestListener`).
        """
        if not results:
            return
        for listener in self.ingest_listeners:
            try:
                listener(results, principal, complete=complete)
            except MedsightError as exc:
                _log.warning("after-ingest step failed: %s (%s)", exc.code, type(exc).__name__)

    def close(self) -> None:
        """Release the database connections."""
        self.store.close()
