"""The reading worklist at scale: one page's query time with 20,000 studies, per sort and filter.

Studies, patients and finished jobs (two tasks a study, a chest film's tuberculosis and
pneumonia jobs) are inserted straight into the tables, with triage flags spread as the
shipped models would give them; then ``search_worklist`` fetches the first page (50
rows, with its total) by date, by priority, and with each flag filter. SQLite always;
PostgreSQL when ``MEDSIGHT_BENCH_POSTGRES_URL`` (default: the local test database) answers,
in a schema of its own, dropped afterwards. No target: the issue names none; this guards
the flags' queries against a plan that reads every study's jobs per row.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.exc import OperationalError

from benchmarks.timing import Latency
from medsight.settings import StoreSettings
from medsight.store import Store
from medsight.store.database import make_engine
from medsight.store.migrate import upgrade
from medsight.store.models import Job, Patient, Study
from medsight.store.worklist import WorklistFlag, WorklistQuery, WorklistSort, search_worklist

__all__ = ["WorklistBench", "measure_worklist", "worklist_section"]

POSTGRES_URL = os.environ.get("MEDSIGHT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_SCHEMA = "medsight_bench_worklist"
QUERIES = {
    "date (the default)": WorklistQuery(),
    "priority": WorklistQuery(sort=WorklistSort.PRIORITY),
    "flag=positive": WorklistQuery(flag=WorklistFlag.POSITIVE),
    "flag=uncertain": WorklistQuery(flag=WorklistFlag.UNCERTAIN),
    "flag=flagged": WorklistQuery(flag=WorklistFlag.FLAGGED),
}


@dataclass
class WorklistBench:
    """Page times and the studies matched, per backend and query."""

    studies: int
    repeats: int
    rows: dict[str, dict[str, tuple[Latency, int]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def measure_worklist(workdir: Path, *, studies: int = 20_000, repeats: int = 15) -> WorklistBench:
    """Fill each backend and time every query of :data:`QUERIES`."""
    bench = WorklistBench(studies, repeats)
    sqlite = Store.open(StoreSettings(data_dir=workdir / "sqlite"))
    try:
        bench.rows["SQLite"] = _measure(sqlite, studies, repeats)
    finally:
        sqlite.close()
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {_SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {_SCHEMA}"))
    except OperationalError:
        bench.notes.append("PostgreSQL did not answer: its rows are left out")
        return bench
    engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{_SCHEMA}")
    try:
        upgrade(engine)
        bench.rows["PostgreSQL"] = _measure(
            Store(engine, workdir / "pg-objects", max_object_bytes=1 << 20), studies, repeats
        )
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {_SCHEMA} CASCADE"))
        admin.dispose()
    return bench


def _measure(store: Store, studies: int, repeats: int) -> dict[str, tuple[Latency, int]]:
    _fill(store, studies)
    found: dict[str, tuple[Latency, int]] = {}
    for name, query in QUERIES.items():
        seconds, total = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            with store.sessions() as session:
                total = search_worklist(session, query).total
            seconds.append(time.perf_counter() - started)
        found[name] = (Latency.of(seconds), total)
    return found


def _fill(store: Store, studies: int) -> None:
    """Patients, studies and two finished jobs each; 40% positive, 8% uncertain (by index)."""
    now = datetime(2026, 11, 27, tzinfo=UTC)
    patients = [
        {"pk": i + 1, "patient_id": f"P{i}", "issuer_of_patient_id": "", "patient_name": f"P^{i}"}
        for i in range(studies)
    ]
    rows = [
        {
            "pk": i + 1,
            "patient_pk": i + 1,
            "study_instance_uid": f"2.25.{i}",
            "study_date": f"2026{i % 12 + 1:02d}{i % 28 + 1:02d}",
        }
        for i in range(studies)
    ]
    jobs: list[dict[str, Any]] = []
    for i in range(studies):
        for t, task in enumerate(("cxr-tuberculosis", "cxr-pneumonia")):
            probability = ((i * 7 + t) % 10) / 10
            jobs.append(
                {
                    "job_id": f"j{i}-{t}",
                    "key": f"k{i}-{t}",
                    "task": task,
                    "model_name": "m",
                    "model_version": "1",
                    "model_sha256": "0" * 64,
                    "study_instance_uid": f"2.25.{i}",
                    "inputs": "[]",
                    "requested_by": "bench",
                    "status": "done",
                    "attempts": 1,
                    "created_at": now,
                    "result": json.dumps({"probability": probability, "threshold": 0.5}),
                    "positive": probability >= 0.5,
                    "uncertain": i % 13 == 0,
                }
            )
    with store.engine.begin() as connection:
        connection.execute(insert(Patient), patients)
        connection.execute(insert(Study), rows)
        connection.execute(insert(Job), jobs)


def worklist_section(bench: WorklistBench, command: str) -> str:
    """The BENCHMARKS.md section."""
    lines = [
        "## Worklist at scale (triage flags)",
        "",
        f"`{command}`. {bench.studies:,} studies with two finished jobs each, inserted into the tables; "
        f"the first page (50 rows and the total) by `search_worklist`, {bench.repeats} times per query, p50 / p95. "
        "The flags read each study's newest job per task (correlated EXISTS on `ix_jobs_study_task_pk`). "
        "No target.",
        "",
        "| query | " + " | ".join(f"{backend} p50 / p95 (ms)" for backend in bench.rows) + " | studies matched |",
        "|---|" + "---|" * len(bench.rows) + "---|",
    ]
    for name in QUERIES:
        cells = [f"{rows[name][0].p50 * 1e3:.1f} / {rows[name][0].p95 * 1e3:.1f}" for rows in bench.rows.values()]
        total = next(iter(bench.rows.values()))[name][1] if bench.rows else 0
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {total:,} |")
    lines += [f"\nNote: {note}" for note in bench.notes]
    return "\n".join(lines) + "\n"
