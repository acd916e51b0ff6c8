"""A volume segmentation job against a real server with the shipped hippocampus model.

A validation crop of MSD Task04 (NIfTI in ``../shared``) is wrapped as an MR series (its
own pixels and geometry), stored with STOW-RS, and analysed by ``mri-hippocampus``. The
job files a DICOM SEG and SR into the study: QIDO-RS lists them, WADO-RS returns them,
they pass ``dciodvfy``, and the SEG's labels give back the volumes the job reported.
Needs the shipped ``mri-hippocampus`` model and ``../shared`` (skipped with the reason otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pydicom
import pytest
from tests.data.dciodvfy import dciodvfy
from tests.data.synthetic_mr import write_mr_volume
from tests.integration.server.dicomweb_data import multipart
from tests.integration.server.live import LiveServer

from medsight.data.volumes import load_volumes
from medsight.io.dicom.seg import read_segmentation
from medsight.io.dicom.sr import read_sr_items
from medsight.models.bundle import shipped_bundles
from medsight.server.multipart import parse_media_type, parse_multipart
from medsight.tasks import get_task

pytestmark = [pytest.mark.integration, pytest.mark.shared]

TASK = "mri-hippocampus"
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "msd_task04_hippocampus"
SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"


def _shipped() -> bool:
    return bool(set(get_task(TASK).shipped_models.values()) & set(shipped_bundles()))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not DATA.is_dir():
        pytest.skip(f"{DATA} is absent (a real hippocampus crop is needed)")
    if not _shipped():
        pytest.skip(f"no shipped {TASK} model (make models trains it)")
    live = LiveServer(
        data_dir=tmp_path_factory.mktemp("volume-jobs") / "var", extra_env={"MEDSIGHT_ANALYSIS_WORKERS": "1"}
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _finished(server: LiveServer, token: str, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = httpx.get(f"{server.url}/api/v1/analyses/{job_id}", headers=_headers(token)).json()
        if job["status"] in ("done", "refused", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} unfinished after {timeout_s} s:\n{server.log()[-3000:]}")


def test_a_hippocampus_job_files_a_valid_seg_and_sr_into_the_study(server: LiveServer, tmp_path: Path) -> None:
    data = load_volumes(DATA).split("val")
    image = data.read(data.cases[0])[0]
    paths = write_mr_volume(tmp_path / "mr", image, seed=3)
    token = server.token("--role", "admin")
    body, content_type = multipart([(p.read_bytes(), "application/dicom") for p in paths])
    stored = httpx.post(
        f"{server.url}/dicomweb/studies", content=body, headers={**_headers(token), "Content-Type": content_type}
    )
    assert stored.status_code == 200, stored.text
    first = pydicom.dcmread(paths[0], stop_before_pixels=True)
    study = str(first.StudyInstanceUID)
    queued = httpx.post(
        f"{server.url}/api/v1/analyses", json={"study_uid": study, "task": TASK}, headers=_headers(token)
    )
    assert queued.status_code == 202, queued.text
    job = _finished(server, token, queued.json()["id"])
    assert job["status"] == "done", job
    result = job["result"]
    assert set(result["volumes_ml"]) == {"anterior", "posterior"}
    # QIDO-RS lists the SEG and the SR in the study; WADO-RS returns them.
    series = httpx.get(f"{server.url}/dicomweb/studies/{study}/series", headers=_headers(token)).json()
    modalities = sorted(s["00080060"]["Value"][0] for s in series)
    assert modalities == ["MR", "SEG", "SR"]
    seg_ref = result["segmentation"]
    seg_path = f"/dicomweb/studies/{study}/series/{seg_ref['series_uid']}/instances/{seg_ref['sop_instance_uid']}"
    seg_bytes = _instance(server, token, seg_path)
    report = job["report"]
    sr_path = f"/dicomweb/studies/{study}/series/{report['series_uid']}/instances/{report['sop_instance_uid']}"
    sr_bytes = _instance(server, token, sr_path)
    for data_bytes in (seg_bytes, sr_bytes):
        check = dciodvfy(data_bytes)
        assert check.errors == (), check.output
    sources = [str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in paths]
    labels = read_segmentation(seg_bytes, sources).labels
    voxel_ml = float(np.prod(image.geometry.spacing)) / 1000
    for number, name in enumerate(("anterior", "posterior"), start=1):
        assert int((labels == number).sum()) * voxel_ml == pytest.approx(result["volumes_ml"][name], abs=1e-3)
    volumes = [float(v.split()[0]) for n, v in read_sr_items(sr_bytes) if n == "Volume"]
    assert volumes == pytest.approx([result["volumes_ml"]["anterior"], result["volumes_ml"]["posterior"]], abs=1e-3)


def _instance(server: LiveServer, token: str, path: str) -> bytes:
    answer = httpx.get(
        f"{server.url}{path}", headers={**_headers(token), "Accept": 'multipart/related; type="application/dicom"'}
    )
    assert answer.status_code == 200, answer.text
    _, params = parse_media_type(answer.headers["Content-Type"])
    [part] = parse_multipart(answer.content, params["boundary"])
    return part.body
