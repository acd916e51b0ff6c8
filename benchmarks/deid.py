"""De-identification (issue 8): medsight against dicognito and pydicom deid, same corpus, same run.

The corpus is :mod:`tests.data.deid_corpus`: every file carries fake patient data in
every Table E.1-1 attribute pydicom can write (nested sequences, private tags, curves and
overlays), 10% are ultrasound with burned-in text; 128 x 128 pixels. Each tool reads every
file and writes a de-identified copy, in this process, one after the other:

* medsight: ``medsight.services.deid.deidentify`` with the Basic Profile and Clean Pixel
  Data (it also masks the burned-in text, which the others do not);
* dicognito: ``Anonymizer().anonymize(ds)`` then ``ds.save_as`` per file (one
  ``Anonymizer`` for the corpus);
* deid: ``replace_identifiers`` with its default recipe and ``remove_private=True``.

"Left behind" searches each output file's bytes for each planted value: an attribute
counts when its planted value survives in any file. Attributes with numeric VRs (their
values are a few bytes that occur by chance) are not searched.
"""

from __future__ import annotations

import logging
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.data.deid_corpus import planted_values, write_corpus

__all__ = ["FULL_DEID", "HEADING", "QUICK_DEID", "DeidBench", "deid_section", "deid_targets", "measure_deid"]

HEADING = "## De-identification (issue 8): PS3.15 Basic Profile against dicognito and deid"
TARGET_PREFIX = "- de-identification"
SPEED_TARGET = 2.0
FULL_DEID = 1000
QUICK_DEID = 100
_KEY = b"benchmark-key-not-a-secret-0123"


@dataclass(slots=True)
class ToolRun:
    """One tool over the corpus."""

    name: str
    seconds: float = 0.0
    files: int = 0
    error: str | None = None
    left: dict[str, int] = field(default_factory=dict)  # attribute -> files where its value survived
    uncleaned_text: int = 0  # ultrasound files written with their burned-in text


@dataclass(slots=True)
class DeidBench:
    """Every tool's run on one corpus."""

    files: int
    megabytes: float
    runs: list[ToolRun]
    searched: int  # attributes whose planted values are searched for

    def run(self, name: str) -> ToolRun:
        """The run of the tool called ``name``."""
        return next(r for r in self.runs if r.name == name)


Tool = Callable[[Path, Path, list[Path]], None]


def _medsight() -> Tool:
    from medsight.privacy.profile import Option
    from medsight.services.deid import deidentify, make_profile

    profile = make_profile("basic", frozenset({Option.CLEAN_PIXEL_DATA}))

    def run(source: Path, out: Path, files: list[Path]) -> None:
        summary = deidentify(source, out, profile, _KEY)
        if summary.written != len(files):
            raise RuntimeError(f"medsight wrote {summary.written} of {len(files)}")

    return run


def _dicognito() -> Tool:
    import pydicom
    from dicognito.anonymizer import Anonymizer

    anonymizer = Anonymizer(seed="benchmark")  # one for the whole corpus: its pseudonyms stay consistent

    def run(source: Path, out: Path, files: list[Path]) -> None:
        out.mkdir(parents=True, exist_ok=True)
        for path in files:
            ds = pydicom.dcmread(path)
            anonymizer.anonymize(ds)
            ds.save_as(out / path.name)

    return run


def _deid() -> Tool:
    from deid.config import DeidRecipe
    from deid.dicom import replace_identifiers

    recipe = DeidRecipe()

    def run(source: Path, out: Path, files: list[Path]) -> None:
        out.mkdir(parents=True, exist_ok=True)
        replace_identifiers(
            dicom_files=[str(p) for p in files],
            deid=recipe,
            save=True,
            output_folder=str(out),
            overwrite=True,
            remove_private=True,
        )

    return run


TOOLS: dict[str, Callable[[], Tool]] = {"medsight": _medsight, "dicognito": _dicognito, "deid": _deid}


def measure_deid(workdir: Path, files: int = FULL_DEID) -> DeidBench:
    """Write the planted corpus of ``files`` files under ``workdir`` and run every tool on it.

    The corpus is one folder per patient; the tools take turns folder by folder (in a
    rotating order), so load from other processes on a shared machine falls on all of
    them alike. A tool's time is the sum over folders.
    """
    source = workdir / "corpus"
    corpus = sorted(write_corpus(source, files, size=128))
    megabytes = sum(p.stat().st_size for p in corpus) / 1e6
    logging.getLogger("deid").setLevel(logging.ERROR)
    runs = {name: ToolRun(name) for name in TOOLS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tools = {name: make() for name, make in TOOLS.items()}
        folders = sorted(p for p in source.iterdir() if p.is_dir())
        for turn, folder in enumerate(folders):
            members = sorted(folder.glob("*.dcm"))
            order = list(tools)[turn % len(tools) :] + list(tools)[: turn % len(tools)]
            for name in order:
                _timed(runs[name], tools[name], folder, workdir / name / folder.name, members)
    for run in runs.values():
        out = workdir / run.name
        run.files = sum(1 for _ in out.rglob("*.dcm")) if out.exists() else 0
        _left_behind(run, source, out, corpus)
        shutil.rmtree(out, ignore_errors=True)
    searched = len({(p.tag, p.name) for p in planted_values(0) if p.needle is not None})
    return DeidBench(files, megabytes, list(runs.values()), searched)


def _timed(run: ToolRun, tool: Tool, source: Path, out: Path, files: list[Path]) -> None:
    if run.error is not None:
        return
    started = time.perf_counter()
    try:
        tool(source, out, files)
    except Exception as exc:  # a baseline that breaks is reported, not fatal
        run.error = f"{type(exc).__name__}: {exc}"[:200]
    run.seconds += time.perf_counter() - started


def _left_behind(run: ToolRun, source: Path, out: Path, corpus: list[Path]) -> None:
    for path in corpus:
        n = int(path.stem[1:])  # the file's number in the corpus (f00042.dcm)
        written = out / path.relative_to(source)  # every tool writes <patient>/<file>
        if not written.exists():
            continue
        data = written.read_bytes()
        patient = int(path.parent.name[1:])
        names: set[str] = set()
        for planted in planted_values(n, patient):
            if planted.needle is not None and planted.needle in data:
                names.add(f"{planted.name} ({planted.tag >> 16:04X},{planted.tag & 0xFFFF:04X})")
        for name in names:
            run.left[name] = run.left.get(name, 0) + 1
        if n % 10 == 9:  # the ultrasound files: burned-in text unless the pixels changed
            run.uncleaned_text += int(_pixels_unchanged(path, written))


def _pixels_unchanged(original: Path, written: Path) -> bool:
    import pydicom

    try:
        return bool((pydicom.dcmread(original).pixel_array == pydicom.dcmread(written).pixel_array).all())
    except Exception:
        return False


def _ratio(bench: DeidBench) -> float | None:
    ours = bench.run("medsight")
    others = [r for r in bench.runs if r.name != "medsight" and r.error is None and r.seconds > 0]
    if ours.error is not None or not others:
        return None
    fastest = min(r.seconds for r in others)
    return fastest / ours.seconds


def deid_targets(bench: DeidBench) -> list[str]:
    """The target lines for the summary."""
    ratio = _ratio(bench)
    ours = bench.run("medsight")
    speed = "no ratio (a tool failed)" if ratio is None else f"{ratio:.1f}x the faster baseline"
    passed = ratio is not None and ratio >= SPEED_TARGET
    clean = not ours.left and ours.uncleaned_text == 0
    return [
        f"{TARGET_PREFIX} speed: {speed} (target >= {SPEED_TARGET}x): {'PASS' if passed else 'FAIL'}",
        f"{TARGET_PREFIX} residue: {len(ours.left)} planted attributes left behind (target 0): "
        f"{'PASS' if clean else 'FAIL'}",
    ]


def deid_section(bench: DeidBench, command: str) -> str:
    """The report section."""
    lines = [
        f"{HEADING}\n",
        f"`{command}`; {bench.files} files, {bench.megabytes:.1f} MB (planted corpus, 128 x 128, 10% ultrasound"
        " with burned-in text); one process, the tools taking turns patient folder by patient folder."
        " See `benchmarks/deid.py`.\n",
        "| tool | files written | seconds | files/s | MB/s | attributes left behind | US files with text |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in bench.runs:
        rate = bench.files / run.seconds if run.seconds else 0.0
        note = f" (error: {run.error})" if run.error else ""
        lines.append(
            f"| {run.name}{note} | {run.files} | {run.seconds:.1f} | {rate:.1f} | {bench.megabytes / run.seconds:.2f}"
            f" | {len(run.left)} of {bench.searched} | {run.uncleaned_text} |"
        )
    lines += ["", *deid_targets(bench), "", _left_table(bench)]
    return "\n".join(lines) + "\n"


def _left_table(bench: DeidBench) -> str:
    names = sorted({name for run in bench.runs for name in run.left})
    if not names:
        return "No tool left a planted value behind.\n"
    head = "| Table E.1-1 attribute | " + " | ".join(r.name for r in bench.runs) + " |"
    rows = [head, "|---|" + "---:|" * len(bench.runs)]
    for name in names:
        rows.append(f"| {name} | " + " | ".join(str(r.left.get(name, "")) for r in bench.runs) + " |")
    return (
        "<details><summary>Attributes whose planted value survived, in how many files, per tool"
        f" ({len(names)} attributes)</summary>\n\n" + "\n".join(rows) + "\n\n</details>\n"
    )
