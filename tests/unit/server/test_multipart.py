"""multipart/related framing: what the builder writes the parser reads back, and malformed bodies are 400s."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medsight.errors import UsageError
from medsight.server.multipart import (
    check_boundary,
    closing_delimiter,
    encode_part,
    multipart_content_type,
    new_boundary,
    parse_media_type,
    parse_multipart,
)

BOUNDARY = "test-boundary"


def _body(parts: list[bytes], boundary: str = BOUNDARY, media: str = "application/dicom") -> bytes:
    return b"".join(encode_part(p, boundary, {"Content-Type": media}) for p in parts) + closing_delimiter(boundary)


@given(
    parts=st.lists(st.binary(max_size=300), max_size=6),
    preamble=st.sampled_from([b"", b"a preamble\r\n"]),
    epilogue=st.sampled_from([b"", b"an epilogue"]),
)
def test_round_trip(parts: list[bytes], preamble: bytes, epilogue: bytes) -> None:
    boundary = new_boundary()
    found = parse_multipart(preamble + _body(parts, boundary) + epilogue, boundary)
    assert [p.body for p in found] == parts
    assert all(p.media_type == "application/dicom" for p in found)


@given(st.binary(max_size=200))
def test_a_body_that_contains_the_boundary_without_a_line_break_before_it_survives(noise: bytes) -> None:
    # (a part may not begin with the delimiter: its CRLF would be the blank line's)
    payload = b"x" + noise.replace(b"\r", b"") + b"--" + BOUNDARY.encode() + noise.replace(b"\r", b"")
    assert [p.body for p in parse_multipart(_body([payload]), BOUNDARY)] == [payload]


@given(st.binary(max_size=400))
def test_arbitrary_bytes_parse_or_raise_usage_error(data: bytes) -> None:
    try:
        parse_multipart(data, BOUNDARY)
    except UsageError as error:
        message = error.message
    else:
        return
    assert message.startswith("malformed multipart body")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"no delimiter",
        b"--test-boundary\r\nContent-Type: application/dicom\r\n\r\ntruncated",
        b"--test-boundary\r\nbroken header\r\n\r\nx\r\n--test-boundary--",
        b"--test-boundary\r\nContent-Type: application/dicom\r\nno blank line\r\n--test-boundary--",
        b"--test-boundaryX\r\n\r\nx\r\n--test-boundary--",
    ],
    ids=["empty", "no-delimiter", "truncated", "bad-header", "no-blank-line", "delimiter-not-ended"],
)
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(UsageError, match="malformed multipart body"):
        parse_multipart(body, BOUNDARY)


def test_parts_without_headers_and_an_empty_body() -> None:
    assert [p.body for p in parse_multipart(b"--test-boundary\r\n\r\nx\r\n--test-boundary--", BOUNDARY)] == [b"x"]
    assert parse_multipart(b"--test-boundary--\r\n", BOUNDARY) == []


def test_transport_padding_after_a_delimiter_is_allowed() -> None:
    body = b"--test-boundary  \r\nContent-Type: application/dicom\r\n\r\nx\r\n--test-boundary--"
    assert [p.body for p in parse_multipart(body, BOUNDARY)] == [b"x"]


@pytest.mark.parametrize("boundary", [None, "", "x" * 71, 'bad"quote', "ends with space "])
def test_invalid_boundaries(boundary: str | None) -> None:
    with pytest.raises(UsageError):
        check_boundary(boundary)


def test_media_types_and_parameters() -> None:
    media, params = parse_media_type('Multipart/Related; type="application/dicom"; Boundary=abc ; start="<a;b>"')
    assert media == "multipart/related"
    assert params == {"type": "application/dicom", "boundary": "abc", "start": "<a;b>"}
    assert parse_media_type("application/dicom") == ("application/dicom", {})
    header = multipart_content_type("application/octet-stream", "b1", transfer_syntax="1.2.840.10008.1.2.1")
    assert parse_media_type(header)[1] == {
        "type": "application/octet-stream",
        "transfer-syntax": "1.2.840.10008.1.2.1",
        "boundary": "b1",
    }


def test_part_repr_shows_no_content() -> None:
    (part,) = parse_multipart(_body([b"PATIENT^NAME"]), BOUNDARY)
    assert "PATIENT" not in repr(part)
