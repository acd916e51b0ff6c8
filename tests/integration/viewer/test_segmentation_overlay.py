"""A DICOM Segmentation in the viewer: drawn in its segments' colours over the slices it references, one toggle each.

The study holds a synthetic MR series, the SEG medsight writes for two labels (anterior
and posterior hippocampus) and its SR. The SEG is not listed as an image series; on a
slice it covers, the canvas shows both colours; unticking a segment removes its colour
only, unticking "Show segmentation" removes both, and a slice it does not cover shows none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import highdicom as hd
import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from tests.data.synthetic_mr import label_blobs, write_mr_series
from tests.integration.server.live import LiveServer
from tests.integration.viewer.pages import sign_in, wait_until

from medsight.imaging.labels import LabelVolume
from medsight.inference.volume_segmentation import VolumeSegmentation
from medsight.io import read_image
from medsight.services.findings import segment_coding
from medsight.services.label_outputs import build_label_objects
from medsight.settings import ReadLimits

pytestmark = pytest.mark.integration

_BOUNDARY = "segmentation-test-boundary"
_STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={_BOUNDARY}'
MODEL = {"name": "mri-hippocampus-48", "version": "0.1.0", "sha256": "56" * 32}
ANTERIOR = segment_coding("mri-hippocampus", "anterior").colour
POSTERIOR = segment_coding("mri-hippocampus", "posterior").colour

# Canvas pixels nearer (in hue) to each colour than to grey: how much of each segment shows.
_TINTS = """(colours) => {
  const canvas = document.getElementById("image-canvas");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const counts = colours.map(() => 0);
  for (let i = 0; i < data.length; i += 4) {
    const px = [data[i], data[i + 1], data[i + 2]];
    const grey = (px[0] + px[1] + px[2]) / 3;
    const tint = px.map((v) => v - grey);
    if (Math.max(...tint) - Math.min(...tint) < 40) continue;
    colours.forEach((c, k) => {
      const mean = (c[0] + c[1] + c[2]) / 3;
      const want = c.map((v) => v - mean);
      const dot = tint[0] * want[0] + tint[1] * want[1] + tint[2] * want[2];
      const norm = Math.hypot(...tint) * Math.hypot(...want);
      if (norm > 0 && dot / norm > 0.9) counts[k]++;
    });
  }
  return counts;
}"""


def _stow(url: str, token: str, objects: list[bytes]) -> None:
    body = b""
    for data in objects:
        body += f"--{_BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n"
    body += f"--{_BOUNDARY}--\r\n".encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": _STOW_TYPE}
    httpx.post(f"{url}/dicomweb/studies", content=body, headers=headers, timeout=60).raise_for_status()


@pytest.fixture(scope="module")
def study(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("seg-viewer")
    paths = write_mr_series(folder, slices=6, rows=64, columns=64, seed=7)
    image = read_image(folder, ReadLimits())
    labels = LabelVolume(label_blobs(image.shape), ("anterior", "posterior"), image)
    objects = build_label_objects(
        VolumeSegmentation("mri-hippocampus", MODEL, labels=labels), seed="viewer", tracking_id="t"
    )
    assert objects is not None
    token = live_server.token("--role", "admin")
    _stow(live_server.url, token, [p.read_bytes() for p in paths] + [objects.seg, objects.sr])
    return str(image.source.study_uid)


def _tints(page: Page) -> list[int]:
    page.wait_for_timeout(150)  # one animation frame for the redraw
    counts: list[int] = page.evaluate(_TINTS, [list(ANTERIOR), list(POSTERIOR)])
    return counts


def _show(page: Page, index: int) -> None:
    page.evaluate(f"() => window.medsightViewer.showSlice({index})")
    wait_until(page, f"() => window.medsightViewer.index === {index} && Boolean(window.medsightViewer.frame)", 15)
    sop = "window.medsightViewer.frame.instance.sopUid"
    wait_until(
        page,
        f"() => {{ const s = window.medsightViewer.segmentation.current; return Boolean(s) && s.sopUid === {sop}; }}",
        15,
    )


def test_the_segmentation_is_a_coloured_overlay_with_a_toggle_per_segment(
    live_server: LiveServer, browser: Browser, artifacts: Path, study: str
) -> None:
    token = live_server.token("--role", "radiologist")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        sign_in(page, live_server.url, token)
        page.goto(f"{live_server.url}/#study/{study}")
        wait_until(page, "() => Boolean(window.medsightViewer.frame)", 30)
        expect(page.locator("#series-list li")).to_have_count(1)  # the MR series; SEG and SR are no images
        expect(page.locator("#segment-controls")).to_be_visible()
        expect(page.locator("#segment-list")).to_contain_text("Hippocampus, anterior")
        expect(page.locator("#segment-list")).to_contain_text("Hippocampus, posterior")
        _show(page, 3)
        anterior, posterior = _tints(page)
        assert anterior > 50, "the anterior segment is not drawn in its colour"
        assert posterior > 50, "the posterior segment is not drawn in its colour"
        page.screenshot(path=str(artifacts / "viewer-segmentation.png"))
        page.locator("#segment-list input[data-segment='1']").uncheck()
        wait_until(page, "() => window.medsightViewer.segmentation.current.canvases.length === 1")
        off_anterior, still_posterior = _tints(page)
        assert off_anterior == 0
        assert still_posterior > 50
        page.locator("#segment-toggle").uncheck()
        assert _tints(page) == [0, 0]
        page.locator("#segment-toggle").check()
        page.locator("#segment-list input[data-segment='1']").check()
        _show(page, 0)  # label_blobs covers the middle slices only
        assert _tints(page) == [0, 0]
    finally:
        page.close()


def test_the_segment_colours_are_the_ones_the_seg_recommends(live_server: LiveServer, browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.goto(live_server.url)
        for rgb in (ANTERIOR, POSTERIOR, (255, 64, 64)):
            lab = list(hd.color.CIELabColor.from_rgb(*rgb).value)
            back = page.evaluate("async (lab) => (await import('/js/segmentation.js')).labToRgb(lab)", lab)
            assert all(abs(a - b) <= 2 for a, b in zip(back, rgb, strict=True)), (rgb, back)
    finally:
        page.close()


def test_a_volume_result_shows_its_volumes_and_a_seg_link(
    live_server: LiveServer, browser: Browser, study: str
) -> None:
    """The AI panel of a finished volume segmentation job (the job's JSON, as the service answers it)."""
    job = {
        "id": "f" * 32,
        "status": "done",
        "task": "mri-hippocampus",
        "study_uid": study,
        "series_uid": None,
        "model": MODEL,
        "result": {
            "task": "mri-hippocampus",
            "volumes_ml": {"anterior": 1.94, "posterior": 1.87},
            "confidence": 0.912,
            "segmentation": {"series_uid": "1.2.3", "sop_instance_uid": "1.2.3.4"},
            "images": [],
        },
        "error": None,
        "report": {"series_uid": "1.2.5", "sop_instance_uid": "1.2.5.6"},
        "links": {"self": "", "heatmap": None, "heat": None, "fhir": None},
    }
    token = live_server.token("--role", "radiologist")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.route("**/api/v1/analyses?*", lambda route: route.fulfill(json=[job]))
        page.route("**/api/v1/analyses/*/feedback", lambda route: route.fulfill(json=[]))
        sign_in(page, live_server.url, token)
        page.goto(f"{live_server.url}/#study/{study}")
        panel = page.locator("#ai-result")
        expect(panel).to_contain_text("Volume, anterior")
        expect(panel).to_contain_text("1.94 mL")
        expect(panel).to_contain_text("Volume, posterior")
        expect(panel).to_contain_text("0.912 (expected Dice)")
        expect(panel).not_to_contain_text("NaN")
        expect(page.locator("#ai-links")).to_contain_text("DICOM SEG")
        expect(page.locator("#ai-links")).to_contain_text("DICOM SR")
    finally:
        page.close()


def test_a_segmentation_filed_while_the_study_is_open_appears_when_its_job_finishes(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    paths = write_mr_series(tmp_path / "mr", slices=6, rows=32, columns=32, seed=11)
    image = read_image(tmp_path / "mr", ReadLimits())
    labels = LabelVolume(label_blobs(image.shape), ("anterior", "posterior"), image)
    objects = build_label_objects(
        VolumeSegmentation("mri-hippocampus", MODEL, labels=labels), seed="late", tracking_id="t"
    )
    assert objects is not None
    admin = live_server.token("--role", "admin")
    _stow(live_server.url, admin, [p.read_bytes() for p in paths])
    study = str(image.source.study_uid)
    job: dict[str, Any] = {
        "id": "e" * 32,
        "status": "running",
        "task": "mri-hippocampus",
        "study_uid": study,
        "series_uid": None,
        "model": MODEL,
        "result": None,
        "error": None,
        "report": None,
        "links": {"self": "", "heatmap": None, "heat": None, "fhir": None},
    }
    finished = {"done": False}

    def poll(route: Any) -> None:
        if not finished["done"]:
            route.fulfill(json=job)
            return
        result = {"task": "mri-hippocampus", "volumes_ml": labels.volumes_ml(), "images": []}
        result["segmentation"] = {"series_uid": "x", "sop_instance_uid": objects.seg_sop_instance_uid}
        route.fulfill(json={**job, "status": "done", "result": result})

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.route("**/api/v1/analyses?*", lambda route: route.fulfill(json=[job]))
        page.route(f"**/api/v1/analyses/{job['id']}", poll)
        page.route("**/api/v1/analyses/*/feedback", lambda route: route.fulfill(json=[]))
        sign_in(page, live_server.url, live_server.token("--role", "radiologist"))
        page.goto(f"{live_server.url}/#study/{study}")
        wait_until(page, "() => Boolean(window.medsightViewer.frame)", 30)
        expect(page.locator("#segment-controls")).to_be_hidden()
        _stow(live_server.url, admin, [objects.seg, objects.sr])
        finished["done"] = True
        expect(page.locator("#segment-controls")).to_be_visible(timeout=15_000)
        expect(page.locator("#segment-list input")).to_have_count(2)
        _show(page, 3)
        anterior, posterior = _tints(page)
        assert anterior > 0
        assert posterior > 0
    finally:
        page.close()
