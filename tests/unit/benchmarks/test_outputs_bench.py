"""The segmentation outputs benchmark's report (the measurement itself runs in make bench)."""

from __future__ import annotations

from benchmarks.dicom_outputs import HEADING, OutputsBench, OutputsRow, outputs_section, outputs_targets


def _bench(seconds: float) -> OutputsBench:
    timings = {k: (seconds / 4, seconds / 3) for k in ("seg", "sr", "nifti")} | {"all": (seconds, seconds * 1.2)}
    row = OutputsRow(
        "brain 256 x 256 x 30, 1 label", (30, 256, 256), 1, {"tumour": 32.9}, timings, 70_000, 9_900, 2_500
    )
    return OutputsBench([row])


def test_the_section_has_the_command_the_table_and_the_sizes() -> None:
    text = outputs_section(_bench(0.2), "python -m benchmarks.run --only segoutputs --out BENCHMARKS.md")
    assert text.startswith(HEADING)
    assert "`python -m benchmarks.run --only segoutputs --out BENCHMARKS.md`" in text
    assert "tumour 32.9 mL" in text
    assert "| 0.200 / 0.240 |" in text
    assert "68.4 / 9.7 / 2.4 KiB" in text


def test_the_target_line_says_pass_or_miss() -> None:
    assert outputs_targets(_bench(0.2))[0].endswith("PASS")
    assert outputs_targets(_bench(1.5))[0].endswith("MISS")
