"""DICOMweb conformance: dicomweb-client, as a real client, against a real ``medsight serve``.

Every transaction the client offers for STOW-RS, QIDO-RS and WADO-RS is exercised on
pydicom's bundled files (uncompressed, JPEG, JPEG 2000, RLE, multi-frame, colour),
given fresh UIDs and made-up patients.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from tests.integration.server.dicomweb_data import Patient, encode, renamed
from tests.integration.server.live import LiveServer

pytestmark = pytest.mark.integration

JANE = Patient("PAT-A-001", "DOE^JANE", "20200115", "ACC-A1")
RICHARD = Patient("PAT-B-002", "ROE^RICHARD", "20210610", "ACC-B1")
ANNA = Patient("PAT-C-003", "SMITH^ANNA", "20220301", "ACC-C1")


@dataclass
class Stored:
    by_name: dict[str, Dataset]
    study_a: str
    study_b: str
    study_c: str
    series_b: str


@pytest.fixture(scope="module")
def client(live_server: LiveServer, admin_token: str) -> DICOMwebClient:
    return DICOMwebClient(url=f"{live_server.url}/dicomweb", headers={"Authorization": f"Bearer {admin_token}"})


@pytest.fixture(scope="module")
def stored(client: DICOMwebClient) -> Stored:
    study_a, study_b, study_c, series_b = generate_uid(), generate_uid(), generate_uid(), generate_uid()
    by_name = {
        "ct": renamed("CT_small.dcm", patient=JANE, study=study_a, modality="CT"),
        "mr": renamed("MR_small.dcm", patient=RICHARD, study=study_b, series=series_b, number=1),
        "mr_rle": renamed("MR_small_RLE.dcm", patient=RICHARD, study=study_b, series=series_b, number=2),
        "j2k": renamed("JPEG2000.dcm", patient=RICHARD, study=study_b, modality="CT"),
        "dose": renamed("rtdose.dcm", patient=ANNA, study=study_c),
        "ybr": renamed("examples_ybr_color.dcm", patient=ANNA, study=study_c, modality="US"),
        "rgb_rle": renamed("SC_rgb_rle_2frame.dcm", patient=ANNA, study=study_c, modality="OT"),
    }
    response = client.store_instances(list(by_name.values()))
    assert len(response.ReferencedSOPSequence) == len(by_name)
    assert "FailedSOPSequence" not in response
    return Stored(by_name, study_a, study_b, study_c, series_b)


def _uids(results: list[dict[str, dict]], tag: str) -> set[str]:
    return {result[tag]["Value"][0] for result in results}


def _pixels(dataset: Dataset, frame: int | None = None) -> bytes:
    array = dataset.pixel_array if frame is None else dataset.pixel_array[frame - 1]
    return np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"))).tobytes()


def test_store_reports_each_instance_with_its_retrieve_url(stored: Stored, client: DICOMwebClient) -> None:
    again = client.store_instances([stored.by_name["ct"]])  # re-sending is idempotent
    (item,) = again.ReferencedSOPSequence
    assert item.ReferencedSOPInstanceUID == stored.by_name["ct"].SOPInstanceUID
    assert "WarningReason" not in item
    assert item.RetrieveURL.endswith(
        f"/studies/{stored.study_a}/series/{stored.by_name['ct'].SeriesInstanceUID}"
        f"/instances/{stored.by_name['ct'].SOPInstanceUID}"
    )
    assert again.RetrieveURL.endswith(f"/dicomweb/studies/{stored.study_a}")
    assert len(client.search_for_instances(study_instance_uid=stored.study_a)) == 1


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"PatientID": "PAT-A-001"}, {"a"}),
        ({"PatientName": "doe*"}, {"a"}),
        ({"PatientName": "*O?^*"}, {"a", "b"}),
        ({"00100020": "PAT-?-00*"}, {"a", "b", "c"}),
        ({"StudyDate": "20210101-20221231"}, {"b", "c"}),
        ({"StudyDate": "-20201231"}, {"a"}),
        ({"StudyDate": "20220301"}, {"c"}),
        ({"ModalitiesInStudy": "MR"}, {"b"}),
        ({"ModalitiesInStudy": "US,OT"}, {"c"}),
        ({"AccessionNumber": "ACC-B1"}, {"b"}),
        ({"StudyTime": "1015"}, {"a", "b", "c"}),  # every study is at 10:15:00
        ({"StudyTime": "1016-"}, set()),
        ({"StudyDate": "20220301", "StudyTime": "-101500"}, {"c"}),
    ],
)
def test_search_for_studies_with_filters(
    stored: Stored, client: DICOMwebClient, filters: dict[str, str], expected: set[str]
) -> None:
    uids = {"a": stored.study_a, "b": stored.study_b, "c": stored.study_c}
    found = client.search_for_studies(search_filters=filters)
    assert _uids(found, "0020000D") & set(uids.values()) == {uids[key] for key in expected}


def test_study_results_carry_counts_modalities_and_patient(stored: Stored, client: DICOMwebClient) -> None:
    (study,) = client.search_for_studies(search_filters={"StudyInstanceUID": stored.study_b}, fields=["all"])
    assert study["00100010"]["Value"] == [{"Alphabetic": "ROE^RICHARD"}]
    assert study["00201206"]["Value"] == [2]
    assert study["00201208"]["Value"] == [3]
    assert study["00080061"]["Value"] == ["CT", "MR"]
    assert study["00081190"]["Value"][0].endswith(f"/studies/{stored.study_b}")
    parsed = Dataset.from_json(study)
    assert parsed.PatientID == "PAT-B-002"


def test_search_for_studies_pages_with_limit_and_offset(stored: Stored, client: DICOMwebClient) -> None:
    everything = client.search_for_studies()
    first = client.search_for_studies(limit=2)
    rest = client.search_for_studies(offset=2)
    assert len(first) == 2
    assert [r["0020000D"] for r in first + rest] == [r["0020000D"] for r in everything]


def test_search_for_series(stored: Stored, client: DICOMwebClient) -> None:
    in_b = client.search_for_series(study_instance_uid=stored.study_b)
    assert len(in_b) == 2
    mr = client.search_for_series(study_instance_uid=stored.study_b, search_filters={"Modality": "MR"})
    assert _uids(mr, "0020000E") == {stored.series_b}
    assert mr[0]["00201209"]["Value"] == [2]
    everywhere = client.search_for_series(search_filters={"Modality": "US"}, fields=["PatientID"])
    assert _uids(everywhere, "0020000D") == {stored.study_c}
    assert everywhere[0]["00100020"]["Value"] == ["PAT-C-003"]  # study attributes on request


def test_search_for_instances(stored: Stored, client: DICOMwebClient) -> None:
    assert len(client.search_for_instances(study_instance_uid=stored.study_c)) == 3
    in_series = client.search_for_instances(study_instance_uid=stored.study_b, series_instance_uid=stored.series_b)
    assert [i["00200013"]["Value"][0] for i in in_series] == [1, 2]
    wanted = stored.by_name["dose"].SOPInstanceUID
    (one,) = client.search_for_instances(search_filters={"SOPInstanceUID": wanted})
    assert one["00280008"]["Value"] == [15]
    assert one["00083002"]["Value"] == [str(stored.by_name["dose"].file_meta.TransferSyntaxUID)]


def test_retrieve_study_series_and_instance(stored: Stored, client: DICOMwebClient) -> None:
    study = client.retrieve_study(stored.study_b)
    assert {d.SOPInstanceUID for d in study} == {stored.by_name[k].SOPInstanceUID for k in ("mr", "mr_rle", "j2k")}
    series = client.retrieve_series(stored.study_b, stored.series_b)
    assert len(series) == 2
    original = stored.by_name["j2k"]
    instance = client.retrieve_instance(stored.study_b, original.SeriesInstanceUID, original.SOPInstanceUID)
    assert encode(instance) == encode(original)
    assert np.array_equal(instance.pixel_array, original.pixel_array)


def test_retrieve_streams_a_study(stored: Stored, client: DICOMwebClient) -> None:
    streamed = list(client.iter_study(stored.study_c))
    assert len(streamed) == 3


def test_retrieve_metadata_leaves_pixel_data_out(stored: Stored, client: DICOMwebClient) -> None:
    study = client.retrieve_study_metadata(stored.study_c)
    assert len(study) == 3
    assert all("7FE00010" not in item for item in study)
    ct = stored.by_name["ct"]
    one = client.retrieve_instance_metadata(stored.study_a, ct.SeriesInstanceUID, ct.SOPInstanceUID)
    assert one["00100020"]["Value"] == ["PAT-A-001"]
    assert Dataset.from_json(one).Rows == ct.Rows
    series = client.retrieve_series_metadata(stored.study_b, stored.series_b)
    assert len(series) == 2


@pytest.mark.parametrize(
    ("key", "frames"),
    [("dose", [1, 3, 15]), ("ct", [1]), ("j2k", [1]), ("ybr", [2, 30]), ("rgb_rle", [2]), ("mr_rle", [1])],
)
def test_retrieve_frames_as_native_little_endian(
    stored: Stored, client: DICOMwebClient, key: str, frames: list[int]
) -> None:
    original = stored.by_name[key]
    got = client.retrieve_instance_frames(
        original.StudyInstanceUID, original.SeriesInstanceUID, original.SOPInstanceUID, frame_numbers=frames
    )
    single = int(getattr(original, "NumberOfFrames", 1) or 1) == 1
    assert got == [_pixels(original, None if single else n) for n in frames]


def _image(data: bytes) -> tuple[str, tuple[int, int]]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as opened:
        return str(opened.format), opened.size


@pytest.mark.parametrize(("media", "fmt"), [("image/png", "PNG"), ("image/jpeg", "JPEG")])
def test_retrieve_rendered(stored: Stored, client: DICOMwebClient, media: str, fmt: str) -> None:
    ct = stored.by_name["ct"]
    data = client.retrieve_instance_rendered(
        stored.study_a, ct.SeriesInstanceUID, ct.SOPInstanceUID, media_types=(media,)
    )
    assert _image(data) == (fmt, (ct.Columns, ct.Rows))
    windowed = client.retrieve_instance_rendered(
        stored.study_a, ct.SeriesInstanceUID, ct.SOPInstanceUID, media_types=(media,), params={"window": "40,400"}
    )
    assert windowed != data


def test_retrieve_rendered_frame(stored: Stored, client: DICOMwebClient) -> None:
    dose = stored.by_name["dose"]
    frames = [
        client.retrieve_instance_frames_rendered(
            stored.study_c, dose.SeriesInstanceUID, dose.SOPInstanceUID, frame_numbers=[n], media_types=("image/png",)
        )
        for n in (1, 8)
    ]
    assert all(_image(f) == ("PNG", (dose.Columns, dose.Rows)) for f in frames)
    assert frames[0] != frames[1]


def test_retrieved_bytes_are_the_stored_bytes(stored: Stored, client: DICOMwebClient) -> None:
    mr = stored.by_name["mr_rle"]
    (back,) = client.retrieve_series(stored.study_b, stored.series_b, media_types=("application/dicom",))[1:]
    assert back.SOPInstanceUID == mr.SOPInstanceUID
    assert pydicom.dcmread(io.BytesIO(encode(back))).file_meta.TransferSyntaxUID == mr.file_meta.TransferSyntaxUID


@pytest.mark.parametrize("key", ["j2k", "mr_rle", "ybr", "dose"])
def test_retrieve_as_explicit_little_endian_on_request(stored: Stored, client: DICOMwebClient, key: str) -> None:
    original = stored.by_name[key]
    ids = (original.StudyInstanceUID, original.SeriesInstanceUID, original.SOPInstanceUID)
    explicit = client.retrieve_instance(*ids, media_types=(("application/dicom", "1.2.840.10008.1.2.1"),))
    assert explicit.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert np.array_equal(explicit.pixel_array, original.pixel_array)
    as_stored = client.retrieve_instance(*ids, media_types=(("application/dicom", "*"),))
    assert as_stored.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID


SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "samples"


@pytest.mark.shared
def test_shared_samples_round_trip(stored: Stored, client: DICOMwebClient) -> None:
    files = sorted(SHARED.glob("*/*.dcm")) if SHARED.is_dir() else []
    if not files:
        pytest.skip("../shared/samples is not present on this machine")
    datasets = [pydicom.dcmread(path) for path in files]
    response = client.store_instances(datasets)
    assert len(response.ReferencedSOPSequence) == len(datasets)
    for dataset in datasets:
        ids = (dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID)
        assert client.retrieve_instance_metadata(*ids)["00080018"]["Value"] == [dataset.SOPInstanceUID]
        assert client.retrieve_instance(*ids).SOPInstanceUID == dataset.SOPInstanceUID
        png = client.retrieve_instance_rendered(*ids, media_types=("image/png",))
        assert _image(png) == ("PNG", (dataset.Columns, dataset.Rows))
