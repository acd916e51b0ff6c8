"""The web viewer in a real browser against a real ``medsight serve``.

Debian's Chromium, headless, driven by Playwright: sign in with a token, upload a chest
X-ray (file picker) and a CT series (drag and drop), wait for the analysis, see the
probability and the heatmap on the canvas (its pixels, not only the DOM), change the
window, scroll slices, disagree with a comment, sign out; a referrer sees only its own
studies. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from tests.integration.server.live import LiveServer
from tests.integration.viewer.data import chest_xray, ct_series
from tests.integration.viewer.pages import canvas_stats, drop_files, sign_in, wait_for_canvas_change, wait_until

pytestmark = pytest.mark.integration

DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}
ANALYSIS_TIMEOUT_MS = 240_000


def _row(page: Page, patient: str):  # type: ignore[no-untyped-def]
    return page.locator("#worklist-table tbody tr", has_text=patient)


def _upload(page: Page, tmp_path: Path) -> bool:
    chest, real = chest_xray(tmp_path, "VIEWER^CHEST")
    page.set_input_files("#upload-files", str(chest))
    expect(page.locator("#upload-status")).to_contain_text("1 stored", timeout=60_000)
    drop_files(page, ct_series(tmp_path, "VIEWER^CT"))
    expect(page.locator("#upload-status")).to_contain_text("8 stored", timeout=60_000)
    return real


def _read_chest(page: Page, real: bool, artifacts: Path, server: tuple[str, str]) -> None:
    status = "done" if real else "refused"
    expect(_row(page, "VIEWER CHEST").locator("td.status")).to_have_text(status, timeout=ANALYSIS_TIMEOUT_MS)
    if real:
        _both_findings_listed(page, server)
    page.get_by_label("Search patient, ID, accession or description").fill("viewer")
    rows = page.locator("#worklist-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("VIEWER CT")  # newest study date first
    page.get_by_role("button", name="Patient", exact=True).click()
    expect(page.locator("th[data-sort=patient]")).to_have_attribute("aria-sort", "descending")
    page.get_by_role("button", name="Patient", exact=True).click()
    expect(page.locator("th[data-sort=patient]")).to_have_attribute("aria-sort", "ascending")
    expect(rows.first).to_contain_text("VIEWER CHEST")
    page.get_by_label("AI status").select_option(status)
    expect(rows).to_have_count(1)
    page.get_by_label("Modality").select_option("CT")
    expect(rows).to_contain_text("No study matches.")
    page.get_by_label("AI status").select_option("")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("VIEWER CT")
    page.get_by_label("Modality").select_option("")
    expect(rows).to_have_count(2)
    page.screenshot(path=str(artifacts / "worklist.png"))
    page.set_viewport_size(TABLET)
    page.screenshot(path=str(artifacts / "worklist-tablet.png"))
    page.set_viewport_size(DESKTOP)
    _row(page, "VIEWER CHEST").click()
    if not real:
        expect(page.locator("#ai-result")).to_contain_text("Refused")
        return
    expect(page.locator("#ai-probability")).to_have_text(re.compile(r"^\d{1,3}\.\d%$"))
    expect(page.locator("#ai-input-gate")).to_have_text(re.compile(r"^image-kind-32 \d+\.\d+\.\d+$"))
    # The heatmap is drawn on the canvas: coloured pixels over a greyscale film.
    wait_until(page, "() => !document.getElementById('overlay-controls').disabled")
    wait_until(page, "() => Boolean(window.medsightViewer.overlay.image && window.medsightViewer.frame)")
    page.wait_for_timeout(200)
    assert canvas_stats(page)["coloured"] > 100
    page.locator("#image-canvas").focus()
    page.keyboard.press("h")
    page.wait_for_timeout(200)
    assert canvas_stats(page)["coloured"] == 0, "the heatmap toggle left colour on the canvas"
    page.keyboard.press("h")
    page.wait_for_timeout(200)
    assert canvas_stats(page)["coloured"] > 100
    _heat_over_the_window(page)
    page.screenshot(path=str(artifacts / "viewer-chest.png"))
    _both_chest_tasks(page)
    for link, expected in (("FHIR report", '"resourceType": "DiagnosticReport"'), ("DICOM SR", '"0040A730"')):
        with page.context.expect_page() as opened:  # fetched with the token, shown from a blob: URL
            page.get_by_role("button", name=link).click()
        report = opened.value
        report.wait_for_load_state()
        assert report.url.startswith("blob:")
        assert expected in report.content().replace('":"', '": "')
        report.close()


def _both_findings_listed(page: Page, server: tuple[str, str]) -> None:
    """The worklist lists both chest tasks' findings, flagged as the API flags them."""
    url, token = server
    deadline = time.monotonic() + ANALYSIS_TIMEOUT_MS / 1000
    while True:  # both jobs finished (the status cell shows the newest one only)
        found = httpx.get(
            f"{url}/api/v1/worklist",
            params={"q": "viewer", "modality": "DX"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["items"]
        if len(found) == 1 and all(a["status"] == "done" for a in found[0]["analyses"]):
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.5)
    analyses = found[0]["analyses"]
    assert [a["task"] for a in analyses] == ["cxr-tuberculosis", "cxr-pneumonia"]  # pneumonia queued last
    lines = _row(page, "VIEWER CHEST").locator("td.findings .finding-line")
    expect(lines).to_have_count(2)
    for index, analysis in enumerate(analyses):
        line = lines.nth(index)
        expect(line).to_have_attribute("data-task", analysis["task"])
        expect(line).to_contain_text(f"{analysis['task']} {analysis['finding']}", timeout=10_000)
        expect(line.locator(".finding-positive")).to_have_count(1 if analysis["positive"] else 0)
        flag = line.locator(".flag-uncertain")
        expect(flag).to_have_count(1 if analysis["uncertain"] else 0)
        if analysis["uncertain"]:
            expect(flag).to_have_attribute("title", re.compile(r"prediction set|members"))
    _triage_filter_and_sort(page, any(a["positive"] for a in analyses), any(a["uncertain"] for a in analyses))


def _triage_filter_and_sort(page: Page, positive: bool, uncertain: bool) -> None:
    """The AI flags filter keeps the studies the API flags; the Findings sort puts them first."""
    chest, ct = _row(page, "VIEWER CHEST"), _row(page, "VIEWER CT")
    for flag, flagged in (("positive", positive), ("uncertain", uncertain), ("flagged", positive or uncertain)):
        page.get_by_label("AI flags").select_option(flag)
        expect(ct).to_have_count(0)  # not analysed: never flagged
        expect(chest).to_have_count(1 if flagged else 0)
    page.get_by_label("AI flags").select_option("")
    page.get_by_role("button", name="Findings", exact=True).click()
    expect(page.locator("th[data-sort=priority]")).to_have_attribute("aria-sort", "descending")
    first = "VIEWER CHEST" if positive or uncertain else "VIEWER CT"  # else by date, the CT is newer
    names = page.locator("#worklist-table tbody tr", has_text=re.compile("VIEWER (CHEST|CT)"))
    expect(names.first).to_contain_text(first)
    page.get_by_role("button", name="Date", exact=True).click()
    expect(page.locator("th[data-sort=date]")).to_have_attribute("aria-sort", "descending")


def _both_chest_tasks(page: Page) -> None:
    """Routing ran both chest tasks: the panel lists each, and choosing one shows it."""
    expect(page.locator("#ai-tasks button")).to_have_count(2, timeout=ANALYSIS_TIMEOUT_MS)
    page.get_by_role("button", name=re.compile(r"^cxr-tuberculosis: ")).click()
    expect(page.locator("#ai-result")).to_contain_text("cxr-tuberculosis")
    # The shipped TB model is a 3-member ensemble: the panel says how many members are over the threshold.
    expect(page.locator("#ai-members")).to_have_text(re.compile(r"^[0-3] of 3 members at or above the threshold"))
    # Its Grad-CAM failed the saliency audit, so it draws occlusion maps, which passed (docs/models.md).
    expect(page.locator("#ai-heatmap-audit")).to_have_text(
        "occlusion: follows the model's evidence (saliency audit passed)"
    )
    page.get_by_role("button", name=re.compile(r"^cxr-pneumonia: ")).click()
    expect(page.locator("#ai-result")).to_contain_text("cxr-pneumonia")
    expect(page.locator("#ai-probability")).to_have_text(re.compile(r"^\d{1,3}\.\d%$"))
    # The 224 px model (2.0.0) passed its recorded saliency audit.
    passed = "Grad-CAM: follows the model's evidence (saliency audit passed)"
    expect(page.locator("#ai-heatmap-audit")).to_have_text(passed)


def _heat_over_the_window(page: Page) -> None:
    """The overlay is the heat alone: opacity scales it, and W/L still reaches the image under it."""
    assert page.evaluate("() => window.medsightViewer.overlay.kind") == "heat"
    opacity = page.locator("#heatmap-opacity")
    opacity.fill("20")
    page.wait_for_timeout(200)
    faint = canvas_stats(page)
    opacity.fill("100")
    strong = wait_for_canvas_change(page, faint["sum"])
    assert strong["coloured"] > faint["coloured"]
    # At full opacity a blended preview would hide the reader's window; the heat alone does not.
    page.evaluate("() => window.medsightViewer.setWindow(80, 60)")
    wait_for_canvas_change(page, strong["sum"])
    assert canvas_stats(page)["coloured"] > 100
    opacity.fill("60")
    page.evaluate("() => window.medsightViewer.reset()")
    page.wait_for_timeout(200)


def _window_level(page: Page) -> float:
    canvas = page.locator("#image-canvas")
    box = canvas.bounding_box()
    assert box is not None
    before = canvas_stats(page)["sum"]
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 90, y + 40, steps=5)
    page.mouse.up()
    wait_for_canvas_change(page, before)
    redraw_ms: float = page.evaluate("() => window.medsightViewer.drawNow()")
    expect(page.locator("#wl-info")).to_contain_text("W ")
    return redraw_ms


def _disagree(page: Page, live: LiveServer, token: str) -> None:
    page.get_by_label("Disagree").check()
    page.get_by_label("Comment").fill("consolidation is an artefact")
    page.get_by_role("button", name="Save feedback").click()
    expect(page.locator("#feedback-status")).to_have_text("Saved: disagree.")
    expect(page.locator("#feedback-list")).to_contain_text("disagree")
    headers = {"Authorization": f"Bearer {token}"}
    jobs = httpx.get(f"{live.url}/api/v1/analyses", headers=headers).json()
    done = [j for j in jobs if j["status"] == "done"]
    feedback = httpx.get(f"{live.url}/api/v1/analyses/{done[0]['id']}/feedback", headers=headers).json()
    assert [(f["verdict"], f["comment"]) for f in feedback] == [("disagree", "consolidation is an artefact")]


def _scroll_ct(page: Page, artifacts: Path) -> None:
    page.keyboard.press("Escape")
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    _row(page, "VIEWER CT").click()
    expect(page.locator("#slice-info")).to_have_text("1 / 8")
    wait_until(page, "() => window.medsightViewer.frame !== null")
    page.wait_for_timeout(100)
    first = canvas_stats(page)
    assert first["lit"] > 0
    page.locator("#image-canvas").focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#slice-info")).to_have_text("2 / 8")
    wait_for_canvas_change(page, first["sum"])
    page.mouse.move(640, 400)
    page.mouse.wheel(0, 100)
    expect(page.locator("#slice-info")).to_have_text("3 / 8")
    page.keyboard.press("End")
    expect(page.locator("#slice-info")).to_have_text("8 / 8")
    page.keyboard.press(" ")  # cine: plays on from the last slice to the first and beyond
    expect(page.locator("#btn-cine")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#slice-info")).to_have_text(re.compile(r"^[2-7] / 8$"), timeout=5_000)
    page.keyboard.press(" ")
    expect(page.locator("#btn-cine")).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("End")
    _tools_change_the_canvas(page)
    page.keyboard.press("3")  # soft-tissue preset
    expect(page.locator("#wl-info")).to_have_text("W 400 L 40")
    box = page.locator("#image-canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("#cursor-info")).to_contain_text(re.compile(r"HU · \(-?\d+\.\d, -?\d+\.\d, -?\d+\.\d\) mm"))
    page.keyboard.press("m")
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 50, y)
    page.mouse.down()
    page.mouse.move(x + 50, y, steps=4)
    page.mouse.up()
    expect(page.locator("#measure-info")).to_contain_text(re.compile(r"Distance \d+\.\d mm"))
    page.screenshot(path=str(artifacts / "viewer-ct.png"))
    page.set_viewport_size(TABLET)
    page.wait_for_timeout(300)
    assert canvas_stats(page)["lit"] > 0
    page.screenshot(path=str(artifacts / "viewer-ct-tablet.png"))
    page.set_viewport_size(DESKTOP)


def _tools_change_the_canvas(page: Page) -> None:
    before = canvas_stats(page)["sum"]
    page.keyboard.press("i")
    expect(page.locator("#btn-invert")).to_have_attribute("aria-pressed", "true")
    inverted = wait_for_canvas_change(page, before)["sum"]
    box = page.locator("#image-canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -300)
    page.keyboard.up("Control")
    wait_for_canvas_change(page, inverted)
    assert page.evaluate("() => window.medsightViewer.view.fitted") is False
    page.keyboard.press("r")
    expect(page.locator("#btn-invert")).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("() => window.medsightViewer.view.fitted") is True
    expect(page.locator("#measure-info")).to_have_text("")
    expect(page.locator("#wl-preset")).to_have_value("")


def test_a_radiologist_reads_uploaded_studies_with_the_ai_result(
    live_server: LiveServer, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    token = live_server.token("--role", "radiologist")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        sign_in(page, live_server.url, token)
        expect(page.locator("#whoami")).to_contain_text("radiologist")
        real = _upload(page, tmp_path)
        _read_chest(page, real, artifacts, (live_server.url, token))
        if real:
            redraw_ms = _window_level(page)
            print(f"window/level redraw: {redraw_ms:.2f} ms")
            _disagree(page, live_server, token)
        _scroll_ct(page, artifacts)
        assert "msk_" not in page.url
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.evaluate("() => sessionStorage.length") == 0
    finally:
        page.screenshot(path=str(artifacts / "last-radiologist.png"))
        context.close()


def test_a_referrer_sees_only_the_studies_it_sent(
    live_server: LiveServer, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    others = live_server.token("--role", "radiologist")
    chest, _ = chest_xray(tmp_path, "OTHER^SENDER")
    httpx.post(
        f"{live_server.url}/dicomweb/studies",
        content=_stow(chest.read_bytes()),
        headers={"Authorization": f"Bearer {others}", "Content-Type": _STOW_TYPE},
    ).raise_for_status()
    token = live_server.token("--role", "referrer")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        sign_in(page, live_server.url, token)
        folder = tmp_path / "own"
        folder.mkdir()
        ct_series(folder, "REFERRER^OWN", slices=2)
        page.set_input_files("#upload-folder", str(folder))  # a folder, as "Upload folder" picks it
        expect(page.locator("#upload-status")).to_contain_text("2 stored", timeout=60_000)
        expect(page.locator("#worklist-table tbody tr")).to_have_count(1)
        expect(page.locator("#worklist-table tbody")).to_contain_text("REFERRER OWN")
        expect(page.locator("#worklist-table tbody")).not_to_contain_text("OTHER SENDER")
        page.screenshot(path=str(artifacts / "worklist-referrer.png"))
        listed = httpx.get(f"{live_server.url}/api/v1/worklist", headers={"Authorization": f"Bearer {token}"}).json()
        assert [item["patient_name"] for item in listed["items"]] == ["REFERRER^OWN"]
        # Its own study's images open in the viewer (WADO-RS admits a referrer for studies it sent).
        _row(page, "REFERRER OWN").click()
        expect(page.locator("#slice-info")).to_have_text("1 / 2")
        wait_until(page, "() => window.medsightViewer.frame !== null")
        page.wait_for_timeout(100)
        assert canvas_stats(page)["lit"] > 0
    finally:
        context.close()


_BOUNDARY = "viewer-test-boundary"
_STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={_BOUNDARY}'


def _stow(data: bytes) -> bytes:
    head = f"--{_BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    return head + data + f"\r\n--{_BOUNDARY}--\r\n".encode()


def test_a_bad_token_is_refused_and_nothing_is_kept(live_server: LiveServer, browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.goto(live_server.url)
        page.get_by_label("Access token").fill("msk_0000000000000000_not-a-real-secret")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#signin-error")).to_contain_text("Sign-in failed: the bearer token is not valid")
        expect(page.get_by_role("heading", name="Worklist")).to_be_hidden()
        assert page.evaluate("() => sessionStorage.length") == 0
    finally:
        page.close()
