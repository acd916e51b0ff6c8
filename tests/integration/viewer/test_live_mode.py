"""The viewer's live mode in Chromium: frames played as from a probe, answers drawn as they come."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect
from tests.integration.server.live import LiveServer
from tests.integration.viewer.pages import sign_in, wait_until

from medsight.io.framebytes import FrameEncoding, encode_frame

pytestmark = pytest.mark.integration


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    yield opened
    context.close()


def _frames(folder: Path, count: int = 6) -> list[Path]:
    rows, cols = np.mgrid[0:240, 0:320].astype(np.float32)
    paths = []
    for k in range(count):
        ellipse = ((rows - 120) / 80) ** 2 + ((cols - 160 - 2 * k) / 100) ** 2
        pixels = np.clip(50 + 0.3 * cols + 150 * (np.abs(ellipse - 1) < 0.1), 0, 255).astype(np.uint8)
        path = folder / f"frame{k:02d}.png"
        path.write_bytes(encode_frame(pixels, FrameEncoding.PNG))
        paths.append(path)
    return paths


def test_live_mode_streams_frames_and_shows_answers(
    page: Page, live_server: LiveServer, tmp_path: Path, artifacts: Path
) -> None:
    sign_in(page, live_server.url, live_server.token("--role", "radiologist"))
    page.get_by_role("link", name="Live").click()
    expect(page.get_by_role("heading", name="Live stream")).to_be_visible()
    page.get_by_label("Frames or a cine DICOM").set_input_files([str(p) for p in _frames(tmp_path)])
    expect(page.locator("#live-status")).to_contain_text("6 frames of 320x240 ready")
    page.get_by_label("Task").select_option("cxr-pneumonia")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#live-status")).to_contain_text("Streaming to cxr-pneumonia", timeout=60_000)
    wait_until(page, "() => document.querySelectorAll('#live-result dt').length > 2", timeout_s=30)
    expect(page.locator("#live-result")).to_contain_text("ms on the server")
    page.screenshot(path=str(artifacts / "live-mode.png"))
    page.get_by_role("button", name="Reset").click()  # accepted: the stream goes on
    wait_until(page, "() => !document.getElementById('live-stop').disabled", timeout_s=5)
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#live-status")).to_contain_text("Stopped:", timeout=10_000)
    assert "answered" in (page.locator("#live-status").text_content() or "")


def test_live_mode_is_offered_only_to_roles_that_may_stream(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server.url, live_server.token("--role", "referrer"))
    expect(page.get_by_role("link", name="Live")).to_be_hidden()


@pytest.mark.shared
def test_live_mode_plays_a_cine_dicom(page: Page, live_server: LiveServer, samples_dir: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(samples_dir / "us" / "GREYSCALE_CINE.zip") as archive:
        cine = Path(archive.extract("GREYSCALE_CINE.dcm", tmp_path))
    sign_in(page, live_server.url, live_server.token("--role", "radiologist"))
    page.get_by_role("link", name="Live").click()
    page.get_by_label("Frames or a cine DICOM").set_input_files(str(cine))
    expect(page.locator("#live-status")).to_contain_text("27 frames of 800x600 ready", timeout=60_000)
    assert page.get_by_label("Frames per second").input_value() == "30"  # from Frame Time (33 ms)
    page.get_by_label("Task").select_option("cxr-pneumonia")
    page.get_by_role("button", name="Start").click()
    wait_until(page, "() => document.querySelectorAll('#live-result dt').length > 2", timeout_s=60)
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#live-status")).to_contain_text("Stopped:", timeout=10_000)


@pytest.mark.shared
def test_live_mode_draws_the_fetal_head_ellipse(
    page: Page, live_server: LiveServer, shared_datasets: Path, artifacts: Path
) -> None:
    from medsight.models.bundle import shipped_bundles

    if "us-fetal-head-128" not in shipped_bundles():
        pytest.skip("the us-fetal-head bundle is not shipped in this checkout")
    sign_in(page, live_server.url, live_server.token("--role", "radiologist"))
    page.get_by_role("link", name="Live").click()
    page.get_by_label("Frames or a cine DICOM").set_input_files(
        str(shared_datasets / "hc18" / "training_set" / "001_HC.png")
    )
    expect(page.locator("#live-status")).to_contain_text("1 frames of 800x540 ready")
    page.get_by_label("Task").select_option("us-fetal-head")
    page.get_by_label("Pixel spacing, mm (when the files do not say)").fill("0.0896585200514")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#live-stable")).to_be_visible(timeout=60_000)
    expect(page.locator("#live-result")).to_contain_text("hc_mm")
    green = (
        "() => { const c = document.getElementById('live-canvas'); const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 0; i < d.length; i += 4)"
        " if (d[i + 1] > 150 && d[i] < 120 && d[i + 2] < 150) n += 1; return n; }"
    )
    assert wait_until(page, green, timeout_s=10) > 500  # the ellipse, drawn in green over the frame
    page.screenshot(path=str(artifacts / "live-fetal-head.png"))
    page.get_by_role("button", name="Stop").click()
