"""Imaging-protocol recommendation (issue 10): recommendations per second on generated profiles.

10,000 profiles are drawn with a fixed seed over all indications: age 0.1-90 (pregnant
or not where it applies), findings from each indication's declared vocabulary (a share
left out, so some answers are ``needs_input``), smoking histories, eGFR, allergies and
implants. Each recommendation is the whole use case minus HTTP: validate the profile
(``parse_profile``), recommend, and render the JSON answer (``as_json``). Measured in
one process and in two worker processes (the target is per 2 cores); the knowledge base
is loaded once per process before the clock starts.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FULL_PROTOCOLS",
    "HEADING",
    "QUICK_PROTOCOLS",
    "ProtocolBench",
    "generate_profiles",
    "measure_protocols",
    "protocols_section",
    "protocols_targets",
]

HEADING = "## Imaging-protocol recommendation (issue 10): recommendations per second"
TARGET_PREFIX = "- protocol recommendations"
TARGET_PER_SECOND = 5000.0
FULL_PROTOCOLS = 10_000
QUICK_PROTOCOLS = 2_000


def generate_profiles(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` varied profiles over every indication (deterministic for a seed)."""
    from medsight.protocols import load_knowledge_base

    kb = load_knowledge_base()
    rng = random.Random(seed)
    codes = sorted(kb.indications)
    out = []
    for i in range(count):
        code = codes[i % len(codes)]
        sex = rng.choice(["female", "male", "female", "other"])
        age = round(rng.uniform(0.1, 90), 1) if rng.random() < 0.9 else round(rng.uniform(0.05, 2), 2)
        if code == "infant_hip_dysplasia":
            age = round(rng.uniform(0.02, 1.5), 2)
        profile: dict[str, Any] = {"age": age, "sex": sex, "indication": code}
        if sex != "male" and 15 <= age <= 45 and rng.random() < 0.8:
            profile["pregnant"] = rng.random() < 0.3
        findings: dict[str, Any] = {}
        for name, spec in kb.indications[code].findings.items():
            if rng.random() < 0.1:
                continue  # left out: some answers name the missing field
            if spec.type == "number":
                findings[name] = round(rng.uniform(spec.min or 0, min(spec.max or 100, 100)), 1)
            elif spec.type == "boolean":
                findings[name] = rng.random() < 0.3
            elif spec.type == "code":
                findings[name] = rng.choice(spec.values or [])
            else:
                findings[name] = rng.sample(spec.values or [], k=rng.randint(0, min(2, len(spec.values or []))))
        profile["findings"] = findings
        if age >= 18 and rng.random() < 0.5:
            quit_years = None if rng.random() < 0.5 else rng.randint(0, int(min(30, age - 15)))
            profile["smoking"] = {"pack_years": rng.randint(1, 60), "years_since_quit": quit_years}
            if rng.random() < 0.5:
                profile["smoking"]["years_smoked"] = rng.randint(1, max(1, int(age - 12 - (quit_years or 0))))
        if rng.random() < 0.6:
            profile["egfr"] = rng.randint(10, 120)
        if rng.random() < 0.1:
            profile["contrast_allergy"] = ["iodinated"]
        if rng.random() < 0.1:
            profile["implants"] = [{"type": "device", "mri_status": rng.choice(["safe", "conditional", "unsafe"])}]
        if rng.random() < 0.2:
            profile["family_history"] = [rng.choice(["brca1", "first_degree_lung_cancer", "lynch_syndrome"])]
        out.append(profile)
    return out


def _run(profiles: list[dict[str, Any]]) -> tuple[float, int, int]:
    """Recommend for every profile in this process: (seconds, answered ok, rejected)."""
    from medsight.errors import ProfileError
    from medsight.protocols import load_knowledge_base, parse_profile, recommend

    load_knowledge_base()  # loaded before the clock, as a server does at its first request
    ok = rejected = 0
    started = time.perf_counter()
    for data in profiles:
        try:
            answer = recommend(parse_profile(data)).as_json()
        except ProfileError:
            rejected += 1
            continue
        ok += answer["status"] == "ok"
    return time.perf_counter() - started, ok, rejected


@dataclass(frozen=True)
class ProtocolBench:
    profiles: int
    one_process_s: float
    two_process_s: float
    ok: int
    rejected: int
    load_average: float  # 1-minute load average when the run started: other work on the cores

    def per_second(self, seconds: float) -> float:
        return self.profiles / seconds if seconds else 0.0


def measure_protocols(count: int = FULL_PROTOCOLS) -> ProtocolBench:
    """Time ``count`` recommendations in one process, then split over two processes."""
    profiles = generate_profiles(count)
    load = os.getloadavg()[0]
    one, ok, rejected = _run(profiles)
    halves = [profiles[0::2], profiles[1::2]]
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_run, [profiles[:50], profiles[50:100]]))  # start the workers and load the rules
        started = time.perf_counter()
        list(pool.map(_run, halves))
        two = time.perf_counter() - started
    return ProtocolBench(count, one, two, ok, rejected, load)


def protocols_targets(bench: ProtocolBench) -> list[str]:
    rate = bench.per_second(bench.two_process_s)
    verdict = "PASS" if rate >= TARGET_PER_SECOND else "FAIL"
    return [f"{TARGET_PREFIX}: {rate:,.0f}/s on 2 processes (target >= {TARGET_PER_SECOND:,.0f}/s): {verdict}"]


def protocols_section(bench: ProtocolBench, command: str) -> str:
    """The report section."""
    needs = bench.profiles - bench.ok - bench.rejected
    lines = [
        f"{HEADING}\n",
        f"`{command}`; {bench.profiles:,} generated profiles (seed 0) over all indications; each is validated,"
        f" recommended and rendered as JSON (no HTTP). {bench.ok:,} answered with recommendations, {needs:,}"
        f" named a missing field, {bench.rejected:,} were refused as contradictory. {os.cpu_count()} CPUs"
        f" visible, 1-minute load average {bench.load_average:.1f} when the run started (two processes only"
        " gain where a core is free); see `benchmarks/protocols.py`.\n",
        "| processes | seconds | recommendations/s | wall time per recommendation |",
        "|---:|---:|---:|---:|",
    ]
    for processes, seconds in ((1, bench.one_process_s), (2, bench.two_process_s)):
        rate = bench.per_second(seconds)
        lines.append(f"| {processes} | {seconds:.2f} | {rate:,.0f} | {1e6 / rate if rate else 0:.0f} µs |")
    lines += ["", *protocols_targets(bench)]
    return "\n".join(lines) + "\n"
