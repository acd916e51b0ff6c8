"""``analyze`` end to end against an earlier revision of medsight, on the same machine, in one run.

Usage, from the repository root::

    python -m benchmarks.revisions --base REV [--model NAME ...] [--calls 40] [--rounds 3]
        [--shared ../shared] [--out BENCHMARKS.md]

Absolute latencies move with the machine (CI machines here have differed by more than
two times from one day to the next), so a change made for speed is judged against the
code before it, measured on the same machine in the same run. The base revision is
checked out in a temporary git worktree; each side then runs in its own fresh process
(``PYTHONPATH`` = that side's ``src``, the same virtual environment), the two taking
turns for ``--rounds`` rounds, each timing ``--calls`` calls of
``analyze_path(<2048 x 2048 16-bit DICOM>, heatmap=<png>)`` with its own shipped bundle
loaded once beforehand, after 3 warm-up calls, with the process set up as that side's
``medsight`` command sets it up (``medsight.allocator``, where the side has it). The DICOM is made by this side's
:mod:`benchmarks.model_inputs` (a validation image enlarged, as in the models section).

The result goes into ``--out`` as the section "Against an earlier revision" (kept by
other sections' runs), or is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.model_inputs import candidates
from benchmarks.sections import replace_section

__all__ = ["SideResult", "compare_revisions", "revisions_section"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = Path("src/medsight/models/shipped")
DEFAULT_MODELS = ("cxr-pneumonia-224", "cxr-pneumonia-28")
HEADING = "## Against an earlier revision: `analyze` on the 2048x2048 DICOM"

# Runs in each side's own process; public API only, so that older revisions run it too.
_CHILD = """
import json, sys, time
from pathlib import Path
import medsight

# What the side's own `medsight` command does on start, where it does anything (before
# torch is imported: libgomp reads its spin count when it loads).
try:
    from medsight.allocator import keep_freed_memory
    keep_freed_memory()
except ImportError:
    pass
try:
    from medsight.parallel import short_openmp_spin
    short_openmp_spin()
except ImportError:
    pass

from medsight.inference import LoadedModel
from medsight.models import load_bundle
from medsight.services.analyze import AnalyzeOptions, analyze_path

bundle, dicom, heatmap, calls = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
model = LoadedModel.load(load_bundle(bundle))
options = AnalyzeOptions(task=model.task.name, model=str(bundle), heatmap=heatmap)
outcome = ""
times = []
for call in range(3 + calls):
    start = time.perf_counter()
    report = analyze_path(dicom, options, model=model)
    if call >= 3:
        times.append(time.perf_counter() - start)
    outcome = "refused" if "refused" in report.records[0] else "scored"
print(json.dumps({"package": medsight.__file__, "times": times, "outcome": outcome}))
"""


@dataclass(frozen=True)
class SideResult:
    """One side's p50s (ms), one per round, and what ``analyze`` said."""

    p50_ms: tuple[float, ...]
    outcome: str

    @property
    def median_ms(self) -> float:
        """The median over rounds of each round's p50."""
        return statistics.median(self.p50_ms)


def compare_revisions(
    base: str, models: tuple[str, ...], *, calls: int, rounds: int, shared: Path | None, workdir: Path
) -> dict[str, dict[str, SideResult]]:
    """``{model: {"base": SideResult, "current": SideResult}}``, the sides taking turns."""
    dicom = next(candidates(shared, workdir / "inputs")).dicom2048
    tree = workdir / "base"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), base], cwd=REPO_ROOT, check=True, capture_output=True
    )
    try:
        sides = {"base": tree, "current": REPO_ROOT}
        samples: dict[str, dict[str, list[float]]] = {m: {side: [] for side in sides} for m in models}
        outcomes: dict[str, dict[str, str]] = {m: {} for m in models}
        for round_ in range(rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for model in models:
                for side in order:
                    result = _run_side(sides[side], model, dicom, workdir, calls)
                    samples[model][side].append(1000.0 * statistics.median(result["times"]))
                    outcomes[model][side] = result["outcome"]
                    print(
                        f"[revisions] round {round_ + 1} {model} {side}: {samples[model][side][-1]:.1f} ms", flush=True
                    )
        return {m: {side: SideResult(tuple(samples[m][side]), outcomes[m][side]) for side in sides} for m in models}
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO_ROOT, check=False)


def _run_side(root: Path, model: str, dicom: Path, workdir: Path, calls: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    heatmap = workdir / f"heatmap-{root.name}-{model}.png"
    args = [sys.executable, "-c", _CHILD, str(root / SHIPPED / model), str(dicom), str(heatmap), str(calls)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    package = Path(str(result["package"])).resolve()
    if not package.is_relative_to((root / "src").resolve()):
        raise RuntimeError(f"the {root.name} side imported medsight from {package}, not from its own tree")
    return result


def revisions_section(
    results: dict[str, dict[str, SideResult]], *, base: str, current: str, command: str, calls: int
) -> str:
    """The markdown section for BENCHMARKS.md."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rounds = len(next(iter(results.values()))["base"].p50_ms)
    lines = [
        HEADING,
        "",
        f"`{command}`, {when}: base `{base}` against `{current}` (the working tree measured), on this machine "
        f"in this run. Each side in a fresh process with its own code and its own shipped bundle, "
        f"{calls} calls after 3 warm-up calls per round, the sides taking turns for {rounds} round(s); "
        "the figure is the median over rounds of each round's p50. The input is the models section's 2048 x 2048 "
        "16-bit DICOM, heatmap written. Absolute figures move with the machine; the ratio is what this section is for.",
        "",
        "| model | base p50 ms | current p50 ms | base / current | per round, base | per round, current | outcome |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for model, sides in results.items():
        old, new = sides["base"], sides["current"]
        rounds_old = ", ".join(f"{v:.1f}" for v in old.p50_ms)
        rounds_new = ", ".join(f"{v:.1f}" for v in new.p50_ms)
        outcome = new.outcome if old.outcome == new.outcome else f"{old.outcome} / {new.outcome}"
        lines.append(
            f"| {model} | {old.median_ms:.1f} | {new.median_ms:.1f} | {old.median_ms / new.median_ms:.2f} "
            f"| {rounds_old} | {rounds_new} | {outcome} |"
        )
    return "\n".join(lines) + "\n"


def _revision(ref: str) -> str:
    done = subprocess.run(["git", "rev-parse", "--short", ref], cwd=REPO_ROOT, capture_output=True, text=True)
    return done.stdout.strip() or ref


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.revisions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the earlier revision (a commit, tag or branch)")
    parser.add_argument("--model", action="append", help="a shipped bundle's name (repeatable)")
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, help="write the section into this file (else print it)")
    args = parser.parse_args(argv)
    models = tuple(args.model or DEFAULT_MODELS)
    shared = args.shared if args.shared.is_dir() else None
    with tempfile.TemporaryDirectory(prefix="medsight-revisions-") as tmp:
        results = compare_revisions(
            args.base, models, calls=args.calls, rounds=args.rounds, shared=shared, workdir=Path(tmp)
        )
    command = "python -m benchmarks.revisions " + " ".join(sys.argv[1:] if argv is None else argv)
    head = _revision("HEAD")
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=REPO_ROOT, capture_output=True, text=True)
    current = f"{head}{' + uncommitted changes' if dirty.stdout.strip() else ''}"
    section = revisions_section(results, base=_revision(args.base), current=current, command=command, calls=args.calls)
    if args.out is None:
        print(section)
        return
    args.out.write_text(replace_section(args.out.read_text(encoding="utf-8"), section), encoding="utf-8")
    print(f"[revisions] updated {args.out}")


if __name__ == "__main__":
    main()
