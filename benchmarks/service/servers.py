"""The servers under test, as :class:`~benchmarks.service.client.Target` objects.

medsight runs as ``medsight serve`` in a subprocess (``tests/integration/server/live.py``,
the same process the integration tests start) on a fresh data folder, with an admin
token; Orthanc runs from :mod:`benchmarks.orthanc`. Both listen on loopback only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration.server.live import LiveServer, free_port

from benchmarks.orthanc import OrthancServer
from benchmarks.service.client import Target

__all__ = ["MEDSIGHT_DICOMWEB", "free_port", "medsight_server", "orthanc_server"]

MEDSIGHT_DICOMWEB = "/dicomweb"


@contextmanager
def medsight_server(folder: Path, extra_env: dict[str, str] | None = None) -> Iterator[Target]:
    """``medsight serve`` on ``folder`` for the duration of the block."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    server = LiveServer(data, extra_env=extra_env or {})
    token = server.token("--role", "admin", "--name", "bench")
    server.start()
    try:
        assert server.process is not None
        yield Target(
            name="medsight",
            root=server.url + MEDSIGHT_DICOMWEB,
            pid=server.process.pid,
            headers={"Authorization": f"Bearer {token}"},
            api=server.url + "/api/v1",
            health=server.url + "/health",
        )
    finally:
        server.stop()


@contextmanager
def orthanc_server(folder: Path) -> Iterator[tuple[Target, str]]:
    """Orthanc on ``folder`` for the duration of the block, with its version string."""
    server = OrthancServer(folder).start()
    try:
        target = Target(name="Orthanc", root=server.dicomweb_url, pid=server.pid, health=server.url + "/system")
        yield target, server.versions()
    finally:
        server.stop()
