"""Analysis jobs end to end on medsight: POST ``/api/v1/analyses``, poll until a final status.

``clients`` threads each take the next study, post ``{"study_uid", "task"}`` (202 with
``{id, status}``) and poll ``GET /api/v1/analyses/{id}`` every ``poll_s`` until ``done``,
``refused`` or ``failed``. Latency is post to the poll that saw the final status (so it
is late by at most ``poll_s``); jobs/s is jobs / wall seconds of the whole phase. Every
study has its own pixels: jobs are idempotent per (instance hashes, task, model), and a
repeated study would measure a cache hit.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pydicom
from tests.data.synthetic_cxr import chest_like, write_dx_dicom

from benchmarks.service.client import Target
from benchmarks.service.stats import Percentiles
from medsight.services.demo_studies import demo_objects

__all__ = ["FINAL", "JobsResult", "JobsUnavailableError", "chest_studies", "run_jobs"]

FINAL = frozenset({"done", "refused", "failed"})
TASK = "cxr-pneumonia"


class JobsUnavailableError(RuntimeError):
    """The server has no analysis jobs API (yet)."""


@dataclass(frozen=True, slots=True)
class JobsResult:
    jobs: int
    seconds: float
    latency: Percentiles
    statuses: dict[str, int]
    clients: int
    source: str = ""

    @property
    def per_second(self) -> float:
        return self.jobs / self.seconds


def chest_studies(
    folder: Path, count: int, *, shared: Path | None, seed: int = 0
) -> tuple[list[tuple[str, bytes]], str]:
    """``count`` one-image chest DX studies, each with its own pixels: (study UID, bytes), and their source.

    Real chest X-rays when ``shared`` holds the Kermany 224 px set (its validation images, made
    DX studies the way ``medsight serve --demo`` makes them, which the task accepts);
    otherwise synthetic 512 px radiographs, which the shipped models refuse as out of
    distribution (the jobs then measure the refusal path).
    """
    studies = _kermany_studies(shared, count) if shared is not None else []
    if len(studies) >= count:
        return studies[:count], "validation images of ../shared/datasets/chest_xray_pneumonia_224 made DX studies"
    return _synthetic_studies(folder, count, seed), "synthetic 512 x 512 chest-like DX images (no ../shared)"


def _kermany_studies(shared: Path, count: int) -> list[tuple[str, bytes]]:
    objects = [item for item in demo_objects(shared, per_class=-(-count // 2)) if "chest_xray" in item.source]
    return [(_study_uid(item.data), item.data) for item in objects]


def _study_uid(data: bytes) -> str:
    return str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).StudyInstanceUID)


def _synthetic_studies(folder: Path, count: int, seed: int) -> list[tuple[str, bytes]]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    studies = []
    for number in range(count):
        path = write_dx_dicom(folder / f"cxr-{number}.dcm", chest_like(512, bool(number % 2), rng))
        ds = pydicom.dcmread(path)
        ds.PatientID, ds.PatientName = f"JOBS{number:05d}", f"JOBS^P{number:05d}"
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        studies.append((str(ds.StudyInstanceUID), buffer.getvalue()))
    return studies


def run_jobs(
    target: Target,
    study_uids: Sequence[str],
    *,
    clients: int = 8,
    poll_s: float = 0.02,
    timeout_s: float = 300.0,
    source: str = "",
) -> JobsResult:
    """One job per study, ``clients`` at a time.

    Raises:
        JobsUnavailableError: ``POST /api/v1/analyses`` answered 404 or 405 (the route is not
            there yet), or the target has no API.
    """
    if target.api is None:
        raise JobsUnavailableError(f"{target.name} has no analysis API")
    with httpx.Client(base_url=target.api, headers=target.headers, timeout=60.0) as http:
        began = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            outcomes = list(pool.map(lambda uid: _one_job(http, uid, poll_s, timeout_s), study_uids))
        seconds = time.perf_counter() - began
    return JobsResult(
        jobs=len(outcomes),
        seconds=seconds,
        latency=Percentiles.of([took for took, _ in outcomes]),
        statuses=dict(Counter(status for _, status in outcomes)),
        clients=clients,
        source=source,
    )


def _one_job(http: httpx.Client, study_uid: str, poll_s: float, timeout_s: float) -> tuple[float, str]:
    began = time.perf_counter()
    response = http.post("/analyses", json={"study_uid": study_uid, "task": TASK})
    if response.status_code in (404, 405):
        raise JobsUnavailableError(f"POST /api/v1/analyses answered {response.status_code}: {response.text[:200]}")
    response.raise_for_status()
    job = response.json()
    deadline = began + timeout_s
    while job["status"] not in FINAL:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"job {job['id']} still {job['status']} after {timeout_s} s")
        time.sleep(poll_s)
        polled = http.get(f"/analyses/{job['id']}")
        polled.raise_for_status()
        job = polled.json()
    return time.perf_counter() - began, str(job["status"])
