"""DICOM Secondary Capture: filed in the source study, new identity, valid Part 10 file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import validate_file_meta
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from medsight.errors import OutputError, UsageError
from medsight.imaging.geometry import Geometry
from medsight.imaging.image import Image, ImageMeta, Layout, SourceRef, StudyContext
from medsight.imaging.window import apply_window, display_plane
from medsight.io.dicom.secondary_capture import COPIED_STUDY_KEYWORDS, write_secondary_capture
from medsight.types import Modality, SeriesUID, SOPInstanceUID, StudyUID

STUDY = {
    "PatientName": "Doe^Jane",
    "PatientID": "FAKE-0042",
    "PatientBirthDate": "19700101",
    "PatientSex": "F",
    "StudyDate": "20240102",
    "StudyTime": "101500",
    "StudyID": "77",
    "AccessionNumber": "ACC123",
    "ReferringPhysicianName": "Who^Doctor",
    "StudyDescription": "CT CHEST",
}
SLICE_UIDS = tuple(SOPInstanceUID(f"1.2.826.0.1.3680043.2.1125.1.{i}") for i in range(5))


def _ct_volume(**source_changes: object) -> Image:
    pixels = np.stack([np.linspace(-1000, 1000, 12, dtype=np.float32).reshape(3, 4) + 10 * i for i in range(5)])
    source = SourceRef(
        study_uid=StudyUID("1.2.826.0.1.3680043.2.1125.9"),
        series_uid=SeriesUID("1.2.826.0.1.3680043.2.1125.8"),
        sop_instance_uids=SLICE_UIDS,
        frame_of_reference_uid="1.2.826.0.1.3680043.2.1125.7",
        sop_class_uid=CTImageStorage,
    )
    for key, value in source_changes.items():
        source = SourceRef(**{**{f: getattr(source, f) for f in source.__dataclass_fields__}, key: value})
    return Image(
        pixels,
        layout=Layout.VOLUME,
        geometry=Geometry(spacing=(2.5, 0.7, 0.6)),
        meta=ImageMeta(modality=Modality.CT, body_part="CHEST", window=(40.0, 400.0)),
        source=source,
        study=StudyContext(STUDY),
    )


def test_written_object_is_filed_in_the_source_study(tmp_path: Path) -> None:
    image = _ct_volume()
    sop_uid = write_secondary_capture(image, tmp_path / "sc.dcm", preset="lung", index=1)

    raw = (tmp_path / "sc.dcm").read_bytes()
    assert raw[128:132] == b"DICM"
    ds = pydicom.dcmread(tmp_path / "sc.dcm")
    validate_file_meta(ds.file_meta, enforce_standard=True)
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.file_meta.MediaStorageSOPClassUID == SecondaryCaptureImageStorage
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID == sop_uid

    assert ds.SOPClassUID == SecondaryCaptureImageStorage
    assert ds.StudyInstanceUID == image.source.study_uid
    for keyword in COPIED_STUDY_KEYWORDS:
        assert str(ds[keyword].value) == STUDY[keyword]
    assert ds.SOPInstanceUID not in SLICE_UIDS
    assert ds.SeriesInstanceUID != image.source.series_uid
    assert ds.FrameOfReferenceUID == image.source.frame_of_reference_uid
    assert ds.Modality == "CT"
    assert ds.ConversionType == "WSD"
    assert list(ds.ImageType) == ["DERIVED", "SECONDARY"]
    assert ds.SeriesNumber == 999
    assert ds.SeriesDescription == "medsight derived"
    assert ds.BodyPartExamined == "CHEST"
    assert [float(v) for v in ds.PixelSpacing] == pytest.approx([0.7, 0.6])
    assert list(ds.PatientOrientation) == ["L", "P"]

    (reference,) = ds.SourceImageSequence
    assert reference.ReferencedSOPClassUID == CTImageStorage
    assert reference.ReferencedSOPInstanceUID == SLICE_UIDS[1]


def test_pixels_are_the_windowed_plane(tmp_path: Path) -> None:
    image = _ct_volume()
    write_secondary_capture(image, tmp_path / "sc.dcm", preset="lung", index=1)
    ds = pydicom.dcmread(tmp_path / "sc.dcm")
    assert ds.PhotometricInterpretation == "MONOCHROME2"
    assert (ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.SamplesPerPixel) == (3, 4, 8, 8, 1)
    expected = np.rint(apply_window(image.pixels[1], -600.0, 1500.0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(ds.pixel_array, expected)
    np.testing.assert_array_equal(ds.pixel_array, display_plane(image, "lung", index=1))


def test_default_plane_uses_the_image_window(tmp_path: Path) -> None:
    image = _ct_volume()
    write_secondary_capture(image, tmp_path / "sc.dcm")
    ds = pydicom.dcmread(tmp_path / "sc.dcm")
    expected = np.rint(apply_window(image.pixels[2], 40.0, 400.0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(ds.pixel_array, expected)
    assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == SLICE_UIDS[2]


def test_every_write_gets_a_new_instance_and_series(tmp_path: Path) -> None:
    image = _ct_volume()
    first = write_secondary_capture(image, tmp_path / "a.dcm")
    second = write_secondary_capture(image, tmp_path / "b.dcm")
    assert first != second
    a, b = pydicom.dcmread(tmp_path / "a.dcm"), pydicom.dcmread(tmp_path / "b.dcm")
    assert a.SeriesInstanceUID != b.SeriesInstanceUID
    assert a.StudyInstanceUID == b.StudyInstanceUID


def test_rgb_is_stored_as_rgb(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3)).astype(np.float32)
    write_secondary_capture(Image(pixels), tmp_path / "rgb.dcm")
    ds = pydicom.dcmread(tmp_path / "rgb.dcm")
    assert ds.PhotometricInterpretation == "RGB"
    assert (ds.SamplesPerPixel, ds.PlanarConfiguration) == (3, 0)
    np.testing.assert_array_equal(ds.pixel_array, pixels.astype(np.uint8))


def test_without_source_identity_type_2_attributes_are_empty(tmp_path: Path) -> None:
    image = Image(np.zeros((3, 5), np.float32), geometry=Geometry(spacing_known=False))
    write_secondary_capture(image, tmp_path / "bare.dcm", series_description="from png")
    ds = pydicom.dcmread(tmp_path / "bare.dcm")
    assert ds.StudyInstanceUID  # a new study
    for keyword in ("PatientName", "PatientID", "StudyDate", "AccessionNumber"):
        assert keyword in ds
        assert not ds[keyword].value
    assert "StudyDescription" not in ds
    assert "SourceImageSequence" not in ds
    assert "PixelSpacing" not in ds
    assert "FrameOfReferenceUID" not in ds
    assert ds.Modality == "OT"
    assert ds.SeriesDescription == "from png"
    assert ds.pixel_array.shape == (3, 5)  # odd pixel count, padded to even on disk


def test_single_multiframe_source_is_referenced_with_frame_number(tmp_path: Path) -> None:
    image = _ct_volume(sop_instance_uids=(SLICE_UIDS[0],))
    write_secondary_capture(image, tmp_path / "mf.dcm", index=3)
    (reference,) = pydicom.dcmread(tmp_path / "mf.dcm").SourceImageSequence
    assert reference.ReferencedSOPInstanceUID == SLICE_UIDS[0]
    assert reference.ReferencedFrameNumber == 4


def test_unmatched_uid_count_references_every_source(tmp_path: Path) -> None:
    image = _ct_volume(sop_instance_uids=SLICE_UIDS[:3])
    write_secondary_capture(image, tmp_path / "all.dcm")
    refs = pydicom.dcmread(tmp_path / "all.dcm").SourceImageSequence
    assert [r.ReferencedSOPInstanceUID for r in refs] == list(SLICE_UIDS[:3])


def test_unknown_source_class_omits_the_reference(tmp_path: Path) -> None:
    write_secondary_capture(_ct_volume(sop_class_uid=None), tmp_path / "x.dcm")
    assert "SourceImageSequence" not in pydicom.dcmread(tmp_path / "x.dcm")


@pytest.mark.parametrize(("modality", "expected"), [(Modality.SEG, "OT"), (Modality.SC, "OT"), (Modality.MR, "MR")])
def test_modality_is_the_sources_unless_not_an_image_modality(
    tmp_path: Path, modality: Modality, expected: str
) -> None:
    image = Image(np.zeros((2, 2), np.float32), meta=ImageMeta(modality=modality))
    write_secondary_capture(image, tmp_path / "m.dcm")
    assert pydicom.dcmread(tmp_path / "m.dcm").Modality == expected


def test_non_ascii_names_survive(tmp_path: Path) -> None:
    image = Image(np.zeros((2, 2), np.float32), study=StudyContext({"PatientName": "Müller^Zoë"}))
    write_secondary_capture(image, tmp_path / "u.dcm")
    assert str(pydicom.dcmread(tmp_path / "u.dcm").PatientName) == "Müller^Zoë"


def test_usage_errors_write_nothing(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        write_secondary_capture(_ct_volume(), tmp_path / "x.dcm", preset="nope")
    with pytest.raises(UsageError):
        write_secondary_capture(_ct_volume(), tmp_path / "x.dcm", index=9)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_destination_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"x\.dcm"):
        write_secondary_capture(_ct_volume(), tmp_path / "missing" / "x.dcm")
