"""The FastAPI application: ``create_app(settings)`` and nothing at import time.

Routes stay thin (parse, call a service, render); the service context opens at start-up
in the lifespan and closes at shutdown. Tests pass their own context (a store in a
temporary folder) or settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from medsight import __version__
from medsight.errors import MedsightError
from medsight.server.problems import install_problem_handlers
from medsight.server.receipts import LedgerReceiptMiddleware
from medsight.server.requestlog import RequestLogMiddleware
from medsight.server.routes import (
    access,
    analyses,
    consents,
    dicomweb,
    exports,
    fhir,
    health,
    ledger,
    shares,
    streams,
)
from medsight.server.routes.protocols import router as protocols_router
from medsight.server.routes.worklist import router as worklist_router
from medsight.server.viewer import ViewerFiles
from medsight.services.context import ServiceContext
from medsight.services.streams.hub import StreamHub, StreamOptions
from medsight.settings import ServiceSettings

if TYPE_CHECKING:
    from medsight.services.workers import WorkerPool

__all__ = ["create_app"]

_log = logging.getLogger(__name__)
#: How often the server looks for series that have become stable (routing rules that wait).
_STABLE_POLL_S = 1.0

_DESCRIPTION = """
The medsight imaging service: studies in over DICOMweb (STOW-RS), queried and retrieved
over QIDO-RS and WADO-RS, analysed by medsight's models, results out as JSON, DICOM SR
and FHIR.

Every route except `/health` needs `Authorization: Bearer <token>`; tokens come from
`medsight tokens create`. Errors are `application/problem+json` with `code`, `message`
and `request_id`.

Live streams are a WebSocket, `/api/v1/streams/{task}`, which OpenAPI cannot list:
frames in (a 4-byte header length, a JSON header, PNG/JPEG/raw pixels), one answer per
analysed frame out; refusals are close codes `4000 + HTTP status`. See
`docs/architecture.md`, "Live streams".
"""


def create_app(
    settings: ServiceSettings | None = None,
    *,
    context: ServiceContext | None = None,
    on_startup: Sequence[Callable[[ServiceContext], None]] = (),
) -> FastAPI:
    """Build the application.

    Args:
        settings: the service's settings (read from the environment when omitted).
        context: an already open context to serve (tests); when omitted, one is opened
            from ``settings`` at start-up and closed at shutdown.
        on_startup: run with the context once everything else has started, before the
            first request is served (``medsight serve --demo`` loads its studies here).
    """
    settings = settings or (context.settings if context is not None else ServiceSettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = context is None
        app.state.context = context if context is not None else ServiceContext.open(settings)
        workers = _start_workers(app.state.context)
        publisher = asyncio.create_task(_publish_heads(app.state.context))
        stable_routing = asyncio.create_task(_route_stable_series(app.state.context))
        try:
            for hook in on_startup:
                hook(app.state.context)
            yield
        finally:
            publisher.cancel()
            stable_routing.cancel()
            if workers is not None:  # SIGTERM: finish running jobs within the grace, release the rest
                await asyncio.to_thread(workers.stop)
            app.state.streams.close()
            if owned:
                app.state.context.close()

    app = FastAPI(
        title="medsight",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    if context is not None:  # available before start-up too, for TestClient without a lifespan
        app.state.context = context
    # Live streams: models load on first use, shared by the streams of this process.
    app.state.streams = StreamHub(
        StreamOptions(
            max_streams=settings.max_streams,
            inference_threads=settings.stream_threads,
            idle_timeout_s=settings.stream_idle_s,
        )
    )
    install_problem_handlers(app)
    app.add_middleware(RequestLogMiddleware)
    app.add_middleware(LedgerReceiptMiddleware)  # receipts of the entries a request made, in headers
    app.include_router(health.router)
    app.include_router(access.router)
    app.include_router(dicomweb.router)
    app.include_router(analyses.router)
    app.include_router(fhir.router)
    app.include_router(worklist_router)
    app.include_router(streams.router)
    app.include_router(exports.router)
    app.include_router(consents.router)
    app.include_router(protocols_router)
    app.include_router(ledger.router)
    app.include_router(shares.router)
    # The viewer answers what no route does (so routers included later are never shadowed).
    app.router.default = ViewerFiles()
    return app


async def _publish_heads(context: ServiceContext) -> None:
    """Sign the ledger's head again every ``ledger_publish_s`` (a quiet log still shows it is alive)."""
    period = context.settings.ledger_publish_s
    if context.ledger is None or period <= 0:
        return
    while True:
        await asyncio.sleep(period)
        try:
            await asyncio.to_thread(context.ledger.publish_to, context.settings.ledger_witness_file)
        except MedsightError as exc:  # reported, and tried again next period
            _log.error("ledger: periodic publication failed: %s (%s)", exc.code, exc.message)


async def _route_stable_series(context: ServiceContext) -> None:
    """Every second, queue the analyses of series that have become stable (routing rules that wait)."""
    router = context.router
    if router is None or not router.stable_s:
        return
    while True:
        await asyncio.sleep(_STABLE_POLL_S)
        try:
            await asyncio.to_thread(router.route_stable)
        except MedsightError as exc:  # reported; the waiting series stay and are tried next time
            _log.error("routing of stable series failed: %s (%s)", exc.code, exc.message)


def _start_workers(context: ServiceContext) -> WorkerPool | None:
    """The analysis workers; torch is imported here, at start-up, never by the CLI's context."""
    if context.settings.analysis_workers == 0:
        return None
    from medsight.services.analysis import start_workers

    settings = context.settings
    return start_workers(context.jobs, workers=settings.analysis_workers, lease_s=settings.job_lease_s)
