"""The device message schema (version 1): what a probe, a wearable or a gateway sends.

One message is one observation from one device at one time: a frame (an image from a
probe) or a signal sample (a reading from a wearable sensor). The same JSON is used
everywhere, validated by pydantic at the boundary so nothing malformed reaches the
analysis:

.. code-block:: json

    {"schema": 1, "device_id": "probe-7", "timestamp": 1764160000.125,
     "frame": {"index": 12, "encoding": "png", "rows": 540, "columns": 800,
               "pixel_spacing_mm": [0.12, 0.12]}}

    {"schema": 1, "device_id": "band-3", "timestamp": 1764160000.5,
     "signal": {"kind": "heart_rate", "unit": "/min", "values": [72.0], "rate_hz": 1.0}}

On a live stream a frame travels as one binary WebSocket message (:func:`pack_frame`):
a 4-byte big-endian length ``n``, ``n`` bytes of the JSON header above, then the
encoded pixels. A signal sample is a text message holding the JSON alone. Unknown
fields are refused (a typo is an error, not silently ignored); ``schema`` is the
version, and a later version will get a new number rather than change this one.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from medsight.errors import StreamMessageError
from medsight.io.framebytes import FrameEncoding

__all__ = [
    "MAX_HEADER_BYTES",
    "SCHEMA_VERSION",
    "DeviceMessage",
    "FrameHeader",
    "SignalSample",
    "pack_frame",
    "parse_text",
    "unpack_frame",
]

#: The version this module reads and writes.
SCHEMA_VERSION: Final = 1
#: The largest JSON header a binary frame message may carry.
MAX_HEADER_BYTES = 4096
_LENGTH = struct.Struct(">I")

DeviceId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FrameHeader(_Strict):
    """One frame's description.

    Attributes:
        index: the sender's frame counter (answers name it; need not start at 0).
        encoding: ``png``, ``jpeg`` or ``raw`` (rows x columns uint8, row-major).
        rows: frame height, px (required for raw; checked for PNG/JPEG when given).
        columns: frame width, px (same).
        pixel_spacing_mm: (row, column) spacing in mm, when the probe knows it;
            measurements in mm need it.
    """

    index: int = Field(ge=0, lt=2**53)
    encoding: FrameEncoding
    rows: int | None = Field(default=None, ge=1, le=8192)
    columns: int | None = Field(default=None, ge=1, le=8192)
    pixel_spacing_mm: tuple[float, float] | None = None

    @field_validator("pixel_spacing_mm")
    @classmethod
    def _positive(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not all(math.isfinite(v) and 0 < v <= 100 for v in value):
            raise ValueError("pixel spacing must be two finite values in (0, 100] mm")
        return value

    @model_validator(mode="after")
    def _raw_has_shape(self) -> FrameHeader:
        if self.encoding is FrameEncoding.RAW and (self.rows is None or self.columns is None):
            raise ValueError("a raw frame needs rows and columns")
        if (self.rows is None) != (self.columns is None):
            raise ValueError("give rows and columns together")
        return self

    @property
    def shape(self) -> tuple[int, int] | None:
        """``(rows, columns)`` when given."""
        return (self.rows, self.columns) if self.rows is not None and self.columns is not None else None


class SignalSample(_Strict):
    """One reading (or a short burst of readings) from a wearable's sensor.

    Attributes:
        kind: what is measured (``heart_rate``, ``spo2``, ``ecg``, ``temperature``...).
        unit: its UCUM unit (``/min``, ``%``, ``mV``, ``Cel``).
        values: the reading, or a burst sampled at ``rate_hz`` (at most 4,096 values).
        rate_hz: sampling rate of a burst.
    """

    kind: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    unit: str = Field(min_length=1, max_length=32)
    values: list[float] = Field(min_length=1, max_length=4096)
    rate_hz: float | None = Field(default=None, gt=0, le=100_000)

    @field_validator("values")
    @classmethod
    def _finite(cls, values: list[float]) -> list[float]:
        if not all(math.isfinite(v) for v in values):
            raise ValueError("values must be finite")
        return values


class DeviceMessage(_Strict):
    """One message from one device: exactly one of ``frame`` or ``signal``.

    Attributes:
        schema_version: always :data:`SCHEMA_VERSION` (``"schema"`` on the wire).
        device_id: the sending device (letters, digits, ``._:-``; at most 64).
        timestamp: when the device observed it, seconds since the Unix epoch on the
            device's clock (echoed back, never trusted for ordering).
        frame: an image frame's header (its pixels follow in the binary message).
        signal: a sensor sample.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_version: Literal[1] = Field(alias="schema")
    device_id: DeviceId
    timestamp: float = Field(ge=0, lt=1e11)
    frame: FrameHeader | None = None
    signal: SignalSample | None = None

    @model_validator(mode="after")
    def _one_payload(self) -> DeviceMessage:
        if (self.frame is None) == (self.signal is None):
            raise ValueError("a message carries exactly one of frame or signal")
        return self

    def header_json(self) -> bytes:
        """The message as compact JSON, with ``schema`` as its key."""
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


def _validated(data: bytes | str, what: str) -> DeviceMessage:
    try:
        return DeviceMessage.model_validate_json(data)
    except ValidationError as exc:
        # Name the fields that failed, never the values sent.
        fields = sorted({".".join(str(p) for p in error["loc"]) or "(message)" for error in exc.errors()})
        raise StreamMessageError(f"{what} is not a valid device message (fields: {', '.join(fields)})") from None


def pack_frame(message: DeviceMessage, pixels: bytes) -> bytes:
    """One binary stream message: length, JSON header, encoded pixels.

    Raises:
        StreamMessageError: ``message`` carries no frame, or its header is too long.
    """
    if message.frame is None:
        raise StreamMessageError("a binary message carries a frame")
    header = message.header_json()
    if len(header) > MAX_HEADER_BYTES:
        raise StreamMessageError(f"the frame header is {len(header)} bytes, more than {MAX_HEADER_BYTES}")
    return _LENGTH.pack(len(header)) + header + pixels


def unpack_frame(data: bytes) -> tuple[DeviceMessage, bytes]:
    """Split and validate a binary stream message.

    Raises:
        StreamMessageError: bad framing, a header that is not a valid frame message,
            or no pixels.
    """
    if len(data) < _LENGTH.size:
        raise StreamMessageError("a binary message starts with a 4-byte header length")
    (length,) = _LENGTH.unpack_from(data)
    if not 2 <= length <= MAX_HEADER_BYTES or len(data) < _LENGTH.size + length:
        raise StreamMessageError(f"the header length must be 2..{MAX_HEADER_BYTES} bytes and within the message")
    message = _validated(data[_LENGTH.size : _LENGTH.size + length], "the frame header")
    if message.frame is None:
        raise StreamMessageError("a binary message must carry a frame (a signal sample is sent as text)")
    pixels = data[_LENGTH.size + length :]
    if not pixels:
        raise StreamMessageError("the frame message holds no pixels")
    return message, pixels


def parse_text(text: str) -> DeviceMessage:
    """Validate a text message that holds a device message (a signal sample).

    Raises:
        StreamMessageError: not JSON, or not a valid device message.
    """
    try:
        json.loads(text)
    except ValueError:
        raise StreamMessageError("a text message must be JSON") from None
    return _validated(text, "the text message")
