"""The de-identification section renders its figures and targets (no tool is run)."""

from __future__ import annotations

from benchmarks.deid import DeidBench, ToolRun, deid_section, deid_targets


def _bench(ours_left: dict[str, int]) -> DeidBench:
    runs = [
        ToolRun("medsight", seconds=10.0, files=1000, left=ours_left),
        ToolRun("dicognito", seconds=50.0, files=1000, left={"Patient's Age (0010,1010)": 1000}, uncleaned_text=100),
        ToolRun("deid", seconds=200.0, files=1000, left={}, uncleaned_text=100),
    ]
    return DeidBench(files=1000, megabytes=70.0, runs=runs, searched=618)


def test_targets_pass_when_fast_and_clean() -> None:
    lines = deid_targets(_bench({}))
    assert "5.0x the faster baseline" in lines[0]
    assert lines[0].endswith("PASS")
    assert lines[1].endswith("PASS")


def test_residue_fails_the_target_and_is_listed() -> None:
    bench = _bench({"Patient ID (0010,0020)": 3})
    assert deid_targets(bench)[1].endswith("FAIL")
    section = deid_section(bench, "python -m benchmarks.run --only deid")
    assert "| Patient ID (0010,0020) | 3 |  |  |" in section
    assert "| medsight | 1000 | 10.0 | 100.0 | 7.00 | 1 of 618 | 0 |" in section
