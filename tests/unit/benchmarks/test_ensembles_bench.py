"""The ensemble benchmark times the shipped ensemble against one member, on a few calls."""

from __future__ import annotations

from pathlib import Path

from benchmarks.ensembles import ensembles_section, measure_ensembles


def test_the_section_compares_the_ensemble_with_one_member(tmp_path: Path) -> None:
    bench = measure_ensembles(tmp_path, None, calls=5)
    assert bench.members == 3
    names = [name for name, _, _ in bench.rows]
    assert names == ["model only, torch", "model only, ONNX Runtime", "Grad-CAM alone"]
    for _, ensemble, member in bench.rows:
        assert member is not None
        assert ensemble.calls == member.calls == 5
        assert ensemble.p50 > 0
        assert member.p50 > 0
    text = ensembles_section(bench, "python -m benchmarks.run --only ensembles")
    assert text.startswith("## Deep ensembles (issue 11)")
    assert "No ../shared/datasets/tb_cxr: end to end not measured" in text
    assert text.count("\n| ") == 1 + len(bench.rows)  # the header, then one row per stage
