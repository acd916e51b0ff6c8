"""One live stream: receive frames, analyse the newest, answer each analysed frame.

Two coroutines per stream share a one-slot mailbox (:mod:`.mailbox`):

* the **receiver** reads messages, validates them (:mod:`.schema`), checks the device,
  and puts each frame in the slot, replacing (dropping) one still waiting;
* the **analyser** takes the newest frame, decodes and analyses it on the hub's
  threads, smooths the measurements (:mod:`.smoothing`) and sends the answer.

The session talks to a :class:`Socket` (the server adapts its WebSocket to it), so it
can be tested without a network. Any error ends this stream alone: it propagates out
of :meth:`StreamSession.run` and the server closes the socket with the error's close
code; other streams share nothing with it but the predictor and the threads.

Answers (text, JSON):

* ``{"type": "result", "frame", "timestamp", "latency_ms", "queue_ms", "received",
  "answered", "dropped", "result": {...}, "smoothed": {name: {...}}}`` per analysed
  frame; ``latency_ms`` runs from the frame's arrival to its answer being ready
  (waiting in the slot, decoding and analysis included);
* ``{"type": "summary", "received", "answered", "dropped", "signals"}`` after the
  client sends ``{"type": "end"}``, once the frame in analysis has been answered.

``{"type": "reset"}`` from the client forgets the smoothing history (the probe moved
to another view), so "stable" is earned again.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from medsight.errors import StreamMessageError, UnknownDeviceError
from medsight.io.framebytes import decode_frame
from medsight.services.streams.hub import StreamHub
from medsight.services.streams.mailbox import LatestSlot, MailboxClosedError
from medsight.services.streams.predictors import Frame, FramePredictor, FrameResult
from medsight.services.streams.schema import SCHEMA_VERSION, DeviceMessage, parse_text, unpack_frame
from medsight.services.streams.smoothing import Smoother

__all__ = ["Incoming", "Socket", "StreamSession", "StreamStats", "ready_message"]

#: A message as received: bytes or text, or None once the peer has gone.
Incoming = bytes | str | None


class Socket(Protocol):
    """What a session needs from a connection."""

    async def receive(self) -> Incoming:
        """The next message; None when the peer disconnected."""
        ...

    async def send_json(self, data: dict[str, Any]) -> None:
        """Send one text message holding ``data`` as JSON."""
        ...


@dataclass
class StreamStats:
    """Counts over one stream."""

    received: int = 0
    answered: int = 0
    signals: int = 0
    dropped: int = 0

    def to_dict(self) -> dict[str, int]:
        """JSON form."""
        return {"received": self.received, "answered": self.answered, "dropped": self.dropped, "signals": self.signals}


@dataclass(frozen=True)
class _Pending:
    message: DeviceMessage
    pixels: bytes
    arrived: float  # perf_counter seconds


@dataclass
class StreamSession:
    """One stream of one device to one task's predictor.

    Args:
        hub: the process's predictors and threads.
        predictor: this stream's task's predictor.
        socket: the connection.
        device_id: the device the token was issued to (its messages must name it), or
            None to bind the stream to the device its first message names.
    """

    hub: StreamHub
    predictor: FramePredictor
    socket: Socket
    device_id: str | None = None
    stats: StreamStats = field(default_factory=StreamStats)

    def __post_init__(self) -> None:
        # How the stream ended: "end" (the client asked), "gone" (it disconnected), "idle"
        # (silent for the hub's idle timeout), "error" (an error ended it; the default).
        self.ending = "error"
        self._slot: LatestSlot[_Pending] = LatestSlot()
        self._smoothers = {name: Smoother(tolerance) for name, tolerance in self.predictor.tolerances.items()}

    async def run(self) -> StreamStats:
        """Serve the stream until the client ends it or goes away.

        Raises:
            StreamMessageError: a malformed message or undecodable frame.
            UnknownDeviceError: a message from another device than the stream's.
            MedsightError: the analysis failed.
        """
        receiver = asyncio.create_task(self._receive_loop())
        analyser = asyncio.create_task(self._analyse_loop())
        try:
            done, _ = await asyncio.wait({receiver, analyser}, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # re-raise the first failure
            if not receiver.result():  # the peer went away: nobody to answer
                return self.stats
            await analyser
            await self.socket.send_json({"type": "summary", **self.stats.to_dict()})
            return self.stats
        finally:
            for task in (receiver, analyser):
                task.cancel()
            await asyncio.gather(receiver, analyser, return_exceptions=True)
            self.stats.dropped = self._slot.dropped

    async def _receive_loop(self) -> bool:
        """Receive until ``end`` (True), disconnection or silence (False); the slot is closed either way."""
        try:
            while True:
                try:
                    data = await asyncio.wait_for(self.socket.receive(), self.hub.options.idle_timeout_s)
                except TimeoutError:
                    self.ending = "idle"
                    return False
                if data is None:
                    self.ending = "gone"
                    return False
                if isinstance(data, bytes):
                    self._accept_frame(data)
                elif self._accept_text(data):
                    self.ending = "end"
                    return True
        finally:
            self._slot.close()

    def _accept_frame(self, data: bytes) -> None:
        message, pixels = unpack_frame(data)
        self._check_device(message)
        self.stats.received += 1
        self._slot.put(_Pending(message, pixels, time.perf_counter()))
        self.stats.dropped = self._slot.dropped

    def _accept_text(self, text: str) -> bool:
        """Handle a text message; True when it ends the stream."""
        control = _control(text)
        if control == "end":
            return True
        if control == "reset":  # the probe moved to another view: forget the history
            for smoother in self._smoothers.values():
                smoother.reset()
            return False
        message = parse_text(text)
        self._check_device(message)
        if message.frame is not None:
            raise StreamMessageError("a frame is sent as a binary message (header length, header, pixels)")
        self.stats.signals += 1  # validated and counted; no task analyses signals yet
        return False

    def _check_device(self, message: DeviceMessage) -> None:
        if self.device_id is None:
            self.device_id = message.device_id
        elif message.device_id != self.device_id:
            raise UnknownDeviceError("the message names a device other than the one this stream belongs to")

    async def _analyse_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                pending = await self._slot.get()
            except MailboxClosedError:
                return
            started = time.perf_counter()
            result = await loop.run_in_executor(self.hub.executor, self._analyse, pending)
            await self.socket.send_json(self._answer(pending, result, started))

    def _analyse(self, pending: _Pending) -> FrameResult:
        """Decode and analyse one frame (on an inference thread)."""
        header = pending.message.frame
        assert header is not None
        pixels = decode_frame(
            pending.pixels, header.encoding, header.shape, max_pixels=self.hub.options.max_frame_pixels
        )
        return self.predictor.predict(Frame(pixels, header.pixel_spacing_mm, header.index))

    def _answer(self, pending: _Pending, result: FrameResult, started: float) -> dict[str, Any]:
        latency_ms = (time.perf_counter() - pending.arrived) * 1000.0
        self.stats.answered += 1
        self.stats.dropped = self._slot.dropped
        header = pending.message.frame
        assert header is not None
        smoothed = {
            name: self._smoothers[name].add(value).to_dict()
            for name, value in result.measurements.items()
            if name in self._smoothers
        }
        return {
            "type": "result",
            "frame": header.index,
            "timestamp": pending.message.timestamp,
            "latency_ms": round(latency_ms, 3),
            "queue_ms": round((started - pending.arrived) * 1000.0, 3),
            **{k: v for k, v in self.stats.to_dict().items() if k != "signals"},
            "result": result.payload,
            "smoothed": smoothed,
        }


def _control(text: str) -> str | None:
    """The ``type`` of a control message (``{"type": ...}``), or None for a device message."""
    try:
        data = json.loads(text)
    except ValueError:
        raise StreamMessageError("a text message must be JSON") from None
    if isinstance(data, dict) and "type" in data:
        if data in ({"type": "end"}, {"type": "reset"}):
            return str(data["type"])
        raise StreamMessageError('the control messages are {"type": "end"} and {"type": "reset"}')
    return None


def ready_message(predictor: FramePredictor, device_id: str | None) -> dict[str, Any]:
    """The first answer of a stream, once it is authenticated and its model is loaded."""
    return {
        "type": "ready",
        "schema": SCHEMA_VERSION,
        "task": predictor.task,
        "model": predictor.model,
        "device_id": device_id,
        "measurements": sorted(predictor.tolerances),
    }
