"""Frames in memory: PNG, JPEG and raw decode to uint8 greyscale; damage and size limits are typed errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from medsight.errors import InvalidImageError, ResourceLimitError, UsageError
from medsight.io.framebytes import FrameEncoding, decode_frame, encode_frame

FRAME = (np.arange(60 * 80, dtype=np.uint32).reshape(60, 80) % 251).astype(np.uint8)


@pytest.mark.parametrize("encoding", [FrameEncoding.PNG, FrameEncoding.RAW])
def test_lossless_encodings_round_trip(encoding: FrameEncoding) -> None:
    data = encode_frame(FRAME, encoding)
    np.testing.assert_array_equal(decode_frame(data, encoding, (60, 80)), FRAME)


def test_jpeg_round_trips_closely() -> None:
    smooth = np.tile(np.linspace(0, 255, 80, dtype=np.float32), (60, 1)).astype(np.uint8)
    back = decode_frame(encode_frame(smooth, FrameEncoding.JPEG, quality=95), FrameEncoding.JPEG)
    assert back.shape == (60, 80)
    assert np.abs(back.astype(int) - smooth.astype(int)).mean() < 2


def test_colour_frames_become_greyscale() -> None:
    rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    buffer = io.BytesIO()
    PILImage.fromarray(rgb).save(buffer, format="PNG")
    grey = decode_frame(buffer.getvalue(), FrameEncoding.PNG)
    assert grey.shape == (4, 5)
    assert grey.dtype == np.uint8
    assert int(grey[0, 0]) == 76  # ITU-R 601 luma of pure red


@pytest.mark.parametrize(
    ("data", "encoding", "shape", "error"),
    [
        (b"not a png", FrameEncoding.PNG, None, InvalidImageError),
        (encode_frame(FRAME, FrameEncoding.PNG)[:100], FrameEncoding.PNG, None, InvalidImageError),
        (encode_frame(FRAME, FrameEncoding.PNG), FrameEncoding.JPEG, None, InvalidImageError),
        (encode_frame(FRAME, FrameEncoding.PNG), FrameEncoding.PNG, (10, 10), InvalidImageError),
        (b"\x00" * 10, FrameEncoding.RAW, (3, 3), InvalidImageError),
        (b"\x00" * 9, FrameEncoding.RAW, None, UsageError),
    ],
)
def test_bad_frames_are_typed_errors(
    data: bytes, encoding: FrameEncoding, shape: tuple[int, int] | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        decode_frame(data, encoding, shape)


def test_the_pixel_limit_is_checked_before_decoding() -> None:
    with pytest.raises(ResourceLimitError):
        decode_frame(encode_frame(FRAME, FrameEncoding.PNG), FrameEncoding.PNG, max_pixels=100)
    with pytest.raises(ResourceLimitError):
        decode_frame(b"\x00" * 4800, FrameEncoding.RAW, (60, 80), max_pixels=100)


def test_encode_refuses_what_is_not_a_2d_uint8_frame() -> None:
    with pytest.raises(UsageError):
        encode_frame(FRAME.astype(np.float32), FrameEncoding.PNG)  # type: ignore[arg-type]
