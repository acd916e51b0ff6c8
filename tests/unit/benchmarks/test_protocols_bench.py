"""The protocol benchmark's generator and report, on a small batch."""

from __future__ import annotations

from benchmarks.protocols import generate_profiles, measure_protocols, protocols_section

from medsight.protocols import load_knowledge_base


def test_profiles_are_deterministic_and_cover_every_indication() -> None:
    first = generate_profiles(200)
    assert first == generate_profiles(200)
    assert {p["indication"] for p in first} == set(load_knowledge_base().indications)


def test_the_section_reports_both_rates_and_the_target() -> None:
    bench = measure_protocols(120)
    assert bench.ok > 0
    text = protocols_section(bench, "python -m benchmarks.run --only protocols")
    assert text.startswith("## Imaging-protocol recommendation")
    assert "| 2 |" in text
    assert "target >= 5,000/s" in text
