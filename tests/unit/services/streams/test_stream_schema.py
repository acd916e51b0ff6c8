"""The device message schema v1: valid messages round-trip; malformed ones name fields, not values."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from medsight.errors import StreamMessageError
from medsight.services.streams.schema import (
    MAX_HEADER_BYTES,
    DeviceMessage,
    pack_frame,
    parse_text,
    unpack_frame,
)


def _frame(**frame: Any) -> dict[str, Any]:
    return {"schema": 1, "device_id": "probe-7", "timestamp": 1764160000.125, "frame": {"index": 3, **frame}}


def _signal(**signal: Any) -> dict[str, Any]:
    body = {"kind": "heart_rate", "unit": "/min", "values": [72.0], **signal}
    return {"schema": 1, "device_id": "band-3", "timestamp": 1764160000.5, "signal": body}


def test_a_frame_message_round_trips_through_the_binary_framing() -> None:
    message = DeviceMessage.model_validate(_frame(encoding="png", rows=2, columns=3, pixel_spacing_mm=[0.1, 0.2]))
    data = pack_frame(message, b"PIXELS")
    back, pixels = unpack_frame(data)
    assert back == message
    assert pixels == b"PIXELS"
    assert json.loads(message.header_json())["schema"] == 1
    assert back.frame is not None
    assert back.frame.shape == (2, 3)


def test_a_signal_sample_is_a_text_message() -> None:
    message = parse_text(json.dumps(_signal(values=[0.1, 0.2, 0.3], rate_hz=250, kind="ecg", unit="mV")))
    assert message.signal is not None
    assert message.signal.values == [0.1, 0.2, 0.3]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**_frame(encoding="png"), "schema": 2}, "schema"),
        ({**_frame(encoding="gif")}, "frame.encoding"),
        ({**_frame(encoding="raw")}, "frame"),  # raw without rows/columns
        ({**_frame(encoding="png", rows=5)}, "frame"),  # rows without columns
        ({**_frame(encoding="png", pixel_spacing_mm=[0, 1])}, "frame.pixel_spacing_mm"),
        ({**_frame(encoding="png"), "device_id": "bad id with spaces"}, "device_id"),
        ({**_frame(encoding="png"), "extra": 1}, "extra"),
        ({**_frame(encoding="png"), "signal": _signal()["signal"]}, "(message)"),  # both payloads
        ({"schema": 1, "device_id": "x", "timestamp": 1.0}, "(message)"),  # neither
        (_signal(values=[]), "signal.values"),
        ({**_frame(encoding="png", index=-1)}, "frame.index"),
    ],
)
def test_malformed_messages_are_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(StreamMessageError) as caught:
        parse_text(json.dumps(body))
    assert field in caught.value.message
    assert "bad id with spaces" not in caught.value.message  # fields, never values


def test_non_finite_signal_values_are_refused() -> None:
    with pytest.raises(StreamMessageError, match=r"signal\.values"):
        parse_text(json.dumps(_signal()).replace("72.0", "NaN"))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x00",
        struct.pack(">I", 10) + b"{}",  # length beyond the message
        struct.pack(">I", MAX_HEADER_BYTES + 1) + b"x" * (MAX_HEADER_BYTES + 10),
        struct.pack(">I", 4) + b"nope" + b"px",
        struct.pack(">I", len(b'{"schema": 1}')) + b'{"schema": 1}' + b"px",
    ],
)
def test_bad_binary_framing_is_refused(data: bytes) -> None:
    with pytest.raises(StreamMessageError):
        unpack_frame(data)


def test_a_frame_without_pixels_or_a_signal_in_binary_is_refused() -> None:
    header = DeviceMessage.model_validate(_frame(encoding="png")).header_json()
    with pytest.raises(StreamMessageError, match="no pixels"):
        unpack_frame(struct.pack(">I", len(header)) + header)
    signal = DeviceMessage.model_validate(_signal()).header_json()
    with pytest.raises(StreamMessageError, match="must carry a frame"):
        unpack_frame(struct.pack(">I", len(signal)) + signal + b"px")


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(StreamMessageError, match="JSON"):
        parse_text("hello")
