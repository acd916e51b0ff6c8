"""Replay a cine or a folder of frames against a live stream, as a probe would (``medsight stream``).

Frames are read once through :mod:`medsight.io` (a cine DICOM, a zip, a folder of
images), windowed to 8 bits, encoded (JPEG at quality 90 by default: an 800x540 frame
decodes in 0.6 ms against 3.7 ms for PNG) and then sent in a loop at a
fixed rate for a given time: a frame is sent every ``1/fps`` seconds on the clock, and a
sender that falls behind sends the next frame at once rather than a burst (a probe
does not catch up). Each answer's server-side latency is read from the answer; the
round trip is measured here, from the frame's send to its answer's arrival. Dropped
frames are the server's count, from its summary.

Torch-free: the CLI imports this module at start-up.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from numpy.typing import NDArray

from medsight.errors import (
    AuthenticationError,
    MedsightError,
    NoImagesFoundError,
    PermissionDeniedError,
    StreamBusyError,
    StreamMessageError,
    UnknownResourceError,
    UsageError,
)
from medsight.imaging import Image, Layout, display_array
from medsight.io import read
from medsight.io.framebytes import FrameEncoding, encode_frame
from medsight.services.streams.schema import SCHEMA_VERSION, DeviceMessage, FrameHeader, pack_frame
from medsight.settings import ReadLimits

__all__ = ["ReplayFrames", "ReplayOptions", "ReplayReport", "load_frames", "parse_spacing", "replay", "stream_url"]

_PERCENTILES = (50, 95, 99)
_SUMMARY_TIMEOUT_S = 15.0
# Close codes a server answers (server/sockets.py), back to the error a user reads.
_CLOSE_ERRORS: dict[int, type[MedsightError]] = {
    4400: StreamMessageError,
    4401: AuthenticationError,
    4403: PermissionDeniedError,
    4404: UnknownResourceError,
    4503: StreamBusyError,
}


@dataclass(frozen=True)
class ReplayFrames:
    """Encoded frames to send, in order.

    Attributes:
        frames: each frame's encoded bytes.
        rows: frame height, px.
        columns: frame width, px.
        pixel_spacing_mm: ``(row, column)`` mm when the source records it.
        encoding: how the frames are encoded.
    """

    frames: tuple[bytes, ...]
    rows: int
    columns: int
    pixel_spacing_mm: tuple[float, float] | None
    encoding: FrameEncoding


@dataclass(frozen=True)
class ReplayOptions:
    """What ``medsight stream`` does.

    Attributes:
        url: the service (``http://host:port``; ``ws://`` and ``wss://`` also accepted).
        task: the task whose stream is opened.
        token: a token holding ``streams:write``.
        fps: frames sent per second.
        seconds: how long to send.
        device_id: the device id to send as (default: the one the server names in its
            ``ready`` message, else ``medsight-stream``).
    """

    url: str
    task: str
    token: str
    fps: float = 30.0
    seconds: float = 10.0
    device_id: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.fps <= 1000:
            raise UsageError(f"--fps must be in (0, 1000], got {self.fps}")
        if not 0 < self.seconds <= 86_400:
            raise UsageError(f"--seconds must be in (0, 86400], got {self.seconds}")


@dataclass
class ReplayReport:
    """What a replay measured.

    Attributes:
        frames_sent: frames sent.
        frames_answered: answers received.
        frames_dropped: frames the server dropped (newest frame wins).
        latency_ms: server-side latency of each answer.
        rtt_ms: round trip of each answered frame, seen by this client.
        seconds: how long frames were sent.
        last: the last answer, for the human summary.
    """

    frames_sent: int = 0
    frames_answered: int = 0
    frames_dropped: int = 0
    latency_ms: list[float] = field(default_factory=list)
    rtt_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    last: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` keys: counts, and p50/p95/p99 of both latencies (None when nothing answered)."""
        return {
            "frames_sent": self.frames_sent,
            "frames_answered": self.frames_answered,
            "frames_dropped": self.frames_dropped,
            "latency_ms": percentiles(self.latency_ms),
            "rtt_ms": percentiles(self.rtt_ms),
        }


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """``{"p50", "p95", "p99"}`` of ``values`` in ms (rounded to 0.001), None when empty."""
    if not values:
        return {f"p{p}": None for p in _PERCENTILES}
    found = np.percentile(np.asarray(values, dtype=np.float64), _PERCENTILES)
    return {f"p{p}": round(float(v), 3) for p, v in zip(_PERCENTILES, found, strict=True)}


def load_frames(
    path: Path,
    encoding: FrameEncoding = FrameEncoding.JPEG,
    limits: ReadLimits | None = None,
    *,
    pixel_spacing_mm: tuple[float, float] | None = None,
) -> ReplayFrames:
    """Every frame of a cine, or every image of a folder, as 8-bit encoded frames of one size.

    ``pixel_spacing_mm`` (row, column) overrides what the files record (a PNG from a
    probe's export rarely records it; the measurements in mm need it).

    Raises:
        NoImagesFoundError: nothing readable at ``path``.
        UsageError: the images differ in size.
        InputError: the path cannot be read.
    """
    images, _failures = read(path, limits or ReadLimits())
    planes = [plane for image in images for plane in _planes(image)]
    if not planes:
        raise NoImagesFoundError(f"no frames to stream in {path.name}")
    shapes = {plane.shape for plane in planes}
    if len(shapes) > 1:
        raise UsageError(f"the frames in {path.name} differ in size; stream one size at a time")
    rows, columns = planes[0].shape
    return ReplayFrames(
        frames=tuple(encode_frame(plane, encoding) for plane in planes),
        rows=rows,
        columns=columns,
        pixel_spacing_mm=pixel_spacing_mm or _spacing(images[0]),
        encoding=encoding,
    )


def _planes(image: Image) -> list[NDArray[np.uint8]]:
    """8-bit greyscale planes: each frame of a cine or slice of a stack, or the image.

    8-bit sources (an ultrasound cine, PNG or JPEG frames) are sent as they are: they
    already hold display values, and windowing each frame on its own would change the
    brightness from frame to frame. Anything else is windowed to 8 bits.
    """
    eight_bit = (image.meta.bits_stored or 16) <= 8 and float(image.pixels.min(initial=0)) >= 0
    eight_bit = eight_bit and float(image.pixels.max(initial=0)) <= 255
    display = np.rint(image.pixels).astype(np.uint8) if eight_bit else display_array(image)
    if image.channels == 3:
        display = np.rint(display.mean(axis=-1)).astype(np.uint8)
    if image.layout is Layout.IMAGE:
        return [display]
    return list(display)


def _spacing(image: Image) -> tuple[float, float] | None:
    if not image.geometry.spacing_known:
        return None
    _, row_mm, col_mm = image.geometry.spacing
    return (float(row_mm), float(col_mm))


def parse_spacing(text: str) -> tuple[float, float]:
    """``"0.12"`` (square pixels) or ``"0.12,0.1"`` (row, column) as mm.

    Raises:
        UsageError: not one or two positive numbers.
    """
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(0 < v <= 100 for v in values):
        raise UsageError(f"--pixel-spacing must be MM or ROW_MM,COL_MM (positive), got {text!r}")
    return (values[0], values[-1])


def stream_url(url: str, task: str) -> str:
    """The WebSocket URL of ``task``'s stream on the service at ``url``.

    Raises:
        UsageError: not an http(s) or ws(s) URL.
    """
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise UsageError(f"--url must be http(s)://host:port, got {url!r}")
    path = parts.path.rstrip("/") + f"/api/v1/streams/{task}"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def replay(
    options: ReplayOptions, frames: ReplayFrames, *, on_answer: Callable[[dict[str, Any]], None] | None = None
) -> ReplayReport:
    """Stream ``frames`` to the service as ``options`` say, and report what came back.

    Raises:
        MedsightError: the service could not be reached, or closed the stream with an
            error (mapped back from its close code).
    """
    return asyncio.run(_Replayer(options, frames, on_answer).run())


class _Replayer:
    def __init__(
        self, options: ReplayOptions, frames: ReplayFrames, on_answer: Callable[[dict[str, Any]], None] | None
    ) -> None:
        self.options, self.frames, self.on_answer = options, frames, on_answer
        self.report = ReplayReport()
        self.sent_at: dict[int, float] = {}
        self.summary: asyncio.Future[dict[str, Any]] | None = None

    async def run(self) -> ReplayReport:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

        url = stream_url(self.options.url, self.options.task)
        headers = {"Authorization": f"Bearer {self.options.token}"}
        try:
            async with connect(url, additional_headers=headers, max_size=None, compression=None, proxy=None) as ws:
                return await self._session(ws)
        except ConnectionClosed as exc:
            raise _closed_error(exc.rcvd.code if exc.rcvd else 1006, exc.rcvd.reason if exc.rcvd else "") from None
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise MedsightError(f"cannot open a stream at {url} ({type(exc).__name__})") from None

    async def _session(self, ws: Any) -> ReplayReport:
        ready = json.loads(await ws.recv())
        device = self.options.device_id or ready.get("device_id") or "medsight-stream"
        self.summary = asyncio.get_running_loop().create_future()
        receiver = asyncio.create_task(self._receive(ws))
        try:
            await self._send(ws, device)
            await ws.send(json.dumps({"type": "end"}))
            summary = await asyncio.wait_for(asyncio.shield(self.summary), _SUMMARY_TIMEOUT_S)
            self.report.frames_dropped = int(summary["dropped"])
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
        return self.report

    async def _send(self, ws: Any, device: str) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.options.fps
        start = loop.time()
        next_at, index = start, 0
        frames = self.frames
        while loop.time() - start < self.options.seconds:
            header = FrameHeader(
                index=index,
                encoding=frames.encoding,
                rows=frames.rows,
                columns=frames.columns,
                pixel_spacing_mm=frames.pixel_spacing_mm,
            )
            message = DeviceMessage(
                schema_version=SCHEMA_VERSION, device_id=device, timestamp=time.time(), frame=header
            )
            data = pack_frame(message, frames.frames[index % len(frames.frames)])
            self.sent_at[index] = time.perf_counter()
            await ws.send(data)
            self.report.frames_sent += 1
            index += 1
            next_at = max(next_at + interval, loop.time())  # behind: send the next at once, no burst
            await asyncio.sleep(next_at - loop.time())
            if self.summary is not None and self.summary.done():
                break  # the server ended the stream
        self.report.seconds = loop.time() - start

    async def _receive(self, ws: Any) -> None:
        assert self.summary is not None
        try:
            async for text in ws:
                answer = json.loads(text)
                if answer.get("type") == "summary":
                    self.summary.set_result(answer)
                    return
                if answer.get("type") == "result":
                    self._record(answer)
        except Exception as exc:
            if not self.summary.done():
                self.summary.set_exception(exc)
            raise
        if not self.summary.done():
            code = ws.close_code or 1006
            self.summary.set_exception(_closed_error(code, ws.close_reason or ""))

    def _record(self, answer: dict[str, Any]) -> None:
        arrived = time.perf_counter()
        sent = self.sent_at.pop(int(answer["frame"]), None)
        # Frames sent before the answered one were dropped or answered: forget their times.
        for stale in [k for k in self.sent_at if k < int(answer["frame"])]:
            del self.sent_at[stale]
        self.report.frames_answered += 1
        self.report.latency_ms.append(float(answer["latency_ms"]))
        if sent is not None:
            self.report.rtt_ms.append((arrived - sent) * 1000.0)
        self.report.last = answer
        if self.on_answer is not None:
            self.on_answer(answer)


def _closed_error(code: int, reason: str) -> MedsightError:
    """The error a close code stands for; the server's reason is its code and message."""
    cls = _CLOSE_ERRORS.get(code, MedsightError)
    detail = reason.partition(": ")[2] or reason or f"the stream closed with code {code}"
    return cls(f"the service closed the stream ({code}): {detail}")
