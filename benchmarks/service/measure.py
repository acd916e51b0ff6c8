"""One run of the service bench: both servers up, the phases in order, everything collected.

Order: render the instances; start Orthanc (installed first when missing) and medsight,
each on loopback with a fresh temporary folder; probe both (a server whose DICOMweb does
not answer is left out, with the reason); ingest, query and retrieve on both; stop
Orthanc; then the medsight-only phases: analysis jobs, and memory under mixed load.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.orthanc import ensure_orthanc
from benchmarks.service.client import DicomWebClient, ServiceError, Target
from benchmarks.service.diagnose import IngestDiagnosis, diagnose_ingest
from benchmarks.service.jobs import JobsResult, JobsUnavailableError, chest_studies, run_jobs
from benchmarks.service.machine import CpuShare, CpuWatch
from benchmarks.service.memory import MemoryResult, mixed_load
from benchmarks.service.phases import (
    IngestResult,
    QueryResult,
    RetrievalResult,
    floor,
    ingest,
    query,
    retrieval_paths,
    retrieve,
)
from benchmarks.service.servers import medsight_server, orthanc_server
from benchmarks.service.stats import Percentiles
from benchmarks.service.workload import (
    Instance,
    Layout,
    Query,
    batches,
    load_template,
    plan_instances,
    qido_queries,
    render,
)

__all__ = ["FULL_SERVICE", "MEDSIGHT_ENV", "QUICK_SERVICE", "ServiceOptions", "ServiceResult", "measure_service"]


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """How big the service run is."""

    instances: int = 10_000
    batch: int = 20  # instances per STOW-RS request (one study of the default layout)
    concurrency: int = 4  # STOW-RS requests in flight
    rounds: int = 5  # ingest rounds (servers alternate within each)
    queries: int = 700  # QIDO-RS queries, cycling through 7 kinds
    retrievals: int = 50  # WADO-RS requests per kind
    jobs: int = 64  # analysis jobs (one chest DX study each)
    job_clients: int = 8
    memory_s: float = 600.0  # mixed load for the memory check
    seed: int = 0


FULL_SERVICE = ServiceOptions()
QUICK_SERVICE = ServiceOptions(instances=600, queries=140, retrievals=10, jobs=16, memory_s=30.0, rounds=2)


@dataclass
class ServiceResult:
    """Everything one run measured; a phase that could not run holds the reason instead."""

    options: ServiceOptions
    layout: Layout
    instance_bytes: int = 0
    render_seconds: float = 0.0
    orthanc_note: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)  # server -> why
    ingest: dict[str, IngestResult] = field(default_factory=dict)
    query: dict[str, QueryResult] = field(default_factory=dict)
    floor: dict[str, Percentiles] = field(default_factory=dict)
    retrieval: dict[str, list[RetrievalResult]] = field(default_factory=dict)
    diagnosis: IngestDiagnosis | None = None  # when ingest missed its target
    jobs: JobsResult | str = "not run"
    memory: MemoryResult | str = "not run"
    load: dict[str, tuple[float, ...]] = field(default_factory=dict)
    cpu: CpuShare | None = None
    seconds: float = 0.0


# Jobs start only when the bench posts them: routing on arrival would queue the chest
# studies' jobs as they are stored, and the post would then find them half done.
MEDSIGHT_ENV = {"MEDSIGHT_AUTO_ANALYZE": "false"}


def measure_service(
    workdir: Path, options: ServiceOptions, *, shared: Path | None = None, env: dict[str, str] | None = None
) -> ServiceResult:
    """Run every phase; ``env`` is added to medsight's environment (after :data:`MEDSIGHT_ENV`)."""
    started = time.perf_counter()
    watch = CpuWatch()
    layout = Layout()
    result = ServiceResult(options=options, layout=layout)
    result.load["start"] = os.getloadavg()
    plan = plan_instances(options.instances, layout=layout, seed=options.seed)
    _progress(f"rendering {len(plan)} instances")
    began = time.perf_counter()
    template = load_template()
    blobs = [render(template, item) for item in plan]
    result.render_seconds = time.perf_counter() - began
    result.instance_bytes = len(blobs[0])
    bodies = list(batches(blobs, options.batch))
    with contextlib.ExitStack() as servers:
        medsight = _start_medsight(servers, workdir / "medsight", result, {**MEDSIGHT_ENV, **(env or {})})
        with contextlib.ExitStack() as orthanc_stack:  # Orthanc stops before the medsight-only phases
            orthanc = _start_orthanc(orthanc_stack, workdir / "orthanc", result)
            targets = [t for t in (medsight, orthanc) if t is not None and _answers(t, result)]
            try:
                if targets:
                    _dicomweb_phases(result, targets, plan, bodies)
            except (ServiceError, httpx.HTTPError) as exc:  # reported; the other sections still count
                result.left_out["the DICOMweb phases"] = f"stopped: {type(exc).__name__}: {exc}"
        if _ingest_missed(result):
            _progress("STOW-RS missed its target: profiling Store.ingest in this process")
            result.diagnosis = diagnose_ingest(workdir / "diagnosis", batch=options.batch, seed=options.seed)
        if medsight is not None and "medsight" not in result.left_out:
            _medsight_phases(result, medsight, workdir, plan, shared)
    result.load["end"] = os.getloadavg()
    result.seconds = time.perf_counter() - started
    result.cpu = watch.stop(result.seconds)  # the servers have exited: their CPU time is counted
    return result


def _ingest_missed(result: ServiceResult) -> bool:
    ours, theirs = result.ingest.get("medsight"), result.ingest.get("Orthanc")
    return ours is not None and theirs is not None and ours.per_second < theirs.per_second


def _progress(message: str) -> None:
    print(f"[benchmarks] service: {message}", file=sys.stderr, flush=True)


def _start_medsight(
    stack: contextlib.ExitStack, folder: Path, result: ServiceResult, env: dict[str, str] | None
) -> Target | None:
    _progress("starting medsight serve")
    try:
        target = stack.enter_context(medsight_server(folder, env))
    except Exception as exc:  # reported in the section instead of failing the whole bench
        result.left_out["medsight"] = f"did not start: {exc}"
        return None
    result.versions["medsight"] = _medsight_version()
    return target


def _start_orthanc(stack: contextlib.ExitStack, folder: Path, result: ServiceResult) -> Target | None:
    _progress("starting Orthanc")
    try:
        result.orthanc_note = ensure_orthanc()
        target, version = stack.enter_context(orthanc_server(folder))
    except Exception as exc:  # reported in the section instead of failing the whole bench
        result.left_out["Orthanc"] = f"not available: {exc}"
        return None
    result.versions["Orthanc"] = version
    return target


def _answers(target: Target, result: ServiceResult) -> bool:
    """Whether QIDO-RS answers on ``target``; the reason is recorded when it does not."""
    with DicomWebClient(target) as client:
        try:
            client.qido(Query("probe", "/studies", (("limit", "1"),)))
        except (ServiceError, OSError) as exc:
            result.left_out[target.name] = f"DICOMweb does not answer: {exc}"
            return False
    return True


def _dicomweb_phases(
    result: ServiceResult, targets: list[Target], plan: list[Instance], bodies: list[list[bytes]]
) -> None:
    options = result.options
    names = [target.name for target in targets]
    clients = [DicomWebClient(target, connections=options.concurrency) for target in targets]
    try:
        _progress(f"STOW-RS: {len(plan)} instances into {', '.join(names)}")
        result.ingest = dict(
            zip(names, ingest(clients, bodies, concurrency=options.concurrency, rounds=options.rounds), strict=True)
        )
        _progress(f"QIDO-RS: {options.queries} queries")
        queries = qido_queries(plan, options.queries, seed=options.seed)
        result.query = dict(zip(names, query(clients, queries), strict=True))
        result.floor = dict(zip(names, floor(clients), strict=True))
        _progress(f"WADO-RS: {options.retrievals} studies and instances")
        paths = retrieval_paths(plan, options.retrievals)
        result.retrieval = dict(zip(names, retrieve(clients, paths), strict=True))
    finally:
        for client in clients:
            client.close()


def _medsight_phases(
    result: ServiceResult, target: Target, workdir: Path, plan: list[Instance], shared: Path | None
) -> None:
    options = result.options
    _progress(f"analysis jobs: {options.jobs} with {options.job_clients} clients")
    try:
        result.jobs = _jobs(target, workdir, options, shared)
    except (JobsUnavailableError, ServiceError, OSError, TimeoutError) as exc:
        result.jobs = f"{type(exc).__name__}: {exc}"
    _progress(f"memory: {options.memory_s:.0f} s of mixed load")
    studies = retrieval_paths(plan, max(1, options.retrievals))["whole study"]
    queries = qido_queries(plan, 70, seed=options.seed + 1)
    first_study = -(-len(plan) // result.layout.per_study)
    with DicomWebClient(target) as client:
        result.memory = mixed_load(
            client, target.pid, duration_s=options.memory_s, queries=queries, studies=studies, first_study=first_study
        )


def _jobs(target: Target, workdir: Path, options: ServiceOptions, shared: Path | None) -> JobsResult:
    studies, source = chest_studies(workdir / "cxr", options.jobs + 1, shared=shared, seed=options.seed)
    with DicomWebClient(target) as client:
        for _, blob in studies:
            client.stow([blob])
    uids = [uid for uid, _ in studies]
    run_jobs(target, uids[:1], clients=1)  # warm-up: the worker loads its model on the first job
    return run_jobs(target, uids[1:], clients=options.job_clients, source=source)


def _medsight_version() -> str:
    from importlib import metadata

    return metadata.version("medsight")
