"""The element walker: the same header facts as pydicom, and pydicom for what it does not read."""

from __future__ import annotations

import dataclasses
import io
import struct
from pathlib import Path

import pydicom
import pytest

from medsight.errors import MedsightError
from medsight.io import read_image
from medsight.io.dicom.header import InstanceHeader, read_header
from medsight.io.dicom.parse import parse_member
from medsight.io.dicom.series import _meta, _study_context, plan_images
from medsight.io.dicom.walk import UnwalkableError, walk_stream
from medsight.io.sources import open_path
from medsight.settings import ReadLimits

LIMITS = ReadLimits()


def _headers(path: Path) -> tuple[InstanceHeader, InstanceHeader] | None:
    """The header read through the walker and through pydicom; None when either refuses it."""
    member = open_path(path)
    try:
        walked, parsed = parse_member(member), parse_member(member, walk=False)
        return read_header(member, walked, LIMITS), read_header(member, parsed, LIMITS)
    except MedsightError:
        return None


def _facts(header: InstanceHeader) -> dict[str, object]:
    fields = {f.name: getattr(header, f.name) for f in dataclasses.fields(header) if f.name not in ("member", "parsed")}
    fields["study"] = {k: str(v) for k, v in _study_context(header).items()}
    plans, _ = plan_images([header])
    fields["meta"] = [_meta(plan) for plan in plans]
    pixels = header.parsed
    fields["pixels"] = (
        pixels.pixel_offset,
        pixels.pixel_length,
        pixels.pixel_vr,
        pixels.encapsulated,
        pixels.truncated,
    )
    return fields


def test_walker_and_pydicom_agree_on_every_bundled_file(pydicom_test_files: Path) -> None:
    compared = 0
    for path in sorted(pydicom_test_files.glob("*.dcm")):
        headers = _headers(path)
        if headers is None:
            continue
        walked, parsed = headers
        assert _facts(walked) == _facts(parsed), path.name
        compared += 1
    assert compared >= 50


def test_walker_and_pydicom_agree_on_the_shared_samples(samples_dir: Path) -> None:
    for path in sorted(samples_dir.rglob("*.dcm")):
        headers = _headers(path)
        assert headers is not None, path.name
        assert _facts(headers[0]) == _facts(headers[1]), path.name


def _file(dataset: bytes, syntax: bytes = b"1.2.840.10008.1.2.1\x00") -> bytes:
    """A PS3.10 file: preamble, DICM, a File Meta with only the Transfer Syntax UID."""
    meta = b"\x02\x00\x10\x00UI" + struct.pack("<H", len(syntax)) + syntax
    return b"\x00" * 128 + b"DICM" + meta + dataset


def _walk(data: bytes) -> object:
    return walk_stream(io.BytesIO(data), len(data))


def test_sequences_of_undefined_length_are_skipped_and_readable() -> None:
    item = b"\x18\x00\x24\x60US\x02\x00\x03\x00"  # Physical Units X Direction = 3 (cm)
    sequence = b"\xfe\xff\x00\xe0\xff\xff\xff\xff" + item + b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
    sequence += b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    dataset = b"\x18\x00\x11\x60SQ\x00\x00\xff\xff\xff\xff" + sequence
    dataset += b"\x28\x00\x10\x00US\x02\x00\x40\x00" + b"\xe0\x7f\x10\x00OW\x00\x00\x04\x00\x00\x00abcd"
    walked = _walk(_file(dataset))
    regions = walked.dataset.items(0x00186011)  # type: ignore[attr-defined]
    assert len(regions) == 1
    assert regions[0].raw(0x00186024) == (b"US", b"\x03\x00")
    assert walked.dataset.raw(0x00280010) == (b"US", b"\x40\x00")  # type: ignore[attr-defined]
    assert walked.pixel_length == 4  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x08\x00\x16\x00UI\x02\x00ab", "no preamble"),
        (_file(b"\x08\x00\x16\x00ZZ\x02\x00ab"), "unknown VR"),
        (_file(b"\x08\x00\x16\x00UI\x20\x00ab"), "value past the end"),
        (_file(b"\x08\x00\x16\x00UI\x02\x00ab", syntax=b"1.2.840.10008.1.2.1.99"), "deflated"),
        (_file(b"\x08\x00\x16\x00\x02\x00\x00\x00ab", syntax=b"1.2.840.10008.1.2.1\x00"), "implicit as explicit"),
    ],
)
def test_what_the_walker_does_not_read_is_left_to_pydicom(data: bytes, why: str) -> None:
    with pytest.raises(UnwalkableError):
        _walk(data)


def test_a_long_header_is_read_in_more_than_one_go(tmp_path: Path, pydicom_test_files: Path) -> None:
    dataset = pydicom.dcmread(pydicom_test_files / "CT_small.dcm")
    dataset.ImageComments = "x" * 200_000  # pushes Pixel Data past the first read
    dataset.save_as(tmp_path / "long.dcm")
    headers = _headers(tmp_path / "long.dcm")
    assert headers is not None
    assert headers[0].parsed.values.text(0x00204000) == "x" * 200_000
    assert _facts(headers[0]) == _facts(headers[1])


def test_a_value_pydicom_cannot_convert_is_absent_not_a_crash(tmp_path: Path, pydicom_test_files: Path) -> None:
    # An unknown VR on Study ID: the walker leaves the file to pydicom, whose conversion
    # of that value raises NotImplementedError when the study context asks for it.
    data = (pydicom_test_files / "CT_small.dcm").read_bytes()
    at = data.index(b"\x20\x00\x10\x00SH")
    (tmp_path / "odd.dcm").write_bytes(data[: at + 4] + b"SI" + data[at + 6 :])
    image = read_image(tmp_path / "odd.dcm", LIMITS)
    assert "StudyID" not in image.study
    assert image.shape == (128, 128)
