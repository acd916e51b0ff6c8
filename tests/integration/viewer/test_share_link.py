"""A share link in the real viewer: no account, the one study only, gone at once when revoked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pydicom
import pytest
from playwright.sync_api import Browser, expect
from tests.integration.server.live import LiveServer
from tests.integration.viewer.data import ct_series
from tests.integration.viewer.pages import canvas_stats, wait_until

pytestmark = pytest.mark.integration

PARTY = "Dr. Remote"


@pytest.fixture(scope="module")
def share_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server without analysis workers (nothing here needs a model), with a de-identification key."""
    data_dir: Path = tmp_path_factory.mktemp("share") / "var"
    env = {"MEDSIGHT_ANALYSIS_WORKERS": "0", "MEDSIGHT_DEID_KEY": "a-test-key-of-enough-bytes"}
    server = LiveServer(data_dir=data_dir, extra_env=env).start()
    try:
        yield server
    finally:
        server.stop()


def _stow(url: str, token: str, files: list[Path]) -> None:
    boundary = "medsight-share-test"
    parts = [
        b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + path.read_bytes() + b"\r\n"
        for path in files
    ]
    body = b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
    }
    assert httpx.post(f"{url}/dicomweb/studies", content=body, headers=headers, timeout=60).status_code == 200


def test_a_share_link_opens_its_study_alone(share_server: LiveServer, browser: Browser, tmp_path: Path) -> None:
    token = share_server.token("--role", "radiologist")
    auth = {"Authorization": f"Bearer {token}"}
    files = ct_series(tmp_path, "SHARE^CT", slices=3)
    _stow(share_server.url, token, files)
    first = pydicom.dcmread(files[0], stop_before_pixels=True)
    study = str(first.StudyInstanceUID)
    consent = {"patient_id": str(first.PatientID), "purpose": "sharing", "party": PARTY, "granted": True}
    assert httpx.post(f"{share_server.url}/api/v1/consents", json=consent, headers=auth).status_code == 201
    made = httpx.post(
        f"{share_server.url}/api/v1/shares", json={"study_uid": study, "party": PARTY, "expires": "1h"}, headers=auth
    ).json()

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(share_server.url + made["link"])
        expect(page.locator("#whoami")).to_have_text("shared study (read-only)")
        expect(page.locator("#nav-worklist")).to_be_hidden()
        assert "share=" not in page.url  # the link's token left the address bar
        wait_until(page, "() => Boolean(window.medsightViewer && window.medsightViewer.frame)", timeout_s=30)
        assert canvas_stats(page)["lit"] > 100
        page.evaluate("location.hash = '#worklist'")
        wait_until(page, f"() => location.hash === '#study/{study}'")  # the one study, nothing else

        revoked = httpx.delete(f"{share_server.url}/api/v1/shares/{made['share']['id']}", headers=auth)
        assert revoked.status_code == 200
        page.reload()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=15_000)
    finally:
        page.close()
