"""The DICOM JSON Model (PS3.18 Annex F): elements from plain values, metadata from stored objects."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from medsight.errors import InvalidDicomError, UsageError
from medsight.io.dicom.dicomjson import BULK_DATA_THRESHOLD, attribute_tag, element, instance_metadata, keyword_for

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "samples"


def _bytes(name: str) -> bytes:
    path = get_testdata_file(name)
    assert path is not None
    return Path(path).read_bytes()


@pytest.mark.parametrize(
    ("name", "tag"),
    [("PatientID", 0x00100020), ("0020000D", 0x0020000D), ("0020000d", 0x0020000D), (" StudyDate ", 0x00080020)],
)
def test_attribute_tags_by_keyword_or_hex(name: str, tag: int) -> None:
    assert attribute_tag(name) == tag


@pytest.mark.parametrize("name", ["NotAKeyword", "0020000", "DOE^JANE", "x" * 100, ""])
def test_unknown_attributes_are_usage_errors_that_echo_no_free_text(name: str) -> None:
    with pytest.raises(UsageError) as raised:
        attribute_tag(name, parameter="includefield")
    assert raised.value.message.startswith("includefield")
    if "^" in name or len(name) > 64:
        assert name not in raised.value.message


def test_elements_take_their_vr_and_value_shape_from_the_dictionary() -> None:
    assert element(0x00100010, "DOE^JANE") == {"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE"}]}
    assert element(0x00201208, 3) == {"vr": "IS", "Value": [3]}
    assert element(0x00280030, ["0.5", "0.25"]) == {"vr": "DS", "Value": [0.5, 0.25]}
    assert element(0x00080061, ("CT", "MR")) == {"vr": "CS", "Value": ["CT", "MR"]}
    assert element(0x00080020, None) == {"vr": "DA"}
    assert element(0x00080020, "") == {"vr": "DA"}
    assert element(0x00081197, 0xC000) == {"vr": "US", "Value": [0xC000]}
    assert element(0x00091001, "x") == {"vr": "UN", "Value": ["x"]}
    assert keyword_for(0x0020000D) == "StudyInstanceUID"
    assert keyword_for(0x00091001) == "00091001"


def test_elements_parse_back_with_pydicom() -> None:
    body = {
        "00100010": element(0x00100010, "DOE^JANE"),
        "00201208": element(0x00201208, 3),
        "00080061": element(0x00080061, ("CT", "MR")),
    }
    dataset = Dataset.from_json(body)
    assert (str(dataset.PatientName), dataset.NumberOfStudyRelatedInstances, list(dataset.ModalitiesInStudy)) == (
        "DOE^JANE",
        3,
        ["CT", "MR"],
    )


@pytest.mark.parametrize("name", ["CT_small.dcm", "JPEG2000.dcm", "rtdose.dcm", "examples_palette.dcm", "test-SR.dcm"])
def test_metadata_is_every_attribute_but_bulk_data(name: str) -> None:
    found = instance_metadata(_bytes(name))
    assert "7FE00010" not in found
    original = pydicom.dcmread(get_testdata_file(name), stop_before_pixels=True)
    parsed = Dataset.from_json(found)
    assert parsed.SOPInstanceUID == original.SOPInstanceUID
    small = [
        e.tag
        for e in original
        if not (e.VR in ("OB", "OW", "OF", "OD", "UN") and len(e.value or b"") > BULK_DATA_THRESHOLD)
    ]
    assert {f"{int(tag):08X}" for tag in small} <= set(found)


def test_large_binary_values_are_left_out() -> None:
    waveform = instance_metadata(_bytes("waveform_ecg.dcm"))
    (item,) = waveform["54000100"]["Value"][:1]
    assert "54001010" not in item  # Waveform Data, far above the threshold
    assert "003A0005" in item  # Number of Waveform Channels stays

    palette = instance_metadata(_bytes("examples_palette.dcm"))
    assert "00281201" in palette  # Red Palette Color Lookup Table Data: 512 bytes, inline
    assert len(palette["00281201"]["InlineBinary"]) > 512
    rtplan_dose = instance_metadata(_bytes("rtdose.dcm"))
    assert "300C0002" in rtplan_dose  # a sequence with a value pydicom only warns about
    assert "00281101" in palette  # its descriptor stays


def test_not_dicom_is_an_invalid_dicom_error() -> None:
    with pytest.raises(InvalidDicomError):
        instance_metadata(b"\x00" * 10)


def test_shared_samples() -> None:
    files = sorted(SHARED.glob("*/*.dcm")) if SHARED.is_dir() else []
    if not files:
        pytest.skip("../shared/samples is not present on this machine")
    for path in files:
        assert "0020000D" in instance_metadata(path.read_bytes())
