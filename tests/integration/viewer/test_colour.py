"""Colour images in the viewer: palette, YBR and RGB drawn in colour (the server's rendering).

The viewer windows MONOCHROME frames itself; any other photometric interpretation is drawn
from WADO-RS ``frames/{n}/rendered`` (converted to RGB by ``medsight.io``), so a palette
image must not show as grey indices nor a YBR frame as if it were RGB.
"""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pydicom
import pytest
from playwright.sync_api import Browser, expect
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from tests.integration.server.live import LiveServer
from tests.integration.viewer.pages import sign_in, wait_until

pytestmark = pytest.mark.integration

PALETTE = Path(__file__).resolve().parents[3] / ".." / "shared" / "samples" / "us" / "examples_palette.dcm"
_BOUNDARY = "colour-test-boundary"
_STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={_BOUNDARY}'

# Canvas pixels whose red and green differ clearly (a grey rendering has none).
_RED_NOT_GREEN = """() => {
  const canvas = document.getElementById("image-canvas");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - data[i + 1]) > 10) count++;
  return count;
}"""


def _pydicom_file(name: str) -> Path:
    path = get_testdata_file(name)
    assert isinstance(path, str), f"pydicom's test file {name} is missing"
    return Path(path)


def _stow(url: str, token: str, source: Path, patient: str) -> str:
    """Store ``source`` as a new study of ``patient``; its Study Instance UID."""
    dataset = pydicom.dcmread(source)
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.PatientName, dataset.PatientID = patient, patient.replace("^", "")
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    body = f"--{_BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    body += buffer.getvalue() + f"\r\n--{_BOUNDARY}--\r\n".encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": _STOW_TYPE}
    httpx.post(f"{url}/dicomweb/studies", content=body, headers=headers, timeout=60).raise_for_status()
    return str(dataset.StudyInstanceUID)


@pytest.mark.parametrize(
    ("name", "photometric"),
    [
        ("palette", "PALETTE COLOR"),
        ("SC_ybr_full_422_uncompressed.dcm", "YBR_FULL_422"),
        ("SC_rgb_small_odd.dcm", "RGB"),
    ],
)
def test_colour_images_are_drawn_in_colour(
    live_server: LiveServer, browser: Browser, artifacts: Path, name: str, photometric: str
) -> None:
    if name == "palette":
        if not PALETTE.exists():
            pytest.skip(f"no palette sample at {PALETTE.resolve()} (../shared/samples/us)")
        source = PALETTE
    else:
        source = _pydicom_file(name)
    token = live_server.token("--role", "radiologist")
    study = _stow(live_server.url, token, source, "COLOUR^" + photometric.replace(" ", "_"))
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        sign_in(page, live_server.url, token)
        page.goto(f"{live_server.url}/#study/{study}")
        wait_until(page, "() => Boolean(window.medsightViewer.frame && window.medsightViewer.frame.rendered)", 30)
        page.wait_for_timeout(200)
        assert page.evaluate(_RED_NOT_GREEN) > 0, f"{photometric} drawn without colour"
        expect(page.locator("#wl-info")).to_contain_text("window/level does not apply")
        page.screenshot(path=str(artifacts / f"viewer-colour-{photometric.replace(' ', '_').lower()}.png"))
        # Zoom, pan and measure work on a rendered frame as on a windowed one.
        page.locator("#image-canvas").focus()
        page.mouse.move(640, 400)
        page.keyboard.down("Control")
        page.mouse.wheel(0, -300)
        page.keyboard.up("Control")
        wait_until(page, "() => window.medsightViewer.view.fitted === false")
        page.wait_for_timeout(200)
        assert page.evaluate(_RED_NOT_GREEN) > 0
        page.keyboard.press("m")
        page.mouse.move(600, 400)
        page.mouse.down()
        page.mouse.move(680, 400, steps=4)
        page.mouse.up()
        expect(page.locator("#measure-info")).to_contain_text("Distance")
    finally:
        page.close()
