"""Everything one running service holds open: settings, the store, access, analysis jobs.

The server builds one :class:`ServiceContext` at start-up and hands it to every request
through a dependency; the CLI commands that touch the service's state (``tokens``,
``users``) open the same context on the same ``--data-dir``, so both see one database.
Opening a context starts no worker and imports no torch: the server's lifespan starts
the analysis workers (:func:`medsight.services.analysis.start_workers`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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

#: Called after instances were stored, with what was stored and who sent it (routing rules).
IngestListener = Callable[[Sequence[IngestResult], Principal], None]


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
                context.ingest_listeners.append(Router(context.jobs, load_rules(settings.routing_rules)))
            except MedsightError:
                store.close()
                raise
        return context

    def notify_ingested(self, results: Sequence[IngestResult], principal: Principal) -> None:
        """Tell every listener what was just stored; a listener's failure never undoes the store."""
        if not results:
            return
        for listener in self.ingest_listeners:
            try:
                listener(results, principal)
            except MedsightError as exc:
                _log.warning("after-ingest step failed: %s (%s)", exc.code, type(exc).__name__)

    def close(self) -> None:
        """Release the database connections."""
        self.store.close()
