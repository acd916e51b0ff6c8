"""A series still arriving: the worklist says "waiting", the AI panel that its analysis will start, then shows it.

A real server with a short quiet time (``MEDSIGHT_ROUTING_STABLE_S=8``) and no worker (the
queued job is what is checked; no model runs): an axial FLAIR series (synthetic) is
uploaded from the viewer; opening the study shows that the brain tumour analysis waits
for the series to be complete, and a few seconds later the panel shows the queued job.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from tests.data.synthetic_mr import write_mr_series
from tests.integration.server.live import LiveServer
from tests.integration.viewer.pages import sign_in

from medsight.models.bundle import shipped_bundles
from medsight.tasks import get_task

pytestmark = pytest.mark.integration

TASK = "mri-brain-tumour"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not set(get_task(TASK).shipped_models.values()) & set(shipped_bundles()):
        pytest.skip(f"no shipped {TASK} model (make models trains it)")
    data_dir = tmp_path_factory.mktemp("viewer-waiting") / "var"
    env = {"MEDSIGHT_ANALYSIS_WORKERS": "0", "MEDSIGHT_ROUTING_STABLE_S": "8"}
    live = LiveServer(data_dir=data_dir, extra_env=env).start()
    try:
        yield live
    finally:
        live.stop()


def test_a_series_still_arriving_says_its_analysis_will_start(
    server: LiveServer, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "flair"
    write_mr_series(folder, seed=31)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        sign_in(page, server.url, server.token("--role", "radiologist"))
        page.set_input_files("#upload-folder", str(folder))
        expect(page.locator("#upload-status")).to_contain_text("8 stored", timeout=60_000)
        row = page.locator("#worklist-table tbody tr").first
        expect(row.locator("td.status")).to_have_text("waiting")
        row.click()
        waiting = page.locator("#ai-waiting")
        expect(waiting).to_contain_text("Waiting for the series to be complete", timeout=10_000)
        expect(waiting).to_contain_text("no new image has arrived for 8 s")
        page.screenshot(path=str(artifacts / "viewer-waiting.png"))
        # Once the series has been quiet for 8 s the job is queued, and the panel shows it.
        expect(waiting).to_be_hidden(timeout=30_000)
        expect(page.locator("#ai-result")).to_contain_text(TASK)
        expect(page.locator("#ai-result")).to_contain_text("pending")
    finally:
        page.close()
