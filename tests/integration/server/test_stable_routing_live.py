"""A real server routes an MRI series sent one instance per request once, when it is stable.

Eight axial FLAIR slices (synthetic) are stored with eight STOW-RS requests. The brain
tumour rule waits for the series to be quiet for ``MEDSIGHT_ROUTING_STABLE_S`` (4 s here):
no job while slices arrive, then exactly one, pinned to all eight, queued by the server's
own timer. No worker runs (the queue is what is checked), so no model is loaded; the
shipped ``mri-brain-tumour`` bundle must be installed for the job to be queued.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from tests.data.synthetic_mr import write_mr_series
from tests.integration.server.dicomweb_data import multipart
from tests.integration.server.live import LiveServer

from medsight.models.bundle import shipped_bundles
from medsight.tasks import get_task

pytestmark = pytest.mark.integration

TASK = "mri-brain-tumour"
STABLE_S = 4.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not set(get_task(TASK).shipped_models.values()) & set(shipped_bundles()):
        pytest.skip(f"no shipped {TASK} model (make models trains it)")
    live = LiveServer(
        data_dir=tmp_path_factory.mktemp("stable-routing") / "var",
        extra_env={"MEDSIGHT_ANALYSIS_WORKERS": "0", "MEDSIGHT_ROUTING_STABLE_S": str(STABLE_S)},
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()


def _jobs(server: LiveServer, token: str, study: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{server.url}/api/v1/analyses", params={"study_uid": study}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    jobs: list[dict[str, Any]] = answer.json()
    return jobs


def test_a_series_sent_slice_by_slice_is_queued_once_with_every_slice(server: LiveServer, tmp_path: Path) -> None:
    token = server.token("--role", "admin")
    paths = write_mr_series(tmp_path / "flair", seed=21)
    study = str(pydicom.dcmread(paths[0], stop_before_pixels=True).StudyInstanceUID)
    for path in paths:
        body, content_type = multipart([(path.read_bytes(), "application/dicom")])
        stored = httpx.post(
            f"{server.url}/dicomweb/studies",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        )
        assert stored.status_code == 200, stored.text
    sent = time.monotonic()
    assert _jobs(server, token, study) == []  # still within the quiet time
    deadline = sent + STABLE_S + 15
    while not (jobs := _jobs(server, token, study)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert time.monotonic() - sent >= STABLE_S * 0.5, "queued before the series was quiet"
    found = [(job["task"], job["instances"], job["status"]) for job in jobs]
    assert found == [(TASK, 8, "queued")], server.log()[-2000:]
    time.sleep(STABLE_S + 1.5)  # and never again for the same series
    assert len(_jobs(server, token, study)) == 1
