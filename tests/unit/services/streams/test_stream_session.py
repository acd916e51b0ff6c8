"""One stream session without a network: answers, drops, smoothing, device binding, errors."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from tests.unit.services.streams.fakes import FakePredictor

from medsight.errors import StreamMessageError, UnknownDeviceError
from medsight.io.framebytes import FrameEncoding, encode_frame
from medsight.services.streams.hub import StreamHub
from medsight.services.streams.schema import DeviceMessage, pack_frame
from medsight.services.streams.session import Incoming, StreamSession, ready_message

PIXELS = np.full((6, 8), 100, dtype=np.uint8)


def frame_message(index: int, device: str = "probe-1", pixels: np.ndarray = PIXELS) -> bytes:
    header = {"index": index, "encoding": "raw", "rows": pixels.shape[0], "columns": pixels.shape[1]}
    message = DeviceMessage.model_validate(
        {"schema": 1, "device_id": device, "timestamp": time.time(), "frame": header}
    )
    return pack_frame(message, encode_frame(pixels, FrameEncoding.RAW))


class ScriptedSocket:
    """Plays ``incoming`` (a float is a pause in seconds), records what is sent."""

    def __init__(self, incoming: Sequence[Incoming | float]) -> None:
        self.incoming = list(incoming)
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> Incoming:
        while self.incoming:
            item = self.incoming.pop(0)
            if isinstance(item, float):
                await asyncio.sleep(item)
                continue
            return item
        await asyncio.sleep(3600)  # a client that says nothing more
        return None

    async def send_json(self, data: dict[str, Any]) -> None:
        self.sent.append(data)


END = json.dumps({"type": "end"})


def run(socket: ScriptedSocket, predictor: FakePredictor, device: str | None = None) -> StreamSession:
    hub = StreamHub()
    session = StreamSession(hub, predictor, socket, device)
    try:
        asyncio.run(asyncio.wait_for(session.run(), 10))
    finally:
        hub.close()
    return session


def test_each_analysed_frame_is_answered_then_a_summary() -> None:
    socket = ScriptedSocket([frame_message(0), 0.05, frame_message(1), 0.05, END])
    session = run(socket, FakePredictor())
    results = [m for m in socket.sent if m["type"] == "result"]
    assert [r["frame"] for r in results] == [0, 1]
    assert results[0]["result"] == {"mean": 100.0, "shape": [6, 8]}
    assert results[0]["latency_ms"] >= 0
    assert results[0]["smoothed"]["mean"]["latest"] == 100.0
    assert socket.sent[-1] == {"type": "summary", "received": 2, "answered": 2, "dropped": 0, "signals": 0}
    assert session.stats.answered == 2


def test_frames_faster_than_the_model_are_dropped_and_the_newest_answered() -> None:
    burst: list[Incoming | float] = [frame_message(i) for i in range(20)]
    socket = ScriptedSocket([*burst, 0.3, END])
    predictor = FakePredictor(delay_s=0.05)
    run(socket, predictor)
    summary = socket.sent[-1]
    answered = [m["frame"] for m in socket.sent if m["type"] == "result"]
    assert summary["received"] == 20
    assert summary["answered"] + summary["dropped"] == 20
    assert summary["dropped"] >= 15
    assert answered[-1] == 19  # the newest frame always gets its answer
    assert answered == sorted(answered)
    assert predictor.calls == summary["answered"]


def test_measurements_become_stable() -> None:
    socket = ScriptedSocket([x for i in range(4) for x in (frame_message(i), 0.02)] + [END])
    run(socket, FakePredictor())
    flags = [m["smoothed"]["mean"]["stable"] for m in socket.sent if m["type"] == "result"]
    assert flags == [False, False, True, True]


def test_a_device_token_streams_only_as_its_device() -> None:
    socket = ScriptedSocket([frame_message(0, device="probe-2")])
    with pytest.raises(UnknownDeviceError):
        run(socket, FakePredictor(), device="probe-1")


def test_a_people_token_binds_the_stream_to_its_first_device() -> None:
    socket = ScriptedSocket([frame_message(0, device="viewer"), 0.02, frame_message(1, device="other")])
    with pytest.raises(UnknownDeviceError):
        run(socket, FakePredictor(), device=None)


@pytest.mark.parametrize(
    "bad",
    [b"\x00\x00\x00\x02{}", "not json", json.dumps({"type": "pause"}), json.dumps({"schema": 1})],
)
def test_malformed_messages_end_the_stream(bad: Incoming) -> None:
    with pytest.raises(StreamMessageError):
        run(ScriptedSocket([frame_message(0), bad]), FakePredictor())


def test_an_undecodable_frame_ends_the_stream() -> None:
    message = DeviceMessage.model_validate(
        {"schema": 1, "device_id": "probe-1", "timestamp": 1.0, "frame": {"index": 0, "encoding": "png"}}
    )
    with pytest.raises(Exception, match="not a readable png"):
        run(ScriptedSocket([pack_frame(message, b"garbage"), 0.2]), FakePredictor())


def test_signal_samples_are_validated_and_counted() -> None:
    signal = {"schema": 1, "device_id": "probe-1", "timestamp": 1.0}
    sample = json.dumps({**signal, "signal": {"kind": "heart_rate", "unit": "/min", "values": [70]}})
    socket = ScriptedSocket([sample, sample, END])
    run(socket, FakePredictor())
    assert socket.sent[-1]["signals"] == 2


def test_a_client_that_goes_away_gets_no_summary() -> None:
    socket = ScriptedSocket([frame_message(0), 0.05, None])
    run(socket, FakePredictor())
    assert all(m["type"] == "result" for m in socket.sent)


def test_the_ready_message_names_task_model_device_and_measurements() -> None:
    ready = ready_message(FakePredictor(), "probe-1")
    assert ready["type"] == "ready"
    assert ready["schema"] == 1
    assert ready["task"] == "fake-task"
    assert ready["device_id"] == "probe-1"
    assert ready["measurements"] == ["mean"]


def test_reset_forgets_the_smoothing_history() -> None:
    reset = json.dumps({"type": "reset"})
    steady = [x for i in range(3) for x in (frame_message(i), 0.02)]
    socket = ScriptedSocket([*steady, reset, frame_message(3), 0.02, END])
    run(socket, FakePredictor())
    results = [m["smoothed"]["mean"] for m in socket.sent if m["type"] == "result"]
    assert results[2]["stable"]
    assert results[3]["n"] == 1
    assert not results[3]["stable"]
