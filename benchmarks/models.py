"""Model benchmarks (issue 3): latency, end-to-end ``analyze``, throughput, memory, reference.

For every model bundle measured (the shipped ones by default), in one run:

* **batch 1, model only**: ``load_predictor(bundle, "torch"|"onnx").predict(x)`` on one
  float32 input ``(1, 1, S, S)`` in ``[0, 1]``, the two backends taking turns in blocks;
* **end to end**: ``analyze_path`` on a 28 px PNG, a 224 px JPEG and a 2048 x 2048
  16-bit DICOM, heatmap included (saliency map, overlay, PNG write), in process after a
  warm-up, with the model loaded once beforehand as a service keeps it loaded;
* **stages** of the DICOM case: read, checks + prepare + input gate, model + distribution check,
  saliency map, overlay + PNG write (``write_heatmap``), timed one after the other per call;
* **batched throughput** (28 px models): batches of 256 through each predictor on
  prepared inputs, and through ``Analyzer.analyze_many`` without saliency on in-memory
  images (checks, prepare, model, distribution check);
* **peak RSS** of one ``python -m medsight analyze <DICOM> --heatmap ... --json`` process
  (cold start, torch imported), from a fresh helper (:mod:`benchmarks.rss`).

The MedMNIST reference (ResNet-18 at 28 px, ``make reference-model``) gets the same
batch-1 and throughput measurements when its bundle exists; it is never trained here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.model_inputs import BATCH, Candidate, candidates, in_memory_batch
from benchmarks.profiling import profile_calls
from benchmarks.rss import measure_command
from benchmarks.timing import Latency, Timing, interleaved, latencies
from medsight.allocator import keep_freed_memory
from medsight.errors import MedsightError
from medsight.imaging import Image
from medsight.inference import Analysis, Analyzer, LoadedModel, load_predictor
from medsight.inference.predictor import load_torch_classifier
from medsight.io import read_image
from medsight.models import load_bundle
from medsight.services.analyze import AnalyzeOptions, analyze_path, write_heatmap
from medsight.settings import ReadLimits
from medsight.tasks import prepare

__all__ = ["FULL_EFFORT", "QUICK_EFFORT", "Effort", "ModelReport", "ModelsResult", "measure_models"]

REPO_ROOT = Path(__file__).resolve().parents[1]
_BLOCK = 10  # batch-1 calls of one backend in a row (see timing.latencies)
SALIENCY_ALONE = "saliency map alone (no ONNX Runtime run just before)"
STAGES = ("read", "checks + prepare + input gate", "model + distribution check", "saliency map", "overlay + PNG write")


@dataclass(frozen=True, slots=True)
class Effort:
    """How hard to measure."""

    calls: int  # single calls per backend at batch 1
    e2e_calls: int  # analyze calls per input and model (and per stage split)
    rounds: int  # timed rounds of batched throughput
    min_seconds: float  # least duration of one throughput round
    rss_repeats: int  # fresh analyze processes per model


FULL_EFFORT = Effort(calls=200, e2e_calls=40, rounds=5, min_seconds=1.0, rss_repeats=3)
QUICK_EFFORT = Effort(calls=30, e2e_calls=6, rounds=2, min_seconds=0.2, rss_repeats=1)


@dataclass(frozen=True, slots=True)
class EndToEnd:
    """``analyze_path`` on one input: its latency, and whether it was scored."""

    input: str
    latency: Latency
    outcome: str  # "scored" or "refused (<check>)"


@dataclass(frozen=True, slots=True)
class Throughput:
    """Seconds per batch of :data:`BATCH` 28 px images (best and median rounds)."""

    onnx: Timing | None
    torch: Timing
    analyze: Timing | None
    analyze_scored: int  # of the batch, how many analyze_many scored (the rest were refused)


@dataclass(frozen=True, slots=True)
class Memory:
    """Cold ``analyze`` processes on the DICOM: largest peak RSS, wall times."""

    peak_rss: int
    seconds: tuple[float, ...]
    outcome: str


@dataclass(frozen=True)
class ModelReport:
    """Everything measured on one bundle (``None`` where not measured for it)."""

    name: str
    path: Path
    task: str
    saliency: str  # the bundle's heatmap method: gradcam or occlusion
    resolution: int
    parameters: int
    val_auc: float | None
    val_auc_ci: tuple[float, float] | None
    torch_b1: Latency
    onnx_b1: Latency | None
    end_to_end: tuple[EndToEnd, ...] = ()
    stages: dict[str, Latency] | None = None
    throughput: Throughput | None = None
    memory: Memory | None = None
    profile: str | None = None  # cProfile of analyze on the DICOM, markdown
    gate_cost: tuple[Latency, Latency] | None = None  # the DICOM end to end with and without the input gate


@dataclass(frozen=True)
class ModelsResult:
    """The model section's figures."""

    models: tuple[ModelReport, ...]
    reference: ModelReport | None
    reference_dir: Path
    reference_note: str
    inputs: str
    batch_source: str
    torch_threads: int
    notes: tuple[str, ...]
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after


def measure_models(
    bundles: Sequence[Path],
    *,
    shared: Path | None,
    workdir: Path,
    effort: Effort,
    reference_dir: Path,
    profile: bool = False,
) -> ModelsResult:
    """Measure every bundle in ``bundles`` and the reference, if trained; ``profile`` adds a
    cProfile of ``analyze`` on the DICOM per model."""
    workdir.mkdir(parents=True, exist_ok=True)
    keep_freed_memory()  # as `medsight analyze` and `medsight serve` run, from the CLI's start
    load_before = os.getloadavg()[0]
    loaded = [LoadedModel.load(load_bundle(path)) for path in bundles]
    candidate, notes = _pick_inputs(loaded, shared, workdir)
    images, batch_source = in_memory_batch(shared)
    reports = []
    for path, model in zip(bundles, loaded, strict=True):
        _progress(f"models: {model.bundle.name}")
        report = _measure_one(path, model, candidate, images, workdir, effort)
        if profile and candidate is not None:
            report = replace(report, profile=_profile(model, candidate.dicom2048, workdir))
        reports.append(report)
    reference, reference_note = _measure_reference(reference_dir, images, effort)
    return ModelsResult(
        models=tuple(reports),
        reference=reference,
        reference_dir=reference_dir,
        reference_note=reference_note,
        inputs=candidate.source if candidate else "none",
        batch_source=batch_source,
        torch_threads=torch.get_num_threads(),
        notes=tuple(notes),
        load=(load_before, os.getloadavg()[0]),
    )


def _measure_one(
    path: Path, model: LoadedModel, candidate: Candidate | None, images: list[Image], workdir: Path, effort: Effort
) -> ModelReport:
    report = _batch_one(path, model, effort)
    if candidate is None:
        return report
    dicom = candidate.dicom2048
    end_to_end = tuple(
        _end_to_end(model, label, file, workdir, effort.e2e_calls) for label, file in candidate.files().items()
    )
    stages = _stages(model, dicom, workdir / f"stages-{model.bundle.name}.png", effort.e2e_calls)
    throughput = _throughput(model, images, effort) if report.resolution == 28 else None
    memory = _memory(path, model.task.name, dicom, workdir, effort.rss_repeats)
    gate_cost = _gate_cost(model, dicom, workdir, effort.e2e_calls)
    return replace(
        report, end_to_end=end_to_end, stages=stages, throughput=throughput, memory=memory, gate_cost=gate_cost
    )


def _gate_cost(model: LoadedModel, dicom: Path, workdir: Path, calls: int) -> tuple[Latency, Latency] | None:
    """The DICOM end to end with the bundle's input gate and without it, taking turns (same run, same drift)."""
    if model.gate is None:
        return None
    ungated = replace(model, gate=None)
    heatmap = workdir / f"gate-{model.bundle.name}.png"
    with_gate, without = latencies(
        [lambda: _analyze(model, dicom, heatmap), lambda: _analyze(ungated, dicom, heatmap)], calls=calls
    )
    return with_gate, without


def _batch_one(path: Path, model: LoadedModel, effort: Effort) -> ModelReport:
    """Model-only latency at batch 1, torch and ONNX Runtime alternating."""
    bundle = model.bundle
    size = model.preprocessing.size
    x = np.random.default_rng(0).random((1, 1, size, size), dtype=np.float32)
    predictors = [load_predictor(bundle, "torch")]
    if bundle.has("model.onnx"):
        predictors.append(load_predictor(bundle, "onnx"))
    timed = latencies([_bind(p.predict, x) for p in predictors], calls=effort.calls, block=_BLOCK)
    val = bundle.metadata.medsight.metrics.get("val", {})
    ci = val.get("auc_ci")
    return ModelReport(
        name=bundle.name,
        path=path,
        task=bundle.metadata.medsight.task,
        saliency=bundle.saliency.method,
        resolution=size,
        parameters=sum(p.numel() for p in load_torch_classifier(bundle).parameters()),
        val_auc=val.get("auc"),
        val_auc_ci=(float(ci[0]), float(ci[1])) if ci else None,
        torch_b1=timed[0],
        onnx_b1=timed[1] if len(timed) > 1 else None,
    )


def _bind(func: Callable[[Any], object], value: Any) -> Callable[[], object]:
    return lambda: func(value)


def _pick_inputs(models: list[LoadedModel], shared: Path | None, workdir: Path) -> tuple[Candidate | None, list[str]]:
    """The first candidate input set that every model scores, so every call draws its heatmap."""
    notes: list[str] = []
    first: Candidate | None = None
    for candidate in candidates(shared, workdir):
        first = first or candidate
        outcomes = [_outcome(model, file, workdir) for model in models for file in candidate.files().values()]
        if all(outcome == "scored" for outcome in outcomes):
            return candidate, notes
    notes.append("no candidate input was scored by every model: refused inputs are timed without a heatmap")
    return first, notes


def _outcome(model: LoadedModel, file: Path, workdir: Path) -> str:
    try:
        record = _analyze(model, file, workdir / "probe.png").records[0]
    except MedsightError as error:
        return f"error ({error.code})"
    if "refused" in record:
        return f"refused ({record['refused'].get('check', record['refused']['code'])})"
    return "scored" if "probability" in record else f"error ({record['error']['code']})"


def _analyze(model: LoadedModel, file: Path, heatmap: Path) -> Any:
    options = AnalyzeOptions(task=model.task.name, model=str(model.bundle.path), heatmap=heatmap)
    return analyze_path(file, options, model=model)


def _end_to_end(model: LoadedModel, label: str, file: Path, workdir: Path, calls: int) -> EndToEnd:
    heatmap = workdir / f"e2e-{model.bundle.name}.png"
    outcome = _outcome(model, file, workdir)
    (latency,) = latencies([lambda: _analyze(model, file, heatmap)], calls=calls)
    return EndToEnd(label, latency, outcome)


def _stages(model: LoadedModel, path: Path, heatmap: Path, calls: int) -> dict[str, Latency] | None:
    """Per-stage latency of the DICOM case, the stages run in order as ``analyze`` runs them."""
    limits = ReadLimits()
    analyzer = Analyzer(model, saliency=True)

    def checks_and_prepare(image: Image) -> Any:
        if analyzer.check(image) is not None:
            raise _RefusedError
        prepared = prepare(image, model.preprocessing)
        if model.gate is not None and model.gate.refusals([prepared.unit])[0] is not None:
            raise _RefusedError
        return prepared

    def score(prepared: Any) -> Any:
        inputs = prepared.input[np.newaxis]
        if model.ood.refusals(inputs, model.score(inputs).features)[0] is not None:
            raise _RefusedError
        return prepared

    def explain(prepared: Any) -> Analysis:
        saliency = model.saliency(prepared.input[np.newaxis])[0]
        return Analysis(model.task.name, model.bundle.identity(), model.threshold, saliency=saliency, prepared=prepared)

    steps: list[Callable[[Any], Any]] = [
        lambda _: read_image(path, limits),
        checks_and_prepare,
        score,
        explain,
        lambda analysis: write_heatmap(analysis, heatmap),
    ]
    try:
        stages = _pipeline(dict(zip(STAGES, steps, strict=True)), calls)
    except _RefusedError:
        return None
    # The same map with no ONNX Runtime run just before: what the mix of runtimes costs (Grad-CAM).
    x = prepare(read_image(path, limits), model.preprocessing).input[np.newaxis]
    (stages[SALIENCY_ALONE],) = latencies([lambda: model.saliency(x)], calls=calls)
    return stages


class _RefusedError(Exception):
    """The input was refused: the later stages do not run, so there is no split to show."""


def _pipeline(stages: dict[str, Callable[[Any], Any]], calls: int, warmup: int = 2) -> dict[str, Latency]:
    samples: dict[str, list[float]] = {name: [] for name in stages}
    for call in range(warmup + calls):
        value: Any = None
        for name, stage in stages.items():
            start = time.perf_counter()
            value = stage(value)
            if call >= warmup:
                samples[name].append(time.perf_counter() - start)
    return {name: Latency.of(times) for name, times in samples.items()}


def _profile(model: LoadedModel, dicom: Path, workdir: Path) -> str:
    heatmap = workdir / f"profile-{model.bundle.name}.png"
    what = f"`analyze_path` calls on the {dicom.stat().st_size / 1e6:.0f} MB DICOM with {model.bundle.name}"
    return profile_calls(lambda: _analyze(model, dicom, heatmap), what=what + "; seconds per call", min_seconds=1.0)


def _throughput(model: LoadedModel, images: list[Image], effort: Effort) -> Throughput:
    """Seconds per batch of 256: each predictor on prepared inputs, and analyze_many."""
    bundle = model.bundle
    inputs = np.stack([prepare(image, model.preprocessing).input for image in images])
    analyzer = Analyzer(model, saliency=False, batch_size=BATCH)
    funcs: list[Callable[[], object]] = [_bind(load_predictor(bundle, "torch").predict, inputs)]
    if bundle.has("model.onnx"):
        funcs.append(_bind(load_predictor(bundle, "onnx").predict, inputs))
    funcs.append(lambda: analyzer.analyze_many(images))
    timed = interleaved(funcs, min_seconds=effort.min_seconds, rounds=effort.rounds)
    scored = sum(analysis.probability is not None for analysis in analyzer.analyze_many(images))
    onnx = timed[1] if bundle.has("model.onnx") else None
    return Throughput(onnx=onnx, torch=timed[0], analyze=timed[-1], analyze_scored=scored)


def _memory(bundle: Path, task: str, dicom: Path, workdir: Path, repeats: int) -> Memory:
    """Cold ``medsight analyze`` processes on the DICOM, each under a fresh helper."""
    heatmap = workdir / "rss-heatmap.png"
    command = [sys.executable, "-m", "medsight", "analyze", str(dicom), "--task", task]
    command += ["--model", str(bundle), "--heatmap", str(heatmap), "--json"]
    runs = [measure_command(command, REPO_ROOT) for _ in range(repeats)]
    last = runs[-1]
    if last["returncode"] != 0:
        outcome = f"exit {last['returncode']}: {last.get('stderr', '').strip()[-200:]}"
    else:
        record = json.loads(last["stdout"])["results"][0]
        outcome = "scored" if "probability" in record else "refused" if "refused" in record else "error"
    return Memory(max(run["peak_rss"] for run in runs), tuple(run["seconds"] for run in runs), outcome)


def _measure_reference(reference_dir: Path, images: list[Image], effort: Effort) -> tuple[ModelReport | None, str]:
    """The MedMNIST reference's batch-1 latency and throughput, when it has been trained."""
    if not (reference_dir / "configs" / "metadata.json").is_file():
        return None, "not trained"
    try:
        model = LoadedModel.load(load_bundle(reference_dir))
    except MedsightError as error:
        return None, f"not usable ({error.code}: {error.message})"
    _progress(f"models: reference {model.bundle.name}")
    report = _batch_one(reference_dir, model, effort)
    return replace(report, throughput=_throughput(model, images, effort)), "measured"


def _progress(message: str) -> None:
    print(f"[benchmarks] {message}", file=sys.stderr, flush=True)
