"""Where medsight's STOW-RS time goes, measured when ingest misses its target.

:func:`diagnose_ingest` opens a store of its own in this process (the class and settings
``medsight serve`` uses, SQLite in a fresh folder) and stores fresh instances the way
STOW-RS stores one request (``Store.prepare`` for each part, then
``Store.ingest_prepared`` for the batch), one batch after another without HTTP; then it
profiles more batches with cProfile. The
rate without HTTP bounds what the server can reach on one writer; the profile shows
which calls (file fsync, database commit, ORM) the time goes to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.profiling import profile_calls
from benchmarks.service.workload import Layout, load_template, plan_instances, render
from medsight.settings import StoreSettings
from medsight.store import Store

__all__ = ["IngestDiagnosis", "diagnose_ingest"]

_FIRST_STUDY = 50_000_000  # far from every study the bench sends to the servers


@dataclass(frozen=True, slots=True)
class IngestDiagnosis:
    timed: int
    per_second: float
    profile: str


def diagnose_ingest(
    folder: Path, *, batch: int = 20, timed: int = 300, profiled_s: float = 1.0, seed: int = 0
) -> IngestDiagnosis:
    """Rate of ``timed`` in-process ingests in batches, then a profile of about ``profiled_s`` seconds of them."""
    blobs = _fresh(timed + 2_000, seed)  # rendered before any timing
    batches = iter([blobs[start : start + batch] for start in range(0, len(blobs), batch)])
    store = Store.open(StoreSettings(data_dir=folder))

    def one_request() -> None:
        store.ingest_prepared([store.prepare(blob) for blob in next(batches)])

    try:
        one_request()  # warm-up: first writes create folders and compile statements
        began = time.perf_counter()
        for _ in range(timed // batch):
            one_request()
        rate = timed // batch * batch / (time.perf_counter() - began)
        profile = profile_calls(
            one_request,
            what=f"calls of `Store.ingest_prepared` on {batch} fresh instances (one STOW-RS request); seconds per call",
            min_seconds=profiled_s,
        )
    finally:
        store.close()
    return IngestDiagnosis(timed=timed, per_second=rate, profile=profile)


def _fresh(count: int, seed: int) -> list[bytes]:
    template = load_template()
    return [
        render(template, item) for item in plan_instances(count, layout=Layout(), seed=seed, first_study=_FIRST_STUDY)
    ]
