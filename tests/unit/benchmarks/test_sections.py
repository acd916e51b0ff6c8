"""Replacing one section of BENCHMARKS.md keeps every other byte."""

from __future__ import annotations

from benchmarks.sections import replace_lines, replace_section

DOCUMENT = """# Benchmarks

| a | b |

## 1. Decode

one

## 3. Models

three

## Targets

- decode: pass
- models: pass
- service old: FAIL

_Whole run: 10 s._
"""


def test_a_new_section_goes_before_the_targets() -> None:
    updated = replace_section(DOCUMENT, "## 4. Service\n\nfour\n")
    assert updated == DOCUMENT.replace("## Targets", "## 4. Service\n\nfour\n\n## Targets")


def test_a_section_of_the_same_number_is_replaced() -> None:
    once = replace_section(DOCUMENT, "## 4. Service\n\nfour\n")
    twice = replace_section(once, "## 4. Service (issue 4)\n\nFOUR\n")
    assert twice == DOCUMENT.replace("## Targets", "## 4. Service (issue 4)\n\nFOUR\n\n## Targets")


def test_a_section_goes_at_the_end_without_targets() -> None:
    assert replace_section("# B\n\n## 1. x\n\ny\n", "## 4. z\n") == "# B\n\n## 1. x\n\ny\n\n## 4. z\n\n"


def test_target_lines_are_replaced_in_place() -> None:
    updated = replace_lines(DOCUMENT, "## Targets", "- service", ["- service a: pass", "- service b: pass"])
    assert updated == DOCUMENT.replace("- service old: FAIL", "- service a: pass\n- service b: pass")


def test_target_lines_are_added_after_the_last_item() -> None:
    document = DOCUMENT.replace("- service old: FAIL\n", "")
    updated = replace_lines(document, "## Targets", "- service", ["- service a: pass"])
    assert updated == DOCUMENT.replace("- service old: FAIL", "- service a: pass")


def test_no_targets_section_leaves_the_document() -> None:
    assert replace_lines("# B\n", "## Targets", "- service", ["- service"]) == "# B\n"


def test_profiles_section_is_replaced_and_the_run_time_kept() -> None:
    from benchmarks.run import _replace_profiles

    document = (
        "# B\n\n## 1. Decode\n\nrows\n\n"
        "## Where the time goes (cases that missed a target)\n\nold\n\n_Whole run: 9 s._\n"
    )
    updated = _replace_profiles(document, "## Where the time goes\n\nNo target missed.\n")
    assert "old" not in updated
    assert updated.count("## Where the time goes") == 1
    assert updated.index("## 1. Decode") < updated.index("No target missed.") < updated.index("_Whole run: 9 s._")


def test_profiles_section_is_added_when_missing() -> None:
    from benchmarks.run import _replace_profiles

    updated = _replace_profiles("# B\n\n## 1. Decode\n\nrows\n", "## Where the time goes\n\nNo target missed.\n")
    assert updated.endswith("## Where the time goes\n\nNo target missed.\n")
    assert "rows" in updated
