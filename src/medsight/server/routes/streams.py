"""``/api/v1/streams/{task}``: live frame streams over WebSocket (issue 6).

The route authenticates (``AllowSocket``), loads the task's shared predictor, takes one
of the process's stream places, and hands the connection to a
:class:`~medsight.services.streams.session.StreamSession`. Whatever ends the stream
becomes its close code (``server/sockets.py``); one stream's failure touches no other.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket
from fastapi.concurrency import run_in_threadpool

from medsight.access import Principal, Scope
from medsight.errors import MedsightError, UnreleasedModelError
from medsight.server.deps import AllowSocket
from medsight.server.sockets import (
    ABNORMAL,
    GOING_AWAY,
    INTERNAL_ERROR,
    NORMAL,
    SocketAdapter,
    close_code_for,
    close_reason,
)
from medsight.services.context import ServiceContext
from medsight.services.streams.access import device_of
from medsight.services.streams.hub import StreamHub
from medsight.services.streams.session import StreamSession, StreamStats, ready_message
from medsight.store.jobs import ModelRef

__all__ = ["router"]

router = APIRouter(tags=["streams"])
_log = logging.getLogger(__name__)


@router.websocket("/api/v1/streams/{task}")
async def stream(
    websocket: WebSocket, task: str, principal: Annotated[Principal, Depends(AllowSocket(Scope.STREAMS_WRITE))]
) -> None:
    """Analyse the frames a device streams; see ``docs/architecture.md``, "Live streams"."""
    hub: StreamHub = websocket.app.state.streams
    context: ServiceContext = websocket.app.state.context
    socket = SocketAdapter(websocket)
    stats, code, reason, started = StreamStats(), NORMAL, "end of stream", time.perf_counter()
    try:
        predictor = await hub.predictor(task)
        _require_release(context, predictor.model)
        device = await run_in_threadpool(device_of, context.access, principal)
        with hub.slot():
            await socket.send_json(ready_message(predictor, device))
            session = StreamSession(hub, predictor, socket, device)
            try:
                await session.run()
            finally:
                stats = session.stats
            if session.ending == "idle":
                code, reason = GOING_AWAY, "no message within the idle timeout"
            elif session.ending == "gone":
                code = ABNORMAL  # nothing to send: for the log
    except MedsightError as exc:
        code, reason = close_code_for(exc), close_reason(exc)
    except Exception as exc:  # a bug: close this stream only, log the class, never the message
        code, reason = INTERNAL_ERROR, "internal error"
        _log.error("stream failed with %s", type(exc).__name__, exc_info=False)
    _log.info(
        "stream /api/v1/streams/{task} closed %d after %.1f s: received %d answered %d dropped %d actor=%s",
        code,
        time.perf_counter() - started,
        stats.received,
        stats.answered,
        stats.dropped,
        principal.actor,
    )
    await socket.close(code, reason)


def _require_release(context: ServiceContext, model: dict[str, Any]) -> None:
    """Under ``MEDSIGHT_RELEASE_POLICY=require``, a stream runs a released model or closes 4409."""
    if context.settings.release_policy != "require":
        return
    if not context.jobs.released(ModelRef.from_identity(model)):
        raise UnreleasedModelError(
            f"{model['name']} {model['version']} has not been released (medsight models promote);"
            " this service runs released models only (MEDSIGHT_RELEASE_POLICY=require)"
        )
