"""Re-encoding stored objects as Explicit VR Little Endian keeps every pixel."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medsight.errors import UnsupportedTransferSyntaxError
from medsight.io.dicom.transcode import EXPLICIT_VR_LITTLE_ENDIAN, check_transcodable, to_explicit_little_endian


@pytest.mark.parametrize(
    "name",
    [
        "JPEG2000.dcm",
        "MR_small_RLE.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "rtdose.dcm",
        "examples_ybr_color.dcm",
    ],
)
def test_pixels_survive(name: str) -> None:
    data = Path(get_testdata_file(name)).read_bytes()
    original = pydicom.dcmread(io.BytesIO(data))
    back = pydicom.dcmread(io.BytesIO(to_explicit_little_endian(data)))
    assert back.file_meta.TransferSyntaxUID == EXPLICIT_VR_LITTLE_ENDIAN
    assert back.SOPInstanceUID == original.SOPInstanceUID
    assert np.array_equal(back.pixel_array, original.pixel_array)


def test_explicit_little_endian_is_sent_as_it_is() -> None:
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    assert to_explicit_little_endian(data) is data


def test_objects_without_pixels_are_re_encoded_too() -> None:
    data = Path(get_testdata_file("rtplan.dcm")).read_bytes()
    back = pydicom.dcmread(io.BytesIO(to_explicit_little_endian(data)))
    assert back.file_meta.TransferSyntaxUID == EXPLICIT_VR_LITTLE_ENDIAN


def test_unknown_syntaxes_are_refused() -> None:
    with pytest.raises(UnsupportedTransferSyntaxError):
        check_transcodable("1.2.3.4")
