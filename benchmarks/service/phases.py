"""The DICOMweb phases, each run on every server in turn so drift hits all alike.

* :func:`ingest`: STOW-RS batches, ``concurrency`` requests in flight, in rounds that
  alternate which server goes first; instances/s = instances / wall seconds of its rounds.
* :func:`query`: each QIDO-RS query on every server before the next query (order
  alternating), single requests, no concurrency; the match counts are compared.
* :func:`floor`: a request that does no work (medsight ``/health``, Orthanc ``/system``),
  what every request costs before the server does anything;
* :func:`retrieve`: WADO-RS of whole studies and of single instances, the same way;
  MB/s = response bytes (10^6) / seconds of the requests.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from benchmarks.service.client import DicomWebClient
from benchmarks.service.stats import Percentiles
from benchmarks.service.workload import Instance, Query

QUERY_WARMUP = 7  # one query of each kind, untimed, on every server

__all__ = [
    "QUERY_WARMUP",
    "IngestResult",
    "QueryResult",
    "RetrievalResult",
    "floor",
    "ingest",
    "query",
    "retrieval_paths",
    "retrieve",
]


@dataclass(frozen=True, slots=True)
class IngestResult:
    instances: int
    bytes: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.instances / self.seconds


def ingest(
    clients: Sequence[DicomWebClient], bodies: Sequence[list[bytes]], *, concurrency: int, rounds: int
) -> list[IngestResult]:
    """Send every batch of ``bodies`` to every server; one result per client."""
    seconds = [0.0] * len(clients)
    chunk = max(1, -(-len(bodies) // rounds))
    with ThreadPoolExecutor(concurrency) as pool:
        for number, start in enumerate(range(0, len(bodies), chunk)):
            part = bodies[start : start + chunk]
            for index in _turns(len(clients), number):
                began = time.perf_counter()
                list(pool.map(clients[index].stow, part))
                seconds[index] += time.perf_counter() - began
    count = sum(len(batch) for batch in bodies)
    size = sum(len(blob) for batch in bodies for blob in batch)
    return [IngestResult(instances=count, bytes=size, seconds=s) for s in seconds]


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Latencies per query kind and overall, and the queries whose match counts differed."""

    by_kind: dict[str, Percentiles]
    overall: Percentiles
    mismatches: tuple[str, ...]


def query(
    clients: Sequence[DicomWebClient], queries: Sequence[Query], *, warmup: int = QUERY_WARMUP
) -> list[QueryResult]:
    """Run every query on every server; one result per client."""
    for item in queries[:warmup]:
        for client in clients:
            client.qido(item)
    times: list[dict[str, list[float]]] = [defaultdict(list) for _ in clients]
    mismatches: list[str] = []
    for number, item in enumerate(queries):
        counts = [0] * len(clients)
        for index in _turns(len(clients), number):
            seconds, counts[index] = clients[index].qido(item)
            times[index][item.kind].append(seconds)
        if len(set(counts)) > 1:
            mismatches.append(f"{item.kind} {dict(item.params) or item.path}: {counts}")
    return [
        QueryResult(
            by_kind={kind: Percentiles.of(values) for kind, values in sorted(kinds.items())},
            overall=Percentiles.of([value for values in kinds.values() for value in values]),
            mismatches=tuple(mismatches),
        )
        for kinds in times
    ]


@dataclass(frozen=True, slots=True)
class RetrievalResult:
    kind: str
    requests: int
    bytes: int
    seconds: float
    latency: Percentiles

    @property
    def mb_per_second(self) -> float:
        return self.bytes / 1e6 / self.seconds


def retrieval_paths(instances: Sequence[Instance], count: int) -> dict[str, list[tuple[str, int]]]:
    """``count`` whole studies and ``count`` single instances spread over the plan: (path, parts)."""
    studies: dict[str, int] = defaultdict(int)
    for item in instances:
        studies[item.study_uid] += 1
    study_uids = list(studies)
    step_s = max(1, len(study_uids) // count)
    step_i = max(1, len(instances) // count)
    return {
        "whole study": [(f"/studies/{uid}", studies[uid]) for uid in study_uids[::step_s][:count]],
        "single instance": [
            (f"/studies/{i.study_uid}/series/{i.series_uid}/instances/{i.sop_uid}", 1)
            for i in instances[::step_i][:count]
        ],
    }


def retrieve(clients: Sequence[DicomWebClient], paths: dict[str, list[tuple[str, int]]]) -> list[list[RetrievalResult]]:
    """Every path of every kind from every server; per client, one result per kind."""
    results: list[list[RetrievalResult]] = [[] for _ in clients]
    for kind, items in paths.items():
        for client in clients:  # warm-up: first request on each server
            client.wado(items[0][0], parts=items[0][1])
        seconds: list[list[float]] = [[] for _ in clients]
        sizes = [0] * len(clients)
        for number, (path, parts) in enumerate(items):
            for index in _turns(len(clients), number):
                took, size = clients[index].wado(path, parts=parts)
                seconds[index].append(took)
                sizes[index] += size
        for index in range(len(clients)):
            results[index].append(
                RetrievalResult(kind, len(items), sizes[index], sum(seconds[index]), Percentiles.of(seconds[index]))
            )
    return results


def floor(clients: Sequence[DicomWebClient], *, calls: int = 200) -> list[Percentiles]:
    """Latency of a request that does no work on each server, taking turns (after 10 untimed)."""
    for client in clients:
        for _ in range(10):
            client.ping()
    seconds: list[list[float]] = [[] for _ in clients]
    for number in range(calls):
        for index in _turns(len(clients), number):
            seconds[index].append(clients[index].ping())
    return [Percentiles.of(values) for values in seconds]


def _turns(count: int, number: int) -> list[int]:
    """Client indexes in the order of turn ``number``: rotated by one each turn."""
    shift = number % count
    return [*range(shift, count), *range(shift)]
