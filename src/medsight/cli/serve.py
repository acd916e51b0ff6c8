"""``medsight serve``: run the imaging service with uvicorn.

Logs go to stderr, one line each with the request id; uvicorn's access log is off
because it would print paths and query strings (UIDs, searched names). SIGTERM and
Ctrl-C stop accepting requests, let running ones finish, and stop the analysis
workers (a job that cannot finish in time goes back to the queue).
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from medsight.access import Role
from medsight.cli._service import DataDirOption, service_settings
from medsight.services.context import ServiceContext

__all__ = ["serve"]

_DEMO_TOKEN = "demo-admin"
_LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def serve(
    host: Annotated[
        str | None,
        typer.Option(
            "--host", help="Address to listen on (default: MEDSIGHT_HOST, else 127.0.0.1).", show_default=False
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", help="TCP port, 0 picks a free one (default: MEDSIGHT_PORT, else 8000).", show_default=False
        ),
    ] = None,
    data_dir: DataDirOption = None,
    routing_rules: Annotated[
        Path | None, typer.Option("--routing-rules", help="JSON rules that start analyses on arrival.")
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo studies and print a new admin token (make run).")
    ] = False,
    shared: Annotated[
        Path | None, typer.Option("--shared", help="With --demo: the shared data folder (chest X-rays, samples).")
    ] = None,
) -> None:
    """Serve DICOMweb, analyses and reports on HOST:PORT (docs at /docs)."""
    import uvicorn

    from medsight.server import create_app
    from medsight.server.requestlog import RequestIdFilter

    settings = service_settings(data_dir, host=host, port=port, routing_rules=routing_rules)
    _configure_logging(RequestIdFilter())
    # The options win over MEDSIGHT_HOST and MEDSIGHT_PORT, which win over the defaults.
    url = f"http://{settings.host}:{settings.port}"
    hooks = [partial(_load_demo, shared=shared, url=url)] if demo else []
    app = create_app(settings, on_startup=hooks)
    typer.echo(f"medsight serving on {url} (API docs at /docs); data in {settings.data_dir}", err=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=30,
        server_header=False,
    )


def _load_demo(context: ServiceContext, *, shared: Path | None, url: str) -> None:
    """Replace the previous demo admin token, load the demo studies, say where to go."""
    from medsight.services.demo_studies import demo_objects, seed_demo_studies

    for token in context.access.tokens():
        if token.name == _DEMO_TOKEN and token.state == "active":
            context.access.revoke_token(token.token_id)
    issued = context.access.issue_token(role=Role.ADMIN, name=_DEMO_TOKEN)
    principal = context.access.authenticate(f"Bearer {issued.value}")
    report = seed_demo_studies(context, demo_objects(shared), principal)
    typer.echo(
        f"demo: {report.stored} objects stored, {report.already_stored} already there, "
        f"{report.failed} failed, in {report.studies} studies"
    )
    if shared is None or not (shared / "datasets").is_dir():
        typer.echo("demo: no chest X-rays or brain MRI (give --shared with the shared datasets); samples only")
    typer.echo(f"medsight is at {url}  (API docs: {url}/docs)")
    typer.echo("admin token (shown once; the previous demo token is revoked):")
    typer.echo(issued.value)


def _configure_logging(request_ids: logging.Filter) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(request_ids)
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("uvicorn.access").disabled = True
