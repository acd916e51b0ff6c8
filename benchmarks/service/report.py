"""BENCHMARKS.md section 4 (the service) and its lines in the Targets summary.

Every ratio is written as medsight's speed over Orthanc's, so > 1 always means medsight
is faster: rates (instances/s, MB/s) are medsight / Orthanc, latencies are
Orthanc / medsight.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from benchmarks.service.measure import ServiceResult
from benchmarks.service.memory import MemoryResult
from benchmarks.service.phases import QUERY_WARMUP
from benchmarks.service.stats import Percentiles

__all__ = ["HEADING", "SERVICE_TARGET_PREFIX", "service_section", "service_targets"]

HEADING = "## 4. Service (issue 4): DICOMweb against Orthanc, analysis jobs, memory"
SERVICE_TARGET_PREFIX = "- service"
INGEST_TARGET = QUERY_TARGET = 1.0
MEMORY_TOLERANCE = 0.10
_MIB = 1024 * 1024
_OURS, _THEIRS = "medsight", "Orthanc"
_CAVEATS = (
    "Caveats: client and servers share the machine's cores, so the client's own CPU time"
    " (multipart encoding, JSON parsing) slows both servers alike; timings on a shared"
    " machine are noisy, and the alternating order spreads that noise over both servers.\n"
)


def service_section(result: ServiceResult, command: str, date: str, note: str = "") -> str:
    """The whole section, markdown."""
    parts = [_intro(result, command, date, note), _comparison(result), _per_kind(result)]
    parts += [_diagnosis(result), _jobs(result), _memory(result), _CAVEATS]
    return "\n".join(part for part in parts if part)


def service_targets(result: ServiceResult) -> list[str]:
    """One line per service target for the summary (each starts with ``- service``)."""
    lines = []
    ingest = _ingest_ratio(result)
    lines.append(_target_line("STOW-RS ingest, medsight / Orthanc instances/s", ingest, INGEST_TARGET))
    query = _query_ratio(result, "p50")
    lines.append(_target_line("QIDO-RS p50, Orthanc / medsight latency", query, QUERY_TARGET))
    query99 = _query_ratio(result, "p99")
    lines.append(_target_line("QIDO-RS p99, Orthanc / medsight latency", query99, QUERY_TARGET))
    memory = result.memory
    if isinstance(memory, MemoryResult) and len(memory.samples) > 1:
        _, _, ratio = memory.window_medians()
        passed = abs(ratio - 1) <= MEMORY_TOLERANCE
        lines.append(
            f"{SERVICE_TARGET_PREFIX} memory over {_duration(memory.duration_s)} of mixed load: median RSS"
            f" of the last / first {_duration(memory.window_s)} {ratio:.3f}"
            f" (target within {MEMORY_TOLERANCE:.0%}: {_verdict(passed)})"
        )
    else:
        lines.append(f"{SERVICE_TARGET_PREFIX} memory: not measured ({memory})")
    return lines


def _target_line(label: str, ratio: float | None, target: float) -> str:
    if ratio is None:
        return f"{SERVICE_TARGET_PREFIX} {label}: not measured (see section 4)"
    return f"{SERVICE_TARGET_PREFIX} {label}: {ratio:.2f} (target >= {target}: {_verdict(ratio >= target)})"


def _intro(result: ServiceResult, command: str, date: str, note: str) -> str:
    options, layout = result.options, result.layout
    versions = "; ".join(f"{name} {version}" for name, version in result.versions.items())
    start, end = (", ".join(f"{v:.2f}" for v in result.load.get(key, ())) for key in ("start", "end"))
    lines = [
        f"{HEADING}\n",
        f"Measured {date} UTC by `{command}` ({result.seconds / 60:.1f} min);"
        f" os.cpu_count() = {os.cpu_count()}; load average at start {start}, at end {end}."
        + _cpu_sentence(result)
        + (f" {note}" if note else ""),
        "",
        f"Servers: {versions}. {result.orthanc_note} Both on 127.0.0.1, started by the bench with a"
        " fresh temporary folder each: medsight `medsight serve` (SQLite, admin bearer token);"
        " Orthanc with only its DICOMweb plugin (root `/dicom-web/`), no authentication,"
        " storage and index in the folder, other settings at their defaults. Durability differs:"
        " medsight fsyncs each object file and its folder and commits the rows of one STOW-RS"
        " request in one transaction with SQLite `synchronous=FULL` (a WAL sync per commit);"
        " Orthanc fdatasyncs each file (`SyncStorageArea`, default true) and runs SQLite in WAL with"
        " `synchronous=NORMAL` (no sync per commit).",
        "",
        f"Workload: {options.instances:,} distinct instances made from pydicom's `CT_small.dcm`"
        f" ({result.instance_bytes / 1e3:.1f} KB each, rendered in {result.render_seconds:.1f} s before"
        f" any timing) with fresh UIDs: {layout.studies_per_patient} studies per patient,"
        f" {layout.series_per_study} series per study (modalities CT with MR, PT or SR),"
        f" {layout.instances_per_series} instances per series, study dates over 6 years. One client"
        " for both servers (`benchmarks/service/client.py`, httpx, keep-alive, `Accept-Encoding:"
        " identity`; QIDO parameters sent with `*`, `?`, `^` unescaped, which Orthanc 1.10 needs)."
        f" STOW-RS: {options.batch} instances per multipart/related request, {options.concurrency}"
        f" requests in flight, {options.rounds} rounds with the servers taking turns; QIDO-RS:"
        f" {options.queries} single queries after {QUERY_WARMUP} warm-up ones, each"
        f" on both servers before the next; WADO-RS: {options.retrievals} whole studies and"
        f" {options.retrievals} single instances (multipart/related application/dicom), the same way."
        " Latencies are single requests, p50 and p99 by nearest rank.",
        "",
    ]
    lines += [f"**{name} left out**: {why}\n" for name, why in result.left_out.items()]
    return "\n".join(lines)


def _cpu_sentence(result: ServiceResult) -> str:
    cpu = result.cpu
    if cpu is None:
        return ""
    return (
        f" CPU over the run: the machine was busy {cpu.machine_s:.0f} core-seconds, this bench and its"
        f" servers {cpu.bench_s:.0f}; other processes {cpu.others_s:.0f} ({cpu.others_fraction:.0%} of"
        f" {cpu.cores} cores x {cpu.wall_s:.0f} s)."
    )


def _comparison(result: ServiceResult) -> str:
    if _OURS not in result.ingest or _THEIRS not in result.ingest:
        return ""
    ours, theirs = result.ingest[_OURS], result.ingest[_THEIRS]
    rows = [
        ("STOW-RS ingest, instances/s", "higher", ours.per_second, theirs.per_second, "{:.0f}"),
        ("QIDO-RS p50, ms (all kinds)", "lower", *_query_ms(result, "p50"), "{:.1f}"),
        ("QIDO-RS p99, ms (all kinds)", "lower", *_query_ms(result, "p99"), "{:.1f}"),
    ]
    if _OURS in result.floor and _THEIRS in result.floor:
        floors = (result.floor[_OURS].p50 * 1e3, result.floor[_THEIRS].p50 * 1e3)
        rows.append(("empty request p50, ms (medsight /health, Orthanc /system)", "lower", *floors, "{:.2f}"))
    for ours_r, theirs_r in zip(result.retrieval[_OURS], result.retrieval[_THEIRS], strict=True):
        rows.append((f"WADO-RS {ours_r.kind}, MB/s", "higher", ours_r.mb_per_second, theirs_r.mb_per_second, "{:.1f}"))
    lines = [
        "| measure | better | medsight | Orthanc | medsight speed / Orthanc speed | target |",
        "|---|---|---:|---:|---:|---|",
    ]
    for label, better, mine, other, fmt in rows:
        ratio = mine / other if better == "higher" else other / mine
        target = "-"
        if label.startswith("STOW"):
            target = f">= {INGEST_TARGET}: {_verdict(ratio >= INGEST_TARGET)}"
        elif label.startswith("QIDO"):
            target = f">= {QUERY_TARGET}: {_verdict(ratio >= QUERY_TARGET)}"
        lines.append(f"| {label} | {better} | {fmt.format(mine)} | {fmt.format(other)} | {ratio:.2f} | {target} |")
    lines.append(
        "\nThe ratio column is always medsight's speed over Orthanc's (> 1: medsight faster):"
        " medsight / Orthanc for rates, Orthanc / medsight for latencies."
    )
    return "\n".join(lines) + "\n"


def _per_kind(result: ServiceResult) -> str:
    if _OURS not in result.query or _THEIRS not in result.query:
        return ""
    ours, theirs = result.query[_OURS], result.query[_THEIRS]
    lines = [
        "QIDO-RS per query kind (ms):\n",
        "| query | n | medsight p50 | medsight p99 | Orthanc p50 | Orthanc p99 | Orthanc / medsight p50 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, mine in ours.by_kind.items():
        other = theirs.by_kind[kind]
        lines.append(
            f"| {kind} | {mine.count} | {_ms(mine.p50)} | {_ms(mine.p99)} | {_ms(other.p50)} | {_ms(other.p99)}"
            f" | {other.p50 / mine.p50:.2f} |"
        )
    lines.append("\nWADO-RS per request:\n")
    lines.append("| retrieval | requests | server | MB | p50 ms | p99 ms | MB/s |")
    lines.append("|---|---:|---|---:|---:|---:|---:|")
    for name, retrievals in result.retrieval.items():
        for r in retrievals:
            lines.append(
                f"| {r.kind} | {r.requests} | {name} | {r.bytes / 1e6:.1f} | {_ms(r.latency.p50)}"
                f" | {_ms(r.latency.p99)} | {r.mb_per_second:.1f} |"
            )
    mismatches = ours.mismatches
    if mismatches:
        lines.append(f"\n**The servers disagreed on the number of matches of {len(mismatches)} queries**:\n")
        lines += [f"- {item}" for item in mismatches[:10]]
    else:
        lines.append("\nBoth servers returned the same number of matches for every query.")
    return "\n".join(lines) + "\n"


def _diagnosis(result: ServiceResult) -> str:
    diagnosis = result.diagnosis
    if diagnosis is None:
        return ""
    server = result.ingest[_OURS].per_second
    in_flight = result.options.concurrency
    return (
        "### Where medsight's STOW-RS time goes (ingest missed its target)\n\n"
        "The store in the bench's own process, stored as STOW-RS stores a request (`Store.prepare` per"
        f" part, `Store.ingest_prepared` per {result.options.batch}), one request after another, no HTTP:"
        f" {diagnosis.per_second:.0f} instances/s over {diagnosis.timed} fresh instances, against"
        f" {server:.0f}/s through the server with {in_flight} requests in flight. Profile of more:\n\n"
        f"<details><summary>cProfile of Store.ingest_prepared</summary>\n\n{diagnosis.profile}\n\n</details>\n"
    )


def _jobs(result: ServiceResult) -> str:
    jobs = result.jobs
    head = "### Analysis jobs end to end (medsight only; Orthanc has none)\n"
    if isinstance(jobs, str):
        return f"{head}\nNot measured: {jobs}\n"
    statuses = ", ".join(f"{count} {status}" for status, count in sorted(jobs.statuses.items()))
    return (
        f"{head}\n{jobs.jobs} jobs (`task: cxr-pneumonia`), one per one-image chest DX study stored"
        f" beforehand ({jobs.source}), each with its own pixels; {jobs.clients} clients at once, each posting"
        " `/api/v1/analyses` and polling every 20 ms until a final status. Latency: post to the"
        " poll that saw it (late by up to 20 ms); one untimed job first (the worker loads its model)."
        " medsight runs with its defaults (one analysis"
        " worker thread) and `MEDSIGHT_AUTO_ANALYZE=false`, so that no job starts before its post.\n\n"
        "| jobs | clients | jobs/s | p50 ms | p99 ms | statuses |\n|---:|---:|---:|---:|---:|---|\n"
        f"| {jobs.jobs} | {jobs.clients} | {jobs.per_second:.2f} | {_ms(jobs.latency.p50)}"
        f" | {_ms(jobs.latency.p99)} | {statuses} |\n"
    )


def _memory(result: ServiceResult) -> str:
    memory = result.memory
    head = "### medsight's memory under mixed load\n"
    if isinstance(memory, str) or len(memory.samples) < 2:
        return f"{head}\nNot measured: {memory}\n"
    first, last, ratio = memory.window_medians()
    tree_first, tree_last, tree_ratio = memory.window_medians(tree=True)
    operations = ", ".join(f"{count:,} {name}" for name, count in memory.operations.items())
    lines = [
        head,
        f"{memory.duration_s:.0f} s of load by 2 client threads, each in a loop: one STOW-RS of 10 fresh"
        " instances, 3 QIDO-RS queries, one WADO-RS study; `VmRSS` of the server process read from"
        f" `/proc` every second ({len(memory.samples)} samples). Done: {operations}. Target: the"
        f" median of the last {memory.window_s:.0f} s within {MEMORY_TOLERANCE:.0%} of the median of"
        " the first.\n",
        "| process | first window MiB | last window MiB | last / first | target |",
        "|---|---:|---:|---:|---|",
        f"| server | {first / _MIB:.0f} | {last / _MIB:.0f} | {ratio:.3f}"
        f" | {_verdict(abs(ratio - 1) <= MEMORY_TOLERANCE)} |",
        f"| server and its children | {tree_first / _MIB:.0f} | {tree_last / _MIB:.0f} | {tree_ratio:.3f} | - |",
    ]
    lines.append("\nRSS over the run (MiB, one value per tenth of the run): " + _trace(memory.samples))
    lines += [f"\n**Load error**: {error}" for error in memory.errors]
    return "\n".join(lines) + "\n"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _trace(samples: Sequence[tuple[float, int]]) -> str:
    step = max(1, len(samples) // 10)
    return ", ".join(f"{value / _MIB:.0f}" for _, value in samples[::step])


def _query_ms(result: ServiceResult, which: str) -> tuple[float, float]:
    """medsight's and Orthanc's overall QIDO-RS latency, ms."""
    ours, theirs = (_pick(result.query[name].overall, which) * 1e3 for name in (_OURS, _THEIRS))
    return ours, theirs


def _query_ratio(result: ServiceResult, which: str) -> float | None:
    if _OURS not in result.query or _THEIRS not in result.query:
        return None
    ours, theirs = _query_ms(result, which)
    return theirs / ours


def _ingest_ratio(result: ServiceResult) -> float | None:
    if _OURS not in result.ingest or _THEIRS not in result.ingest:
        return None
    return result.ingest[_OURS].per_second / result.ingest[_THEIRS].per_second


def _pick(latency: Percentiles, which: str) -> float:
    return latency.p50 if which == "p50" else latency.p99


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def _verdict(passed: bool) -> str:
    return "pass" if passed else "**FAIL**"
