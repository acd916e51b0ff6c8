"""Frames as native little-endian bytes and renderings, checked against pydicom's own decode."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image as PILImage
from pydicom.data import get_testdata_file

from medsight.errors import MissingPixelDataError, PixelDecodeError, UsageError
from medsight.io.dicom.frames import iter_frames, parse_frame_list
from medsight.io.dicom.rendered import RenderFormat, Window, WindowFunction, parse_window, render_instance

FILES = [
    "CT_small.dcm",  # native little endian
    "MR_small_bigendian.dcm",  # big endian: swapped
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "JPEG2000.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",  # YBR JPEG: RGB out
    "SC_rgb_small_odd.dcm",
    "SC_rgb_rle_16bit_2frame.dcm",
    "rtdose.dcm",  # 15 frames, 32-bit
    "rtdose_rle.dcm",
    "examples_ybr_color.dcm",  # 30 frames JPEG 4:2:2
    "examples_palette.dcm",  # palette indices as stored
]


def _bytes(name: str) -> bytes:
    path = get_testdata_file(name)
    assert path is not None
    return Path(path).read_bytes()


def _expected(name: str, frame: int) -> bytes:
    dataset = pydicom.dcmread(get_testdata_file(name))
    array = dataset.pixel_array
    if int(getattr(dataset, "NumberOfFrames", 1) or 1) > 1:
        array = array[frame - 1]
    return np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"))).tobytes()


@pytest.mark.parametrize("name", FILES)
def test_frames_match_pydicom(name: str) -> None:
    data = _bytes(name)
    frames = int(getattr(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True), "NumberOfFrames", 1) or 1)
    wanted = sorted({1, frames})
    assert list(iter_frames(data, wanted)) == [_expected(name, n) for n in wanted]


def test_one_bit_frames_are_packed_little_endian() -> None:
    (frame,) = iter_frames(_bytes("liver_1frame.dcm"), [1])
    dataset = pydicom.dcmread(get_testdata_file("liver_1frame.dcm"))
    assert np.array_equal(
        np.unpackbits(np.frombuffer(frame, np.uint8), bitorder="little")[: dataset.pixel_array.size],
        dataset.pixel_array.ravel(),
    )


def test_uncompressed_ybr_422_frames_are_as_stored() -> None:
    data = _bytes("SC_ybr_full_422_uncompressed.dcm")
    dataset = pydicom.dcmread(io.BytesIO(data))
    (frame,) = iter_frames(data, [1])
    assert frame == dataset.PixelData[: dataset.Rows * dataset.Columns * 2]


def test_frame_errors() -> None:
    with pytest.raises(UsageError, match="frame"):
        list(iter_frames(_bytes("CT_small.dcm"), [2]))
    with pytest.raises(MissingPixelDataError):
        list(iter_frames(_bytes("rtplan.dcm"), [1]))
    truncated = _bytes("CT_small.dcm")[:-1000]
    with pytest.raises(PixelDecodeError):
        list(iter_frames(truncated, [1]))


@pytest.mark.parametrize(("text", "numbers"), [("1", [1]), ("1,3, 2", [1, 3, 2]), ("07", [7])])
def test_frame_lists(text: str, numbers: list[int]) -> None:
    assert parse_frame_list(text) == numbers


@pytest.mark.parametrize("text", ["", "0", "-1", "1,,2", "a", "1.5", "¹"])
def test_bad_frame_lists(text: str) -> None:
    with pytest.raises(UsageError, match="frames"):
        parse_frame_list(text)


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("40,400", Window(40, 400)),
        ("-600, 1500, LINEAR_EXACT", Window(-600, 1500, WindowFunction.LINEAR_EXACT)),
        ("0,0.5,sigmoid", Window(0, 0.5, WindowFunction.SIGMOID)),
    ],
)
def test_windows(text: str, window: Window) -> None:
    assert parse_window(text) == window


@pytest.mark.parametrize("text", ["40", "40,400,cubic", "a,b", "40,0", "40,0.5", "nan,400", "1,2,3,4"])
def test_bad_windows(text: str) -> None:
    with pytest.raises(UsageError, match="window"):
        parse_window(text)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("media", list(RenderFormat))
def test_renderings_have_the_image_size(name: str, media: RenderFormat) -> None:
    data = _bytes(name)
    dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    rendered = render_instance(data, media, frame=frames)
    with PILImage.open(io.BytesIO(rendered)) as image:
        assert image.format == ("PNG" if media is RenderFormat.PNG else "JPEG")
        assert image.size == (dataset.Columns, dataset.Rows)


def test_a_window_changes_a_greyscale_rendering() -> None:
    data = _bytes("CT_small.dcm")
    plain = render_instance(data, RenderFormat.PNG)
    narrow = render_instance(data, RenderFormat.PNG, window=Window(40, 80))
    sigmoid = render_instance(data, RenderFormat.PNG, window=Window(40, 80, WindowFunction.SIGMOID))
    assert len({plain, narrow, sigmoid}) == 3
    with PILImage.open(io.BytesIO(narrow)) as image:
        values = np.asarray(image)
    assert (values.min(), values.max()) == (0, 255)


def test_rendering_a_frame_beyond_the_last_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="frame"):
        render_instance(_bytes("rtdose.dcm"), RenderFormat.PNG, frame=16)
