"""The revision comparison's report: medians over rounds, the ratio, and its place in BENCHMARKS.md."""

from __future__ import annotations

from benchmarks.revisions import HEADING, SideResult, revisions_section
from benchmarks.sections import replace_section


def test_the_section_gives_each_sides_median_and_the_ratio() -> None:
    results = {
        "m": {"base": SideResult((100.0, 90.0, 110.0), "scored"), "current": SideResult((50.0, 60.0, 40.0), "scored")}
    }
    section = revisions_section(results, base="abc", current="def", command="python -m benchmarks.revisions", calls=9)
    row = next(line for line in section.splitlines() if line.startswith("| m |"))
    assert row.split(" | ")[1:4] == ["100.0", "50.0", "2.00"]
    assert "100.0, 90.0, 110.0" in row
    assert section.startswith(HEADING + "\n\n")
    document = "# B\n\n## 3. Models\n\nx\n\n## Targets\n\n- t\n"
    placed = replace_section(document, section)
    assert placed.index(HEADING) < placed.index("## Targets")
    assert replace_section(placed, section) == placed  # a second run replaces it


def test_a_changed_outcome_is_shown() -> None:
    results = {"m": {"base": SideResult((5.0,), "refused"), "current": SideResult((50.0,), "scored")}}
    section = revisions_section(results, base="a", current="b", command="c", calls=1)
    assert "refused / scored" in section
