"""De-identification of real files: the planted corpus leaves nothing behind, samples pass through."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.multival import MultiValue
from tests.data.deid_corpus import (
    TEXT_IN_PIXELS,
    planted_value,
    planted_values,
    text_image,
    write_corpus,
    write_planted,
)

from medsight.errors import BurnedInTextError, DeidentificationKeyError, InvalidDicomError
from medsight.io.dicom.deid import check_member, deidentify_member
from medsight.io.sources import open_path
from medsight.privacy.profile import Option, compile_profile
from medsight.privacy.pseudonym import Pseudonymizer
from medsight.services.deid import check, deidentify, load_key

KEY = b"unit-test-key-0123456789"
CLEAN = compile_profile({Option.CLEAN_PIXEL_DATA})


def _deid(source: Path, out: Path, profile=CLEAN) -> Path:  # type: ignore[no-untyped-def]
    deidentify_member(open_path(source), out, profile, Pseudonymizer(KEY))
    return out


@pytest.mark.parametrize("ultrasound", [False, True])
def test_no_planted_value_remains_in_the_bytes(tmp_path: Path, ultrasound: bool) -> None:
    source = write_planted(tmp_path / "in.dcm", 3, ultrasound=ultrasound, size=128)
    planted = planted_values(3)
    before = source.read_bytes()
    assert all(p.needle in before for p in planted if p.needle is not None)  # planted, really
    out = _deid(source, tmp_path / "out.dcm")
    data = out.read_bytes()
    left = [f"{p.name} ({p.tag:08X})" for p in planted if p.needle is not None and p.needle in data]
    assert left == []
    ds = pydicom.dcmread(out)
    for p in planted:
        if p.needle is None and p.tag in ds:
            value = ds[p.tag].value
            value = list(value) if isinstance(value, MultiValue) else value
            assert value != planted_value(p.tag, p.vr, 3), p.name
    assert not check_member(open_path(out), CLEAN).findings


def test_method_is_recorded(tmp_path: Path) -> None:
    out = _deid(write_planted(tmp_path / "in.dcm", ultrasound=True, size=64), tmp_path / "out.dcm")
    ds = pydicom.dcmread(out)
    assert ds.PatientIdentityRemoved == "YES"
    assert [item.CodeValue for item in ds.DeidentificationMethodCodeSequence] == ["113100", "113101"]
    assert {item.CodingSchemeDesignator for item in ds.DeidentificationMethodCodeSequence} == {"DCM"}
    assert ds.BurnedInAnnotation == "NO"
    assert ds.LongitudinalTemporalInformationModified == "REMOVED"
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.preamble == b"\x00" * 128


def test_burned_in_text_is_masked(tmp_path: Path) -> None:
    out = _deid(write_planted(tmp_path / "in.dcm", ultrasound=True, size=128), tmp_path / "out.dcm")
    cleaned = pydicom.dcmread(out).pixel_array
    original = text_image(128)
    text = original >= 200  # the drawn glyphs (speckle stays below 151)
    assert text.sum() > 100
    assert (cleaned[text] == 0).all()
    assert (cleaned != 0).mean() > 0.3  # the region's anatomy survives
    assert TEXT_IN_PIXELS  # rendered both in the margin and inside the region


def test_flagged_image_is_refused_without_clean_pixel_data(tmp_path: Path) -> None:
    source = write_planted(tmp_path / "in.dcm", ultrasound=True, size=32)
    with pytest.raises(BurnedInTextError):
        _deid(source, tmp_path / "out.dcm", compile_profile())
    assert not (tmp_path / "out.dcm").exists()


def test_pseudonyms_are_consistent_across_runs_and_link_a_patient(tmp_path: Path) -> None:
    corpus = sorted(write_corpus(tmp_path / "in", 12, patients=3, size=16))
    for run in ("a", "b"):
        deidentify(tmp_path / "in", tmp_path / run, compile_profile({Option.CLEAN_PIXEL_DATA}), KEY)
    by_patient: dict[str, set[str]] = {}
    for path in corpus:
        relative = path.relative_to(tmp_path / "in")
        a, b = pydicom.dcmread(tmp_path / "a" / relative), pydicom.dcmread(tmp_path / "b" / relative)
        assert (a.SOPInstanceUID, a.PatientID, a.StudyInstanceUID) == (
            b.SOPInstanceUID,
            b.PatientID,
            b.StudyInstanceUID,
        )
        by_patient.setdefault(relative.parts[0], set()).add(str(a.PatientID))
    assert all(len(ids) == 1 for ids in by_patient.values())
    assert len({next(iter(ids)) for ids in by_patient.values()}) == len(by_patient)


def test_dates_shift_by_patient(tmp_path: Path) -> None:
    profile = compile_profile({Option.CLEAN_PIXEL_DATA, Option.RETAIN_MODIFIED_DATES})
    corpus = sorted(write_corpus(tmp_path / "in", 12, patients=3, size=16))
    deidentify(tmp_path / "in", tmp_path / "out", profile, KEY)
    shifts: dict[str, set[int]] = {}
    for path in corpus:
        before = pydicom.dcmread(path)
        after = pydicom.dcmread(tmp_path / "out" / path.relative_to(tmp_path / "in"))
        days = (_date(before.StudyDate) - _date(after.StudyDate)).days
        assert days == Pseudonymizer(KEY).date_shift_days(str(before.PatientID))
        shifts.setdefault(str(before.PatientID), set()).add(days)
        assert after.LongitudinalTemporalInformationModified == "MODIFIED"
    assert all(len(s) == 1 for s in shifts.values())


def _date(text: str):  # type: ignore[no-untyped-def]
    from datetime import date

    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def test_missing_key_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(DeidentificationKeyError, match="--key-file"):
        load_key(None, environ={})
    (tmp_path / "k").write_bytes(b"short\n")
    with pytest.raises(DeidentificationKeyError, match="16 bytes"):
        load_key(tmp_path / "k")
    assert load_key(None, environ={"MEDSIGHT_DEID_KEY": "x" * 20}) == b"x" * 20


@pytest.mark.shared
def test_shared_samples_pass_through_and_are_flagged(samples_dir: Path, tmp_path: Path) -> None:
    flagged = {f.label.split("samples/")[1]: f.burned_in for f in check(samples_dir, CLEAN).files}
    assert flagged["us/GREYSCALE_IMAGE.dcm"] == "Burned In Annotation is YES"
    for name in ("us/examples_palette.dcm", "us/examples_rgb_color.dcm", "us/examples_ybr_color.dcm"):
        assert flagged[name] == "ultrasound without Burned In Annotation"
    for name in ("ct/CT_small.dcm", "mr/MR_small.dcm", "cr/pcir_cr_16x16.dcm", "seg/liver_1frame.dcm"):
        assert flagged[name] is None
    refused = deidentify(samples_dir, tmp_path / "refused", compile_profile(), KEY)
    assert len(refused.refused) == 4
    summary = deidentify(samples_dir, tmp_path / "out", CLEAN, KEY)
    assert summary.written == 9
    assert summary.cleaned == 4
    assert check(tmp_path / "out", CLEAN).clean
    for path in (tmp_path / "out").rglob("*.dcm"):
        original = pydicom.dcmread(samples_dir / path.relative_to(tmp_path / "out"))
        ds = pydicom.dcmread(path)
        assert ds.pixel_array.shape == original.pixel_array.shape
        assert str(original.PatientName) not in path.read_bytes().decode("latin-1")


@pytest.mark.shared
def test_philips_cine_in_a_zip_is_cleaned(samples_dir: Path, tmp_path: Path) -> None:
    summary = deidentify(samples_dir / "us" / "GREYSCALE_CINE.zip", tmp_path / "out", CLEAN, KEY)
    assert (summary.written, summary.cleaned) == (1, 1)
    (out,) = (tmp_path / "out").rglob("*.dcm")
    frames = pydicom.dcmread(out).pixel_array
    assert frames.shape == (27, 600, 800)
    assert (frames[:, :20, :] == 0).all()  # the header band with the patient's name


@pytest.mark.shared
def test_philips_text_rows_are_masked(samples_dir: Path, tmp_path: Path) -> None:
    out = _deid(samples_dir / "us" / "GREYSCALE_IMAGE.dcm", tmp_path / "out.dcm")
    pixels = pydicom.dcmread(out).pixel_array
    assert (pixels[:38] == 0).all()  # above the ultrasound region: name, ID, birth date
    assert np.count_nonzero(pixels) > 0.1 * pixels.size


@pytest.mark.parametrize("keep", [0, 100, 200, 3000, 20000])
def test_broken_files_fail_typed_or_are_skipped(tmp_path: Path, keep: int) -> None:
    data = write_planted(tmp_path / "full.dcm", size=16).read_bytes()
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.dcm").write_bytes(data[:keep])
    (folder / "notes.txt").write_text("not DICOM")
    write_planted(folder / "good.dcm", 1, size=16)
    summary = deidentify(folder, tmp_path / "out", CLEAN, KEY)
    assert summary.written + len(summary.skipped) == 3
    assert (tmp_path / "out" / "good.dcm").exists()
    # pydicom reads a truncated data set up to where it ends: what it read is de-identified,
    # and nothing it did not read is written. Anything else is a typed error, without values.
    try:
        _deid(folder / "broken.dcm", tmp_path / "one.dcm")
    except InvalidDicomError as error:
        message = error.message
        assert not (tmp_path / "one.dcm").exists()
    else:
        message = (tmp_path / "one.dcm").read_bytes().decode("latin-1")
    assert "PHI" not in message


def test_every_bundled_pydicom_file_is_deidentified_or_refused_typed(pydicom_test_files: Path, tmp_path: Path) -> None:
    outcomes: dict[str, int] = {}
    for path in sorted(p for p in pydicom_test_files.rglob("*") if p.is_file()):
        out = tmp_path / f"{len(outcomes)}-{path.name}.dcm"
        try:
            _deid(path, out)
        except (InvalidDicomError, BurnedInTextError) as error:
            outcomes[error.code] = outcomes.get(error.code, 0) + 1
            continue
        report = check_member(open_path(out), CLEAN)
        assert report.findings == (), path.name
        assert report.burned_in is None, path.name
        outcomes["ok"] = outcomes.get("ok", 0) + 1
    assert outcomes["ok"] >= 160, outcomes


def test_the_pydicom_seam_decides_as_the_plain_one() -> None:
    """The engine over a pydicom Dataset and over plain dicts gives the same data set."""
    from pydicom.dataset import Dataset
    from tests.data.dict_node import DictNode

    from medsight.io.dicom.deid import DatasetNode
    from medsight.privacy.engine import context_for, deidentify

    elements = {
        0x00080018: ("UI", "1.2.3.4"),
        0x00080020: ("DA", "20240131"),
        0x00080050: ("SH", "ACC123"),
        0x00080080: ("LO", "General Hospital"),
        0x00081030: ("LO", "CT of Jane Doe"),
        0x00100010: ("PN", "Doe^Jane"),
        0x00100020: ("LO", "MRN-1"),
        0x00101010: ("AS", "045Y"),
        0x00280010: ("US", 64),
    }
    for options in (set(), {Option.RETAIN_MODIFIED_DATES, Option.CLEAN_DESCRIPTORS}):
        ds = Dataset()
        for tag, (vr, value) in elements.items():
            ds.add_new(tag, vr, value)
        pydicom_node, plain = DatasetNode(ds), DictNode(elements)
        profile = compile_profile(options)
        for node in (pydicom_node, plain):
            deidentify(node, profile, context_for(node, Pseudonymizer(KEY)))
        assert pydicom_node.tags() == plain.tags()
        assert [pydicom_node.get(t) for t in plain.tags()] == [plain.get(t) for t in plain.tags()]
