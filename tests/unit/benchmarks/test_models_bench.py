"""Smoke test of the model benchmarks on the tiny bundle: every table renders, every
figure is positive, and the reference is reported absent rather than failing the bench."""

from __future__ import annotations

from pathlib import Path

from benchmarks.models import Effort, measure_models
from benchmarks.models_report import models_section, models_targets

TINY_EFFORT = Effort(calls=3, e2e_calls=2, rounds=1, min_seconds=0.01, rss_repeats=1)


def test_model_benchmarks_render_on_a_tiny_bundle(tiny_bundle: Path, tmp_path: Path) -> None:
    result = measure_models(
        [tiny_bundle],
        shared=None,  # synthetic inputs: what the tiny model was trained on
        workdir=tmp_path / "work",
        effort=TINY_EFFORT,
        reference_dir=tmp_path / "no-reference",
    )
    (model,) = result.models
    assert model.torch_b1.p50 > 0
    assert model.onnx_b1 is not None
    assert [case.input for case in model.end_to_end] == ["28 px PNG", "224 px JPEG", "2048x2048 16-bit DICOM"]
    assert model.throughput is not None
    assert model.memory is not None
    assert model.memory.peak_rss > 0
    assert result.reference is None
    section = models_section(result)
    for heading in ("Model only, batch 1", "End to end", "Batched throughput", "peak memory", "MedMNIST reference"):
        assert heading in section
    targets = "\n".join(models_targets(result))
    assert "make reference-model" in targets
    assert "peak RSS" in targets
