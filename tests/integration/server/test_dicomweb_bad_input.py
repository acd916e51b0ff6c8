"""DICOMweb on bad input, over real HTTP: every refusal is a problem (or, for STOW-RS
failures, the DICOM JSON failure list PS3.18 prescribes), and nothing is stored in part.

The server here has a small ``MEDSIGHT_MAX_UPLOAD_BYTES`` so that an oversize upload is cheap.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydicom.uid import generate_uid
from tests.integration.server.dicomweb_data import Patient, encode, multipart, renamed
from tests.integration.server.live import LiveServer

pytestmark = pytest.mark.integration

LIMIT = 400_000
PATIENT = Patient("PAT-X-9", "TEST^BAD^INPUT", "20230102", "ACC-X9")
SECRET_NAME = "ZZSECRETNAME"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("dicomweb-bad") / "var"
    live = LiveServer(data_dir=data_dir, extra_env={"MEDSIGHT_MAX_UPLOAD_BYTES": str(LIMIT)}).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    token = server.token("--role", "admin")
    with httpx.Client(base_url=f"{server.url}/dicomweb", headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def _ct(study: str | None = None) -> bytes:
    return encode(renamed("CT_small.dcm", patient=PATIENT, study=study or generate_uid()))


def _post(http: httpx.Client, parts: list[tuple[bytes, str]], path: str = "/studies") -> httpx.Response:
    body, content_type = multipart(parts)
    return http.post(path, content=body, headers={"Content-Type": content_type})


def _problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["message"]
    if code is not None:
        assert body["code"] == code
    return body


def _failure_reasons(response: httpx.Response) -> list[int]:
    assert response.headers["content-type"] == "application/dicom+json"
    return [item["00081197"]["Value"][0] for item in response.json().get("00081198", {}).get("Value", [])]


def _count(http: httpx.Client, study: str) -> int:
    return len(http.get("/instances", params={"StudyInstanceUID": study}).json())


def test_wrong_media_type_is_415(http: httpx.Client) -> None:
    _problem(http.post("/studies", content=_ct(), headers={"Content-Type": "application/dicom"}), 415)
    body, _ = multipart([(_ct(), "application/dicom")])
    wrong_type = 'multipart/related; type="application/dicom+json"; boundary=test-boundary-0123456789'
    _problem(http.post("/studies", content=body, headers={"Content-Type": wrong_type}), 415)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"no delimiter anywhere", 'multipart/related; type="application/dicom"; boundary=abc'),
        (b"--abc\r\nContent-Type: application/dicom\r\n\r\nDICM truncated", "multipart/related; boundary=abc"),
        (b"--abc\r\nnot a header line\r\n\r\nx\r\n--abc--", "multipart/related; boundary=abc"),
        (b"--abc--\r\n", "multipart/related; boundary=abc"),
        (b"--abc\r\n\r\nx\r\n--abc--", 'multipart/related; type="application/dicom"'),
    ],
    ids=["no-delimiter", "truncated", "bad-header", "no-parts", "no-boundary"],
)
def test_malformed_multipart_is_400(http: httpx.Client, body: bytes, content_type: str) -> None:
    _problem(http.post("/studies", content=body, headers={"Content-Type": content_type}), 400, "usage.invalid")


def test_non_dicom_part_fails_with_409(http: httpx.Client) -> None:
    response = _post(http, [(b"hello, not DICOM at all" * 20, "application/dicom")])
    assert response.status_code == 409
    assert _failure_reasons(response) == [0xC000]
    assert "00081199" not in response.json()


def test_dicom_without_sop_instance_uid_fails(http: httpx.Client) -> None:
    dataset = renamed("CT_small.dcm", patient=PATIENT, study=generate_uid())
    del dataset.SOPInstanceUID
    study = dataset.StudyInstanceUID
    response = _post(http, [(encode(dataset), "application/dicom")])
    assert response.status_code == 409
    assert _failure_reasons(response) == [0xC000]
    assert _count(http, study) == 0


def test_mixed_upload_stores_the_valid_parts_and_reports_the_others(http: httpx.Client) -> None:
    study = generate_uid()
    good = [_ct(study), _ct(study)]
    parts = [
        (good[0], "application/dicom"),
        (b"junk", "application/dicom"),
        (b"{}", "application/json"),
        (good[1], "application/dicom"),
    ]
    response = _post(http, parts)
    assert response.status_code == 202
    assert len(response.json()["00081199"]["Value"]) == 2
    assert _failure_reasons(response) == [0xC000, 0xC000]
    assert _count(http, study) == 2


def test_resending_is_idempotent_and_replacing_warns(http: httpx.Client) -> None:
    dataset = renamed("CT_small.dcm", patient=PATIENT, study=generate_uid())
    first = _post(http, [(encode(dataset), "application/dicom")])
    again = _post(http, [(encode(dataset), "application/dicom")])
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    dataset.StudyDescription = "corrected"
    replaced = _post(http, [(encode(dataset), "application/dicom")])
    assert replaced.status_code == 202
    (item,) = replaced.json()["00081199"]["Value"]
    assert item["00081196"]["Value"] == [0xB000]
    assert _count(http, dataset.StudyInstanceUID) == 1


def test_store_into_a_study_refuses_other_studies(http: httpx.Client) -> None:
    study = generate_uid()
    response = _post(http, [(_ct(study), "application/dicom"), (_ct(), "application/dicom")], f"/studies/{study}")
    assert response.status_code == 202
    assert _failure_reasons(response) == [0x0110]
    assert _count(http, study) == 1


def test_oversize_upload_is_413_before_it_is_read(http: httpx.Client) -> None:
    big = b"\0" * (LIMIT + 1)
    _problem(_post(http, [(big, "application/dicom")]), 413, "input.resource_limit")


def test_oversize_chunked_upload_is_413(http: httpx.Client) -> None:
    body, content_type = multipart([(b"\0" * (LIMIT + 1), "application/dicom")])

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    try:
        response = http.post("/studies", content=chunks(), headers={"Content-Type": content_type})
    except httpx.TransportError:  # the server may close before the client finished sending
        return
    _problem(response, 413, "input.resource_limit")


def test_query_errors_name_the_attribute_never_the_value(http: httpx.Client) -> None:
    body = _problem(http.get("/studies", params={"StudyDate": SECRET_NAME}), 400, "usage.invalid")
    assert "StudyDate" in body["message"]
    assert SECRET_NAME not in body["message"]
    body = _problem(http.get("/studies", params={SECRET_NAME.lower() + " x": "1"}), 400)
    assert SECRET_NAME.lower() not in body["message"]
    _problem(http.get("/studies", params={"includefield": "NoSuchKeyword"}), 400)
    _problem(http.get("/studies", params={"limit": "-1"}), 400)
    _problem(http.get("/series", params={"SeriesNumber": "one"}), 400)


def test_unmatched_attributes_are_ignored_with_a_warning(http: httpx.Client) -> None:
    response = http.get("/studies", params={"StudyDescription": "x*"})
    assert response.status_code == 200
    assert "StudyDescription" in response.headers["warning"]


def test_retrieve_errors(http: httpx.Client) -> None:
    study = generate_uid()
    dataset = renamed("CT_small.dcm", patient=PATIENT, study=study)
    _post(http, [(encode(dataset), "application/dicom")])
    _problem(http.get(f"/studies/{generate_uid()}"), 404, "store.not_found")
    _problem(http.get(f"/studies/{generate_uid()}/metadata"), 404)
    instance = f"/studies/{study}/series/{dataset.SeriesInstanceUID}/instances/{dataset.SOPInstanceUID}"
    _problem(
        http.get(f"/studies/{generate_uid()}/series/{dataset.SeriesInstanceUID}/instances/{dataset.SOPInstanceUID}"),
        404,
    )
    _problem(http.get(f"{instance}/frames/2"), 400)
    _problem(http.get(f"{instance}/frames/1,x"), 400)
    _problem(http.get(f"{instance}/frames/0/rendered"), 400)
    _problem(http.get(f"{instance}/rendered", headers={"Accept": "image/gif"}), 406)
    _problem(http.get(f"{instance}/rendered", params={"window": "40"}), 400)
    _problem(http.get(instance, headers={"Accept": "application/zip"}), 406)
    assert http.get(f"{instance}/rendered", params={"window": "40,400,sigmoid"}).status_code == 200
    _problem(http.get(f"{instance}/rendered", params={"quality": "0"}), 400)
    low = http.get(f"{instance}/rendered", params={"quality": "5"}, headers={"Accept": "image/jpeg"})
    high = http.get(f"{instance}/rendered", params={"quality": "100"}, headers={"Accept": "image/jpeg"})
    assert len(low.content) < len(high.content)
    _problem(http.get(f"{instance}/metadata", headers={"Accept": "application/dicom+xml"}), 406)
    _problem(http.get("/studies", headers={"Accept": "application/dicom+xml"}), 406)
    assert http.get("/studies", headers={"Accept": "application/json"}).status_code == 200


def test_routes_need_their_scope(server: LiveServer) -> None:
    device = server.token("--role", "device")
    url = f"{server.url}/dicomweb/studies"
    _problem(httpx.get(url), 401)
    _problem(httpx.get(url, headers={"Authorization": f"Bearer {device}"}), 403)
    body, content_type = multipart([(_ct(), "application/dicom")])
    stored = httpx.post(url, content=body, headers={"Authorization": f"Bearer {device}", "Content-Type": content_type})
    assert stored.status_code == 200


def test_the_log_holds_no_patient_data_or_uids(server: LiveServer, http: httpx.Client) -> None:
    study = generate_uid()
    _post(http, [(_ct(study), "application/dicom"), (b"junk", "application/dicom")])
    http.get("/studies", params={"PatientName": PATIENT.name})
    log = server.log()
    assert "stow:" in log
    for secret in (PATIENT.name, PATIENT.patient_id, study, "TEST^BAD"):
        assert secret not in log


def test_a_transfer_syntax_the_object_is_not_in_is_406(http: httpx.Client) -> None:
    dataset = renamed("CT_small.dcm", patient=PATIENT, study=generate_uid())
    _post(http, [(encode(dataset), "application/dicom")])
    path = f"/studies/{dataset.StudyInstanceUID}"
    jpeg = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50'
    _problem(http.get(path, headers={"Accept": jpeg}), 406)
    either = f'{jpeg}, multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'
    assert http.get(path, headers={"Accept": either}).status_code == 200


def test_a_client_that_goes_away_mid_upload_stores_nothing(server: LiveServer, http: httpx.Client) -> None:
    study = generate_uid()
    body, content_type = multipart([(_ct(study), "application/dicom")])
    token = http.headers["Authorization"]
    head = (
        f"POST /dicomweb/studies HTTP/1.1\r\nHost: test\r\nAuthorization: {token}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head + body[: len(body) // 2])
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while "POST /dicomweb/studies 400" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "POST /dicomweb/studies 400" in server.log()
    assert "internal error" not in server.log()
    assert _count(http, study) == 0
