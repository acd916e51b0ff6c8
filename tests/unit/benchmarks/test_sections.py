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
