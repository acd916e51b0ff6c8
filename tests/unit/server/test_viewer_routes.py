"""The viewer's files at ``/`` (with their security headers), and the worklist route's answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydicom.uid import generate_uid
from tests.data.synthetic import write_ct_series
from tests.unit.server.conftest import auth
from tests.unit.store.conftest import _variant

from medsight.access import Role
from medsight.server.viewer import CSP
from medsight.services.context import ServiceContext


@pytest.mark.parametrize(
    ("path", "media"), [("/", "text/html"), ("/js/main.js", "javascript"), ("/css/viewer.css", "text/css")]
)
def test_the_viewer_is_served_at_the_root_with_a_csp(client: TestClient, path: str, media: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert media in response.headers["content-type"]
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_module_the_page_imports_is_served(client: TestClient) -> None:
    pending, seen = ["/js/main.js"], set()
    while pending:
        path = pending.pop()
        seen.add(path)
        source = client.get(path)
        assert source.status_code == 200, path
        for module in re.findall(r'from "\./([\w-]+\.js)"', source.text):
            if f"/js/{module}" not in seen:
                pending.append(f"/js/{module}")
    assert len(seen) >= 10


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/no-such-file.js"), ("POST", "/api/v1/nothing"), ("DELETE", "/")]
)
def test_what_no_route_or_file_answers_is_a_404_problem(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_the_worklist_answers_a_page(client: TestClient, tokens: dict[Role, str]) -> None:
    response = client.get("/api/v1/worklist", headers=auth(tokens[Role.RADIOLOGIST]))
    assert response.status_code == 200
    assert response.json() == {"total": 0, "offset": 0, "limit": 50, "items": []}


@pytest.mark.parametrize("query", ["status=lost", "sort=size", "order=up", "date_from=yesterday", "limit=0"])
def test_a_malformed_worklist_query_is_a_400_problem(client: TestClient, tokens: dict[Role, str], query: str) -> None:
    response = client.get(f"/api/v1/worklist?{query}", headers=auth(tokens[Role.RADIOLOGIST]))
    assert response.status_code == 400
    assert response.json()["code"] == "usage.invalid"


def test_a_referrer_reads_the_images_of_its_own_studies_only(
    client: TestClient, context: ServiceContext, tokens: dict[Role, str], tmp_path: Path
) -> None:
    data = write_ct_series(tmp_path, slices=1, rows=8, columns=8)[0].read_bytes()
    copies = [
        _variant(data, StudyInstanceUID=generate_uid(), SeriesInstanceUID=generate_uid(), SOPInstanceUID=generate_uid())
        for _ in range(2)
    ]
    results = [context.store.ingest(copy) for copy in copies]
    referrer = context.access.authenticate(f"Bearer {tokens[Role.REFERRER]}").actor
    context.access.accounts.record_submitter(results[0].study_instance_uid, referrer)
    headers = auth(tokens[Role.REFERRER])
    for result, status in zip(results, (200, 403), strict=True):
        base = f"/dicomweb/studies/{result.study_instance_uid}"
        instance = f"{base}/series/{result.series_instance_uid}/instances/{result.sop_instance_uid}"
        assert client.get(f"{base}/series", headers=headers).status_code == status
        assert client.get(f"{instance}/metadata", headers=headers).status_code == status
        assert client.get(f"{instance}/frames/1", headers=headers).status_code == status
    assert client.get("/dicomweb/studies", headers=headers).status_code == 403  # no search across studies
