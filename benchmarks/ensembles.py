"""Deep ensembles (issue 11): what averaging members costs at inference, against one member.

For a shipped ensemble bundle (``cxr-tuberculosis-96``, 3 members), in one run, each
pair taking turns call by call so that drift hits both alike:

* **model only, batch 1**: the ensemble's predictor against its first member alone (the
  same weights), under torch and under ONNX Runtime (the member exported to a scratch
  ONNX file the way bundles export theirs);
* **Grad-CAM alone**: the ensemble's map (every member's stage, the mean logit) against
  the member's;
* **end to end**: ``Analyzer.analyze_many`` of the ensemble on the first validation film
  of ``../shared/datasets/tb_cxr`` (read once beforehand), with and without Grad-CAM; the
  member has no distribution check of its own, so it has no end-to-end figure. Without
  the shared data, or if the film were refused (a refusal skips the model), the rows say so.

No target: the issue names none. What to expect: about ``members`` times one network.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from benchmarks.timing import Latency, latencies
from medsight.explain import Saliency
from medsight.imaging import Image
from medsight.inference import Analyzer, LoadedModel, load_predictor
from medsight.inference.predictor import OnnxPredictor, TorchPredictor, load_torch_classifier
from medsight.io import read_image
from medsight.models import load_bundle
from medsight.models.bundle import shipped_bundles
from medsight.models.networks import Ensemble
from medsight.settings import ReadLimits

__all__ = ["EnsembleBench", "ensembles_section", "measure_ensembles"]

DEFAULT_MODEL = "cxr-tuberculosis-96"


@dataclass(frozen=True, slots=True)
class EnsembleBench:
    """Latencies of one ensemble against its first member (``None``: not measured)."""

    model: str
    version: str
    members: int
    size: int
    calls: int
    rows: list[tuple[str, Latency, Latency | None]]
    note: str = ""


def measure_ensembles(
    workdir: Path, shared: Path | None, *, calls: int = 200, model: str = DEFAULT_MODEL
) -> EnsembleBench:
    """Time the ensemble against its first member (``calls`` single calls of each)."""
    from medsight.training.export import export_onnx

    torch.set_num_threads(1)  # one core each, as a service worker runs a model
    bundle = load_bundle(shipped_bundles()[model])
    network = load_torch_classifier(bundle)
    if not isinstance(network, Ensemble):
        raise ValueError(f"{model} is not an ensemble")
    member = network.classifiers()[0]
    size = int(bundle.metadata.medsight.preprocessing["size"])
    x = torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(0)).numpy()
    member_onnx = workdir / "member.onnx"
    export_onnx(member, size, member_onnx)
    ensemble_torch, member_torch = TorchPredictor(network), TorchPredictor(member)
    ensemble_onnx, member_onnx_predictor = (
        load_predictor(bundle, "onnx", threads=1),
        OnnxPredictor.from_file(member_onnx, threads=1),
    )
    ensemble_map, member_map = Saliency(network), Saliency(member)
    pairs: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "model only, torch": (lambda: ensemble_torch.predict(x), lambda: member_torch.predict(x)),
        "model only, ONNX Runtime": (lambda: ensemble_onnx.predict(x), lambda: member_onnx_predictor.predict(x)),
        "Grad-CAM alone": (lambda: ensemble_map(x), lambda: member_map(x)),
    }
    rows: list[tuple[str, Latency, Latency | None]] = []
    for name, (ours, alone) in pairs.items():
        both = latencies([ours, alone], calls=calls, block=10)
        rows.append((name, both[0], both[1]))
    loaded = LoadedModel.load(bundle, threads=1)
    image, note = _film(shared)
    if image is not None and Analyzer(loaded).analyze(image).refused is not None:
        image, note = None, f"{note}: refused by the model's checks, so not timed"
    if image is not None:
        film = image
        for saliency in (False, True):
            (latency,) = latencies([partial(Analyzer(loaded, saliency=saliency).analyze_many, [film])], calls=calls)
            heatmap = f"the {loaded.bundle.saliency.method} heatmap"
            rows.append((f"analyze_many, {'with' if saliency else 'without'} {heatmap}", latency, None))
    return EnsembleBench(bundle.name, bundle.version, len(network.members), size, calls, rows, note)


def _film(shared: Path | None) -> tuple[Image | None, str]:
    """The first validation film of the TB set, read, and where it came from."""
    labels = shared / "datasets" / "tb_cxr" / "labels.csv" if shared is not None else None
    if labels is None or not labels.is_file():
        return None, "No ../shared/datasets/tb_cxr: end to end not measured"
    with labels.open(newline="", encoding="utf-8") as rows:
        first = next((row for row in csv.DictReader(rows) if row.get("split") == "val"), None)
    if first is None:
        return None, "The tb_cxr data has no val rows: end to end not measured"
    return read_image(labels.parent / first["path"], ReadLimits()), f"Input: tb_cxr val film {first['path']}"


def ensembles_section(bench: EnsembleBench, command: str) -> str:
    """The BENCHMARKS.md section."""
    lines = [
        "## Deep ensembles (issue 11): inference cost against one member",
        "",
        f"`{command}`. {bench.model} {bench.version}: {bench.members} members at {bench.size} px, "
        f"against its first member alone (same weights). One input (1, 1, {bench.size}, {bench.size}); "
        f"{bench.calls} single calls of each, taking turns; torch and ONNX Runtime on one thread. "
        "`analyze_many` covers checks, preprocessing, the model, the distribution check and calibration "
        f"(the member has no distribution check of its own: ensemble only). {bench.note}. No target.",
        "",
        "| stage | ensemble p50 / p95 (ms) | one member p50 / p95 (ms) | ratio of p50 |",
        "|---|---|---|---|",
    ]
    for name, ours, alone in bench.rows:
        mine = f"{ours.p50 * 1e3:.2f} / {ours.p95 * 1e3:.2f}"
        if alone is None:
            lines.append(f"| {name} | {mine} | - | - |")
        else:
            ratio = ours.p50 / alone.p50 if alone.p50 > 0 else float("nan")
            lines.append(f"| {name} | {mine} | {alone.p50 * 1e3:.2f} / {alone.p95 * 1e3:.2f} | {ratio:.2f} |")
    return "\n".join(lines) + "\n"
