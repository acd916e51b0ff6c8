"""The de-identification walk over plain data: every action, sequences, private tags, options."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.data.dict_node import DictNode

from medsight.errors import DeidentificationKeyError
from medsight.privacy.engine import context_for, deidentify, residual
from medsight.privacy.profile import Option, compile_profile
from medsight.privacy.pseudonym import Pseudonymizer
from medsight.privacy.values import clean_text, shift_date, shift_datetime

KEY = b"test-key-0123456789abcdef"


def _item() -> DictNode:
    return DictNode({0x00081150: ("UI", "1.2.840.10008.5.1.4.1.1.2"), 0x00081155: ("UI", "1.2.3.4.5.6")})


def _dataset() -> DictNode:
    return DictNode(
        {
            0x00080018: ("UI", "1.2.3.4"),
            0x00080020: ("DA", "20240131"),
            0x0008002A: ("DT", "20240131101010"),
            0x00080050: ("SH", "ACC123"),
            0x00080080: ("LO", "General Hospital"),
            0x00081030: ("LO", "CT of Jane Doe 2024-01-31"),
            0x00081140: ("SQ", [_item()]),
            0x00100010: ("PN", "Doe^Jane"),
            0x00100020: ("LO", "MRN-1"),
            0x00101010: ("AS", "045Y"),
            0x00280010: ("US", 64),
            0x0040A730: ("SQ", [DictNode({0x0040A160: ("UT", "secret")})]),
            0x00090010: ("LO", "ACME"),
            0x00091001: ("LO", "private secret"),
            0x60003000: ("OW", b"\x01\x02"),
            0x00180000: ("UL", 4),
        }
    )


def _run(options: set[Option] | None = None, node: DictNode | None = None) -> DictNode:
    node = node or _dataset()
    pseudonyms = Pseudonymizer(KEY)
    deidentify(node, compile_profile(options or set()), context_for(node, pseudonyms))
    return node


def test_basic_profile_actions() -> None:
    node = _run()
    assert node.value(0x00080018).startswith("2.25.")  # U
    assert node.value(0x00080020) is None  # Z
    assert node.value(0x0008002A) == "19000101000000.000000"  # X/Z/D -> D
    assert node.value(0x00080050) is None  # Z
    assert node.value(0x00080080) == "ANONYMOUS"  # X/Z/D -> D
    assert 0x00081030 not in node.elements  # X
    assert 0x00101010 not in node.elements  # X
    assert node.value(0x00100010).startswith("ANON-")
    assert node.value(0x00100020) == node.value(0x00100010)  # the patient's one pseudonym
    assert node.value(0x00280010) == 64  # not in the table: kept
    assert node.value(0x0040A730) == []  # D on a sequence: emptied
    assert 0x00090010 not in node.elements
    assert 0x00091001 not in node.elements
    assert 0x60003000 not in node.elements
    assert 0x00180000 not in node.elements  # group length


def test_sequences_are_recursed_for_x_z_u_star() -> None:
    node = _run()
    (item,) = node.value(0x00081140)
    assert item.value(0x00081155) == Pseudonymizer(KEY).uid("1.2.3.4.5.6")
    assert item.value(0x00081150) == "1.2.840.10008.5.1.4.1.1.2"  # SOP Class: not in the table


def test_uids_are_consistent_across_files_and_keys_differ() -> None:
    a, b = _run(), _run()
    assert a.value(0x00080018) == b.value(0x00080018)
    other = _dataset()
    deidentify(other, compile_profile(), context_for(other, Pseudonymizer(b"another-key-0123456789")))
    assert other.value(0x00080018) != a.value(0x00080018)


def test_modified_dates_shift_consistently_per_patient() -> None:
    node = _run({Option.RETAIN_MODIFIED_DATES})
    days = Pseudonymizer(KEY).date_shift_days("MRN-1")
    assert node.value(0x00080020) == shift_date("20240131", days) != "20240131"
    assert node.value(0x0008002A) == shift_datetime("20240131101010", days)
    other = _dataset()
    other.set(0x00100020, "MRN-2")
    assert _run({Option.RETAIN_MODIFIED_DATES}, other).value(0x00080020) != node.value(0x00080020) or (
        Pseudonymizer(KEY).date_shift_days("MRN-2") == days
    )


def test_options_keep_and_clean() -> None:
    node = _run({Option.RETAIN_PATIENT_CHARACTERISTICS, Option.CLEAN_DESCRIPTORS, Option.RETAIN_UIDS})
    assert node.value(0x00101010) == "045Y"
    assert node.value(0x00080018) == "1.2.3.4"
    described = node.value(0x00081030)
    assert "Jane" not in described
    assert "Doe" not in described
    assert "2024" not in described
    assert described.startswith("CT of")


def test_safe_private_is_kept_only_when_known() -> None:
    node = DictNode(
        {
            0x00190010: ("LO", "SIEMENS MR HEADER"),
            0x0019100C: ("IS", "1000"),  # B_value: safe
            0x00191008: ("CS", "IMAGE NUM 4"),  # not in the safe list
            0x00090010: ("LO", "ACME"),
            0x0009100C: ("LO", "secret"),
        }
    )
    _run({Option.RETAIN_SAFE_PRIVATE}, node)
    assert sorted(node.elements) == [0x00190010, 0x0019100C]
    assert [f.tag for f in residual(node, compile_profile({Option.RETAIN_SAFE_PRIVATE}))] == ["(0012,0062)"]


def test_residual_lists_what_must_not_remain_and_nothing_after() -> None:
    profile = compile_profile()
    before = {f.tag for f in residual(_dataset(), profile)}
    assert {"(0008,1030)", "(0009,0010)", "(0010,1010)", "(0008,0050)", "(0012,0062)"} <= before
    node = _run()
    node.elements[0x00120062] = ("CS", "YES")
    assert list(residual(node, profile)) == []


def test_findings_never_carry_values() -> None:
    for finding in residual(_dataset(), compile_profile()):
        assert "Doe" not in repr(finding)
        assert "MRN" not in repr(finding)


def test_short_key_is_refused() -> None:
    with pytest.raises(DeidentificationKeyError):
        Pseudonymizer(b"short")


@given(st.text(min_size=1, max_size=64))
def test_pseudonym_uids_are_valid(value: str) -> None:
    uid = Pseudonymizer(KEY).uid(value)
    assert len(uid) <= 64
    assert all(part.isdigit() for part in uid.split("."))
    assert not any(len(p) > 1 and p.startswith("0") for p in uid.split("."))


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("seen 2024-01-31 by dr", "2024"),
        ("call +1 555 123 4567", "555"),
        ("mail jane@example.org", "jane"),
        ("MRN 12345678", "12345678"),
    ],
)
def test_clean_text_redacts_shapes(text: str, gone: str) -> None:
    assert gone not in clean_text(text)


def test_shift_date_handles_ranges_and_garbage() -> None:
    assert shift_date("20240301-20240302", 1) == "20240229-20240301"
    assert shift_date("garbage", 3) == "19000101"


def test_clean_structured_content_cleans_text_values_inside() -> None:
    content = DictNode(
        {
            0x0040A160: ("UT", "Jane Doe seen on 2024-01-31, MRN-1 stable"),  # Text Value: not in the table
            0x00080104: ("LO", "Finding"),  # Code Meaning: kept
        }
    )
    node = _dataset()
    node.elements[0x0040A730] = ("SQ", [content])
    _run({Option.CLEAN_STRUCTURED_CONTENT}, node)
    (item,) = node.value(0x0040A730)
    text = item.value(0x0040A160)
    assert "Jane" not in text
    assert "2024" not in text
    assert "MRN-1" not in text
    assert "stable" in text
    assert item.value(0x00080104) == "Finding"
