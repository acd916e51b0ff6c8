"""The service section renders from made-up figures, with ratios in the stated direction."""

from __future__ import annotations

from benchmarks.service.jobs import JobsResult
from benchmarks.service.measure import QUICK_SERVICE, ServiceResult
from benchmarks.service.memory import MemoryResult
from benchmarks.service.phases import IngestResult, QueryResult, RetrievalResult, _turns
from benchmarks.service.report import HEADING, service_section, service_targets
from benchmarks.service.stats import Percentiles
from benchmarks.service.workload import Layout


def _result() -> ServiceResult:
    def queries(ms: float) -> QueryResult:
        latency = Percentiles(p50=ms / 1e3, p99=2 * ms / 1e3, count=10)
        return QueryResult(by_kind={"studies: PatientID": latency}, overall=latency, mismatches=())

    def wado(mb_per_s: float) -> list[RetrievalResult]:
        return [RetrievalResult("whole study", 10, 10_000_000, 10 / mb_per_s, Percentiles(0.01, 0.02, 10))]

    memory = MemoryResult(
        duration_s=50,
        window_s=10,
        samples=tuple((float(t), 100 * 2**20 + t * 2**16) for t in range(50)),
        tree_samples=tuple((float(t), 100 * 2**20) for t in range(50)),
        operations={"STOW instances": 100, "QIDO": 30, "WADO studies": 10},
    )
    return ServiceResult(
        options=QUICK_SERVICE,
        layout=Layout(),
        instance_bytes=39_000,
        versions={"medsight": "0.1.0", "Orthanc": "1.10.1, DICOMweb plugin 1.7"},
        ingest={"medsight": IngestResult(600, 1, 2.0), "Orthanc": IngestResult(600, 1, 3.0)},
        query={"medsight": queries(5.0), "Orthanc": queries(10.0)},
        floor={"medsight": Percentiles(0.002, 0.004, 200), "Orthanc": Percentiles(0.0005, 0.001, 200)},
        retrieval={"medsight": wado(50.0), "Orthanc": wado(25.0)},
        jobs=JobsResult(jobs=16, seconds=4.0, latency=Percentiles(0.5, 1.0, 16), statuses={"done": 16}, clients=8),
        memory=memory,
    )


def test_section_renders_every_part() -> None:
    section = service_section(_result(), "python -m benchmarks.run --only service", "2026-01-01 00:00", "2 cores.")
    assert section.startswith(HEADING)
    assert "| STOW-RS ingest, instances/s | higher | 300 | 200 | 1.50 | >= 1.0: pass |" in section
    assert "| QIDO-RS p50, ms (all kinds) | lower | 5.0 | 10.0 | 2.00 | >= 1.0: pass |" in section
    assert "| empty request p50, ms (medsight /health, Orthanc /system) | lower | 2.00 | 0.50 | 0.25 | - |" in section
    assert "| WADO-RS whole study, MB/s | higher | 50.0 | 25.0 | 2.00 | - |" in section
    assert "| 16 | 8 | 4.00 | 500.0 | 1000.0 | 16 done |" in section
    assert "same number of matches" in section
    assert "2 cores." in section


def test_targets_state_the_direction() -> None:
    lines = service_targets(_result())
    assert lines[0] == "- service STOW-RS ingest, medsight / Orthanc instances/s: 1.50 (target >= 1.0: pass)"
    assert lines[1].startswith("- service QIDO-RS p50, Orthanc / medsight latency: 2.00")
    assert "within 10%: pass" in lines[3]


def test_a_missing_phase_is_reported_not_fatal() -> None:
    result = _result()
    result.jobs = "JobsUnavailableError: POST /api/v1/analyses answered 404"
    result.memory = "not run"
    result.ingest, result.query, result.retrieval = {}, {}, {}
    result.left_out = {"Orthanc": "not available: apt-get failed"}
    section = service_section(result, "cmd", "date")
    assert "Not measured: JobsUnavailableError" in section
    assert "**Orthanc left out**: not available" in section
    assert all("not measured" in line for line in service_targets(result))


def test_turns_rotate() -> None:
    assert [_turns(2, n) for n in range(3)] == [[0, 1], [1, 0], [0, 1]]
    assert _turns(1, 5) == [0]
