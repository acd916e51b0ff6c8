"""Table E.1-1 as packaged, and the rules compiled from it (no pydicom)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from medsight.errors import UsageError
from medsight.privacy.methods import method_codes, temporal_modified
from medsight.privacy.profile import Op, Option, compile_profile, parse_options, table, table_meta

REPO = Path(__file__).resolve().parents[3]
SOURCE = REPO.parent / "shared" / "standards" / "ps3.15_table_E.1-1.json"


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_deid_profile", REPO / "tools" / "gen_deid_profile.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_packaged_table_has_every_row() -> None:
    rows = table()
    assert len(rows) == 621
    assert len({row.tag for row in rows}) == 621
    assert table_meta()["source_sha256"] == "a99a35d1278e2bace8d90ff791b11aea2d45f1e3e1230388eb5224c9dbcd29e6"


@pytest.mark.shared
def test_packaged_table_matches_the_shared_source() -> None:
    if not SOURCE.is_file():
        pytest.skip("../shared/standards/ps3.15_table_E.1-1.json is absent; cannot compare")
    tool = _tool()
    packaged = (REPO / "src/medsight/privacy/_table_e1_1.json").read_text(encoding="utf-8")
    assert packaged == tool.render(tool.build(SOURCE)), "run python tools/gen_deid_profile.py"
    assert json.loads(packaged)["source_sha256"] == hashlib.sha256(SOURCE.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("tag", "op", "sequence_op"),
    [
        (0x00100010, Op.PSEUDONYM, Op.EMPTY),  # Patient's Name: Z, a keyed pseudonym
        (0x00100020, Op.PSEUDONYM, Op.EMPTY),  # Patient ID: Z/D, a keyed pseudonym
        (0x00080050, Op.EMPTY, Op.EMPTY),  # Accession Number: Z
        (0x00080018, Op.UID, Op.RECURSE),  # SOP Instance UID: U
        (0x00081010, Op.DUMMY, Op.EMPTY),  # Station Name: X/Z/D -> D
        (0x00080022, Op.EMPTY, Op.EMPTY),  # Acquisition Date: X/Z -> Z
        (0x00181400, Op.DUMMY, Op.EMPTY),  # Acquisition Device Processing Description: X/D -> D
        (0x00081140, Op.REMOVE, Op.RECURSE),  # Referenced Image Sequence: X/Z/U*
        (0x0040A730, Op.DUMMY, Op.EMPTY),  # Content Sequence: D -> emptied
        (0x00101010, Op.REMOVE, Op.REMOVE),  # Patient's Age: X
        (0x00280010, Op.KEEP, Op.RECURSE),  # Rows: not in the table
        (0x00090010, Op.REMOVE, Op.REMOVE),  # private
        (0x50003000, Op.REMOVE, Op.REMOVE),  # curve data
        (0x60023000, Op.REMOVE, Op.REMOVE),  # overlay data, second overlay
    ],
)
def test_basic_profile_rules(tag: int, op: Op, sequence_op: Op) -> None:
    rule = compile_profile().rule(tag)
    assert (rule.op, rule.sequence_op) == (op, sequence_op)


@pytest.mark.parametrize(
    ("option", "tag", "op"),
    [
        (Option.RETAIN_UIDS, 0x00080018, Op.KEEP),
        (Option.RETAIN_DEVICE_IDENTITY, 0x00181000, Op.KEEP),  # Device Serial Number
        (Option.RETAIN_DEVICE_IDENTITY, 0x00080055, Op.CLEAN),  # Station AE Title
        (Option.RETAIN_PATIENT_CHARACTERISTICS, 0x00101010, Op.KEEP),  # Patient's Age
        (Option.RETAIN_PATIENT_CHARACTERISTICS, 0x00102110, Op.CLEAN),  # Allergies
        (Option.RETAIN_FULL_DATES, 0x00080020, Op.KEEP),
        (Option.RETAIN_MODIFIED_DATES, 0x00080020, Op.CLEAN),
        (Option.CLEAN_DESCRIPTORS, 0x00081030, Op.CLEAN),  # Study Description
        (Option.CLEAN_STRUCTURED_CONTENT, 0x0040A730, Op.CLEAN),
        (Option.CLEAN_GRAPHICS, 0x00700001, Op.CLEAN),
        (Option.RETAIN_INSTITUTION_IDENTITY, 0x00080080, Op.KEEP),
        (Option.RETAIN_SAFE_PRIVATE, 0x00190010, Op.CLEAN),
    ],
)
def test_options_change_their_rows(option: Option, tag: int, op: Op) -> None:
    assert compile_profile({option}).rule(tag).op is op
    assert compile_profile().rule(tag).op is not op


def test_every_row_compiles_under_every_option() -> None:
    for option in Option:
        profile = compile_profile({option})
        for row in table():
            if row.tag != "private" and "x" not in row.tag:
                assert profile.rule(int(row.tag, 16)).listed


def test_parse_options() -> None:
    assert parse_options(["clean_descriptors", "RETAIN-UIDS"]) == {Option.CLEAN_DESCRIPTORS, Option.RETAIN_UIDS}
    with pytest.raises(UsageError, match="unknown"):
        parse_options(["retain-everything"])
    with pytest.raises(UsageError, match="exclude"):
        parse_options(["retain-full-dates", "retain-modified-dates"])


def test_method_codes_follow_cid_7050() -> None:
    codes = method_codes({Option.RETAIN_MODIFIED_DATES, Option.CLEAN_PIXEL_DATA}, cleaned_pixels=True)
    assert [c for c, _ in codes] == ["113100", "113101", "113107"]
    assert [c for c, _ in method_codes({Option.CLEAN_PIXEL_DATA})] == ["113100"]
    assert temporal_modified({Option.RETAIN_MODIFIED_DATES}) == "MODIFIED"
    assert temporal_modified(set()) == "REMOVED"
