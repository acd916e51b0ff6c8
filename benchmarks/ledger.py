"""The verifiable ledger (issue 9): appends, proofs and full verification on SQLite.

One SQLite database in the service's configuration (WAL, ``synchronous=FULL``), the
ledger tables migrated as the service migrates them. Entries are appended the way the
sequencer does it, in batches of 1,000 (one transaction and one signed head per batch),
up to each measured size; at each size, inclusion and consistency proofs for random
leaves are generated from the database (one read session, each proof its own ``IN``
query) and verified, and their sizes recorded. Then the whole log is verified as
``medsight ledger verify`` does (every entry decoded, every leaf and node recomputed and
compared, every head's signature and root checked). For context, appends of one entry
per transaction (as a request records its event) are timed too.

Targets: >= 5,000 appends/s batched; proofs in <= 1 ms at 10^6 entries; verify of 10^6
entries in <= 60 s on 2 cores.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import sessionmaker

from medsight.ledger import Entry, EventType, Log, Signer, verify_log
from medsight.ledger.hashing import leaf_hash
from medsight.ledger.proofs import verify_consistency, verify_inclusion
from medsight.store.database import make_engine
from medsight.store.ledger import LedgerTables
from medsight.store.migrate import upgrade

__all__ = ["FULL_LEDGER", "QUICK_LEDGER", "LedgerBench", "ledger_section", "ledger_targets", "measure_ledger"]

HEADING = "## Verifiable ledger (issue 9): appends, proofs and full verification on SQLite"
TARGET_PREFIX = "- ledger"
APPEND_TARGET = 5000.0
PROOF_TARGET_MS = 1.0
VERIFY_TARGET_S = 60.0
_BATCH = 1000
_PROOFS = 500


@dataclass(frozen=True)
class LedgerEffort:
    sizes: tuple[int, ...]


QUICK_LEDGER = LedgerEffort(sizes=(1_000, 10_000))
FULL_LEDGER = LedgerEffort(sizes=(1_000, 100_000, 1_000_000))


@dataclass
class ProofTimes:
    size: int
    inclusion_gen_ms: list[float] = field(default_factory=list)
    inclusion_verify_ms: list[float] = field(default_factory=list)
    inclusion_bytes: list[int] = field(default_factory=list)
    consistency_gen_ms: list[float] = field(default_factory=list)
    consistency_verify_ms: list[float] = field(default_factory=list)
    consistency_bytes: list[int] = field(default_factory=list)


@dataclass
class LedgerBench:
    entries: int = 0
    append_s: float = 0.0
    single_rate: float = 0.0
    verify_s: float = 0.0
    verify_ok: bool = False
    database_mb: float = 0.0
    load: str = ""
    proofs: list[ProofTimes] = field(default_factory=list)

    @property
    def append_rate(self) -> float:
        return self.entries / self.append_s if self.append_s else 0.0


def _entries(start: int, count: int) -> list[Entry]:
    base = 1_764_000_000_000
    kinds = list(EventType)
    return [
        Entry(kinds[i % len(kinds)], f"user:reader{i % 97}", f"sha256:{i:064x}", base + i)
        for i in range(start, start + count)
    ]


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _proofs(tables: LedgerTables, size: int, rng: random.Random) -> ProofTimes:
    times = ProofTimes(size)
    with tables.reading() as storage:
        log = Log(storage)
        root = log.root(size)
        leaves = {i: leaf_hash(storage.entry(i) or b"") for i in rng.sample(range(size), min(_PROOFS, size))}
        for index, leaf in leaves.items():
            started = time.perf_counter()
            proof = log.inclusion_proof(index, size)
            generated = time.perf_counter()
            ok = verify_inclusion(index, size, leaf, proof, root)
            times.inclusion_gen_ms.append(_ms(generated - started))
            times.inclusion_verify_ms.append(_ms(time.perf_counter() - generated))
            times.inclusion_bytes.append(32 * len(proof))
            if not ok:
                raise AssertionError(f"inclusion proof of {index} at {size} did not verify")
        for old in rng.sample(range(1, size), min(_PROOFS // 5, size - 1)):
            old_root = log.root(old)
            started = time.perf_counter()
            proof = log.consistency_proof(old, size)
            generated = time.perf_counter()
            ok = verify_consistency(old, size, old_root, root, proof)
            times.consistency_gen_ms.append(_ms(generated - started))
            times.consistency_verify_ms.append(_ms(time.perf_counter() - generated))
            times.consistency_bytes.append(32 * len(proof))
            if not ok:
                raise AssertionError(f"consistency proof {old} -> {size} did not verify")
    return times


def measure_ledger(workdir: Path, effort: LedgerEffort = FULL_LEDGER, progress=print) -> LedgerBench:  # type: ignore[no-untyped-def]
    """Fill a ledger up to each size, measure proofs there, then verify the whole log."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "ledger.db"
    engine = make_engine(f"sqlite+pysqlite:///{database}")
    upgrade(engine)
    tables = LedgerTables(sessionmaker(engine, expire_on_commit=False))
    signer = Signer(Ed25519PrivateKey.generate())
    rng = random.Random(9)
    bench = LedgerBench(load=", ".join(f"{value:.1f}" for value in os.getloadavg()))
    try:
        for size in effort.sizes:
            started = time.perf_counter()
            while bench.entries < size:
                count = min(_BATCH, size - bench.entries)
                with tables.writing() as storage:
                    Log(storage, signer).append(_entries(bench.entries, count))
                bench.entries += count
            bench.append_s += time.perf_counter() - started
            progress(f"ledger: {bench.entries:,} entries ({bench.append_rate:,.0f}/s so far); proofs")
            bench.proofs.append(_proofs(tables, size, rng))
        progress(f"ledger: verifying {bench.entries:,} entries")
        with tables.reading() as storage:
            started = time.perf_counter()
            report = verify_log(storage, signer.public)
            bench.verify_s = time.perf_counter() - started
        bench.verify_ok = report.ok
        started = time.perf_counter()
        single = 0
        while time.perf_counter() - started < 3.0:
            with tables.writing() as storage:
                Log(storage, signer).append(_entries(bench.entries + single, 1))
            single += 1
        bench.single_rate = single / (time.perf_counter() - started)
        bench.database_mb = database.stat().st_size / 1e6
    finally:
        engine.dispose()
    return bench


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def ledger_targets(bench: LedgerBench) -> list[str]:
    """The target lines for the summary."""
    largest = bench.proofs[-1] if bench.proofs else ProofTimes(0)
    # Judged on the median: on a shared 2-core machine the p99 is the scheduler's time slice (4-8 ms
    # stalls show up in an empty Python loop too); the table reports the p99 beside it.
    gen = max(_p(largest.inclusion_gen_ms, 0.5), _p(largest.consistency_gen_ms, 0.5))
    check = max(_p(largest.inclusion_verify_ms, 0.5), _p(largest.consistency_verify_ms, 0.5))
    worst = max(gen, check)

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    return [
        f"{TARGET_PREFIX} appends: {bench.append_rate:,.0f} entries/s batched (target >= {APPEND_TARGET:,.0f}): "
        f"{verdict(bench.append_rate >= APPEND_TARGET)}",
        f"{TARGET_PREFIX} proofs at {largest.size:,} entries: median generation {gen:.3f} ms, median verification "
        f"{check:.3f} ms (target <= {PROOF_TARGET_MS} ms): {verdict(worst <= PROOF_TARGET_MS)}",
        f"{TARGET_PREFIX} full verify of {bench.entries:,} entries: {bench.verify_s:.1f} s (target <= "
        f"{VERIFY_TARGET_S:.0f} s): {verdict(bench.verify_ok and bench.verify_s <= VERIFY_TARGET_S)}",
    ]


def ledger_section(bench: LedgerBench, command: str) -> str:
    """The report section."""
    lines = [
        f"{HEADING}\n",
        f"`{command}`; SQLite (WAL, synchronous=FULL) on the local disk, batches of {_BATCH:,} entries (one "
        f"transaction and one Ed25519-signed head each); {_PROOFS} random inclusion proofs and {_PROOFS // 5} "
        "consistency proofs per size, each generated from the database and verified. See `benchmarks/ledger.py`.\n",
        "| entries | inclusion: generate p50 / p99 ms | verify p50 / p99 ms | size bytes (max) "
        "| consistency: generate p50 / p99 ms | verify p50 / p99 ms | size bytes (max) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in bench.proofs:
        lines.append(
            f"| {t.size:,} | {statistics.median(t.inclusion_gen_ms):.3f} / {_p(t.inclusion_gen_ms, 0.99):.3f} "
            f"| {statistics.median(t.inclusion_verify_ms):.3f} / {_p(t.inclusion_verify_ms, 0.99):.3f} "
            f"| {max(t.inclusion_bytes)} "
            f"| {statistics.median(t.consistency_gen_ms):.3f} / {_p(t.consistency_gen_ms, 0.99):.3f} "
            f"| {statistics.median(t.consistency_verify_ms):.3f} / {_p(t.consistency_verify_ms, 0.99):.3f} "
            f"| {max(t.consistency_bytes)} |"
        )
    lines += [
        "",
        f"Appends: {bench.entries:,} entries in {bench.append_s:.1f} s, {bench.append_rate:,.0f} entries/s batched; "
        f"one entry per transaction (as one request records its event, each commit fsynced): "
        f"{bench.single_rate:,.0f} entries/s. Full verification: {bench.verify_s:.1f} s "
        f"({'intact' if bench.verify_ok else 'FAILED'}), one thread. Database: {bench.database_mb:,.0f} MB. "
        f"Load average at start: {bench.load} on {os.cpu_count()} cores (other work shared the machine; "
        "the p99 columns include its scheduling stalls).",
        "",
        *ledger_targets(bench),
    ]
    return "\n".join(lines) + "\n"
