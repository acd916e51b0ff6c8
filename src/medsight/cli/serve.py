"""``medsight serve``: run the imaging service with uvicorn.

Logs go to stderr, one line each with the request id; uvicorn's access log is off
because it would print paths and query strings (UIDs, searched names). SIGTERM and
Ctrl-C stop accepting requests, let running ones finish, and stop the analysis
workers (a job that cannot finish in time goes back to the queue).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from medsight.cli._service import DataDirOption, service_settings

__all__ = ["serve"]

_LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port (0 picks a free one).")] = 8000,
    data_dir: DataDirOption = None,
    routing_rules: Annotated[
        Path | None, typer.Option("--routing-rules", help="JSON rules that start analyses on arrival.")
    ] = None,
) -> None:
    """Serve DICOMweb, analyses and reports on HOST:PORT (docs at /docs)."""
    import uvicorn

    from medsight.server import create_app
    from medsight.server.requestlog import RequestIdFilter

    settings = service_settings(data_dir, host=host, port=port, routing_rules=routing_rules)
    _configure_logging(RequestIdFilter())
    app = create_app(settings)
    typer.echo(f"medsight serving on http://{host}:{port} (API docs at /docs); data in {settings.data_dir}", err=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=30,
        server_header=False,
    )


def _configure_logging(request_ids: logging.Filter) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(request_ids)
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("uvicorn.access").disabled = True
