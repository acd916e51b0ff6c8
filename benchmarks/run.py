"""Measure medsight's readers and write BENCHMARKS.md.

Usage, from the repository root::

    python -m benchmarks.run [--quick] [--out BENCHMARKS.md] [--shared ../shared] [--no-profile]
        [--model BUNDLE ...] [--reference BUNDLE]
        [--only io|models|service|viewer|streams|deid|encryption|ledger|mri|segoutputs|protocols|ensembles|worklist]
        [--service-memory-seconds S]
        [--service-instances N] [--note TEXT]

Every figure is measured by this run; nothing is carried over. Targets:

* decode: medsight's files/s at least pydicom's on every sample (ratio >= 1.0);
* series: medsight at least 2x as fast as SimpleITK's ImageSeriesReader;
* memory: medsight's peak RSS increase at most 1.5x the float32 volume;
* models (:mod:`benchmarks.models`, on the shipped bundles unless ``--model`` names
  others): ``analyze`` of a 2048 x 2048 DICOM with its heatmap at p50 <= 50 ms; >= 1,000
  images/s batched at 28 px; peak RSS of one ``analyze`` process <= 1 GB;
* service (:mod:`benchmarks.service`, issue 4): medsight's DICOMweb against Orthanc on the
  same workload, STOW-RS ingest and QIDO-RS latency at least Orthanc's (ratio >= 1.0);
  medsight's RSS within 10% from the first to the last minute of 10 minutes of mixed load;
  analysis jobs end to end (no target). ``--only service`` measures this section alone
  and puts it into the existing ``--out`` file, keeping the other sections;
* de-identification (:mod:`benchmarks.deid`, issue 8): files/s on 1,000 planted files at
  least 2x the faster of dicognito and pydicom deid, and no planted value left behind
  (``--only deid`` alone);
* encryption at rest (:mod:`benchmarks.encryption`, issue 8): sealed ingest and retrieval
  at most 10% slower than plain (``--only encryption`` alone);
* the verifiable ledger (:mod:`benchmarks.ledger`, issue 9): >= 5,000 appends/s batched on
  SQLite, proofs in <= 1 ms and full verification in <= 60 s at 10^6 entries (``--only ledger``);
* MRI segmentation (:mod:`benchmarks.mri`, issue 7): seconds per volume (hippocampus crop
  <= 1 s, 256 x 256 x 30 brain <= 5 s) against MONAI's plain sliding window with the same
  network, and peak RSS (``--only mri`` alone);
* segmentation outputs (:mod:`benchmarks.dicom_outputs`, issue 7 part B): DICOM SEG, SR and
  NIfTI mask written for a 256 x 256 x 30 volume in <= 1 s (``--only segoutputs``);
* imaging-protocol recommendation (:mod:`benchmarks.protocols`, issue 10): >= 5,000
  recommendations/s over 10,000 generated profiles on 2 processes (``--only protocols``).

Without a target: deep ensembles (:mod:`benchmarks.ensembles`, issue 11), the shipped
ensemble's inference cost against one of its members (``--only ensembles``); the reading
worklist's page time at 20,000 studies by sort and triage filter, SQLite and PostgreSQL
(:mod:`benchmarks.worklist`, ``--only worklist``).

When a target is missed, the run profiles ``medsight.io.read_image`` on the case that
missed it (cProfile, one worker) and adds the top entries to the report; it also profiles
``analyze`` on the 2048 x 2048 DICOM with each model.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from benchmarks.decode import DecodeResult, find_samples, measure_decode
from benchmarks.deid import FULL_DEID, QUICK_DEID, deid_section, deid_targets, measure_deid
from benchmarks.deid import TARGET_PREFIX as DEID_TARGET_PREFIX
from benchmarks.dicom_outputs import TARGET_PREFIX as OUTPUTS_TARGET_PREFIX
from benchmarks.dicom_outputs import measure_outputs, outputs_section, outputs_targets
from benchmarks.encryption import (
    FULL_ENCRYPTION,
    QUICK_ENCRYPTION,
    encryption_section,
    encryption_targets,
    measure_encryption,
)
from benchmarks.encryption import TARGET_PREFIX as ENCRYPTION_TARGET_PREFIX
from benchmarks.ensembles import ensembles_section, measure_ensembles
from benchmarks.ledger import FULL_LEDGER, QUICK_LEDGER, ledger_section, ledger_targets, measure_ledger
from benchmarks.ledger import TARGET_PREFIX as LEDGER_TARGET_PREFIX
from benchmarks.models import FULL_EFFORT, QUICK_EFFORT, ModelsResult, measure_models
from benchmarks.models_report import models_section, models_targets
from benchmarks.mri import TARGET_PREFIX as MRI_TARGET_PREFIX
from benchmarks.mri import measure_mri, mri_section, mri_targets
from benchmarks.profiling import profile_read, stage_split
from benchmarks.protocols import (
    FULL_PROTOCOLS,
    QUICK_PROTOCOLS,
    measure_protocols,
    protocols_section,
    protocols_targets,
)
from benchmarks.protocols import TARGET_PREFIX as PROTOCOLS_TARGET_PREFIX
from benchmarks.sections import replace_lines, replace_section
from benchmarks.series import REPO_ROOT, SeriesResult, SeriesRow, measure_series
from benchmarks.service.measure import FULL_SERVICE, QUICK_SERVICE, ServiceOptions, ServiceResult, measure_service
from benchmarks.service.report import SERVICE_TARGET_PREFIX, service_section, service_targets
from benchmarks.streams import FULL_STREAMS, QUICK_STREAMS, measure_streams, streams_section
from benchmarks.viewer import measure_viewer, viewer_section
from benchmarks.worklist import measure_worklist, worklist_section
from medsight.models.bundle import load_bundle, shipped_bundles

__all__ = ["main"]

DECODE_TARGET = 1.0
SERIES_TARGET = 2.0
MEMORY_TARGET = 1.5
_MB = 1e6
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Mode:
    """How hard to measure."""

    min_seconds: float  # least duration of one timed round (decode)
    rounds: int  # timed rounds per decode sample
    slices: int  # slices of the synthetic series
    repeats: int  # fresh processes per series reader


FULL = Mode(min_seconds=0.3, rounds=5, slices=300, repeats=5)
QUICK = Mode(min_seconds=0.05, rounds=3, slices=60, repeats=1)


#: What ``--only`` can measure alone.
ONLY_SECTIONS = (
    "io",
    "models",
    "service",
    "viewer",
    "streams",
    "deid",
    "encryption",
    "ledger",
    "mri",
    "segoutputs",
    "protocols",
    "ensembles",
    "worklist",
)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, 60-slice series")
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared")
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="profile the cases that miss a target and analyze per model (default: on, off with --quick)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        action="append",
        help="a model bundle to measure (repeatable; default: every shipped bundle)",
    )
    parser.add_argument("--reference", type=Path, default=REPO_ROOT / "var/reference/resnet18-28")
    parser.add_argument(
        "--only",
        choices=[*ONLY_SECTIONS],
        help="measure one section and update it in --out",
    )
    parser.add_argument("--service-memory-seconds", type=float, help="mixed load for the memory check (600)")
    parser.add_argument("--service-instances", type=int, help="instances stored before querying (10,000)")
    parser.add_argument("--note", default="", help="a sentence for the service section (what else ran)")
    args = parser.parse_args(argv)
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = shlex.join(["python", "-m", "benchmarks.run", *arguments])
    mode = QUICK if args.quick else FULL
    profile = args.profile or (args.profile is None and not args.quick)
    if args.only == "io":
        _io_only(args, mode, profile)
        return
    if args.only == "models":
        _models_only(args, command, mode, profile)
        return
    if args.only == "service":
        _service_only(args, command, mode)
        return
    if args.only == "viewer":
        _viewer_only(args, mode)
        return
    if args.only == "streams":
        _streams_only(args, command, mode)
        return
    if args.only == "deid":
        _deid_only(args, command, mode)
        return
    if args.only == "encryption":
        _encryption_only(args, command, mode)
        return
    if args.only == "ledger":
        _ledger_only(args, command, mode)
        return
    if args.only == "mri":
        _mri_only(args, command)
        return
    if args.only == "protocols":
        _protocols_only(args, command, mode)
        return
    if args.only == "segoutputs":
        _outputs_only(args, command)
        return
    if args.only == "ensembles":
        _update_section(args.out, "deep ensembles", lambda w: _ensembles(args, command, mode, w), None)
        return
    if args.only == "worklist":
        _update_section(args.out, "worklist", lambda w: _worklist(command, mode, w), None)
        return
    started = time.perf_counter()
    sections: list[str] = [_header(command, mode)]
    with tempfile.TemporaryDirectory(prefix="medsight-bench-") as tmp:
        workdir = Path(tmp)
        _progress("decode throughput")
        samples, notes = find_samples(args.shared if args.shared.is_dir() else None, workdir)
        decoded = measure_decode(samples, min_seconds=mode.min_seconds, rounds=mode.rounds)
        sections.append(_decode_section(decoded, notes, mode))
        _progress(f"series assembly ({mode.slices} slices)")
        series = measure_series(workdir, slices=mode.slices, repeats=mode.repeats)
        sections.append(_series_section(series))
        _progress("models")
        models = _measure_models(args, workdir, mode, profile)
        sections.append(models_section(models))
        service, service_text = _measure_service(args, command, mode, workdir)
        sections.append(service_text)
        _progress("viewer in the browser")
        sections.append(_viewer(mode))
        _progress("live streams")
        sections.append(_streams(args, command, mode, workdir / "streams"))
        _progress("de-identification against dicognito and deid")
        deid_text, deid_lines = _deid(command, mode, workdir / "deid")
        sections.append(deid_text)
        _progress("encryption at rest")
        encryption_text, encryption_lines = _encryption(command, mode, workdir / "encryption")
        sections.append(encryption_text)
        _progress("verifiable ledger")
        ledger_text, ledger_lines = _ledger(command, mode, workdir / "ledger")
        sections.append(ledger_text)
        _progress("MRI segmentation")
        mri_text, mri_lines = _mri(args, command, workdir / "mri")
        sections.append(mri_text)
        _progress("segmentation outputs (DICOM SEG, SR, NIfTI)")
        outputs_text, outputs_lines = _outputs(command, workdir / "outputs")
        sections.append(outputs_text)
        _progress("imaging-protocol recommendation")
        protocols_text, protocols_lines = _protocols(command, mode)
        sections.append(protocols_text)
        _progress("deep ensembles")
        sections.append(_ensembles(args, command, mode, workdir / "ensembles")[0])
        _progress("worklist at scale")
        sections.append(_worklist(command, mode, workdir / "worklist")[0])
        targets = [
            *service_targets(service),
            *deid_lines,
            *encryption_lines,
            *ledger_lines,
            *mri_lines,
            *outputs_lines,
            *protocols_lines,
        ]
        sections.append(_summary(decoded, series, models) + "\n".join(targets) + "\n")
        if profile:
            _progress("profiling the misses")
            sections.append(_profiles(decoded, series, workdir / "series", mode))
    sections.append(f"_Whole run: {time.perf_counter() - started:.0f} s._\n")
    args.out.write_text("\n".join(sections), encoding="utf-8")
    _progress(f"wrote {args.out}")


def _measure_models(args: argparse.Namespace, workdir: Path, mode: Mode, profile: bool) -> ModelsResult:
    # The models section measures classifiers (batch latency, analyze, Grad-CAM); a
    # segmentation bundle (us-fetal-head) has no place in it: streams measure that one.
    bundles = args.model or [p for p in shipped_bundles().values() if _kind(p) == "classification"]
    return measure_models(
        bundles,
        shared=args.shared if args.shared.is_dir() else None,
        workdir=workdir / "models",
        effort=QUICK_EFFORT if mode is QUICK else FULL_EFFORT,
        reference_dir=args.reference,
        profile=profile,
    )


#: The start of each line `models_targets` writes, so that ``--only models`` replaces its own.
MODELS_TARGET_PREFIXES = (
    "- 2048x2048 16-bit DICOM end to end",
    "- batched throughput at 28 px",
    "- peak RSS of one `analyze` process",
    "- MedMNIST reference",
)


def _models_only(args: argparse.Namespace, command: str, mode: Mode, profile: bool) -> None:
    """Section 3 (the classifiers) and its target lines, into the existing report."""
    with tempfile.TemporaryDirectory(prefix="medsight-bench-") as tmp:
        _progress("models")
        models = _measure_models(args, Path(tmp), mode, profile)
    document = args.out.read_text(encoding="utf-8") if args.out.exists() else "# Benchmarks\n\n"
    section = models_section(models)
    heading, _, rest = section.partition("\n\n")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    section = f"{heading}\n\n`{command}`, {when} UTC (this section alone; the header is the last full run's).\n\n{rest}"
    document = replace_section(document, section)
    lines = models_targets(models)
    for prefix in MODELS_TARGET_PREFIXES:
        document = replace_lines(document, "## Targets", prefix, [line for line in lines if line.startswith(prefix)])
    args.out.write_text(document, encoding="utf-8")
    _progress(f"updated the models section of {args.out}")


def _kind(bundle: Path) -> str:
    return load_bundle(bundle, verify=False).metadata.medsight.kind


def _service_options(args: argparse.Namespace, mode: Mode) -> ServiceOptions:
    options = QUICK_SERVICE if mode is QUICK else FULL_SERVICE
    if args.service_memory_seconds is not None:
        options = replace(options, memory_s=args.service_memory_seconds)
    if args.service_instances is not None:
        options = replace(options, instances=args.service_instances)
    return options


def _measure_service(args: argparse.Namespace, command: str, mode: Mode, workdir: Path) -> tuple[ServiceResult, str]:
    _progress("service (DICOMweb against Orthanc, jobs, memory)")
    shared = args.shared if args.shared.is_dir() else None
    result = measure_service(workdir / "service", _service_options(args, mode), shared=shared)
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    return result, service_section(result, command, date, args.note)


def _service_only(args: argparse.Namespace, command: str, mode: Mode) -> None:
    """Measure the service section and put it (and its target lines) into the existing report."""
    with tempfile.TemporaryDirectory(prefix="medsight-bench-") as tmp:
        result, text = _measure_service(args, command, mode, Path(tmp))
    document = args.out.read_text(encoding="utf-8") if args.out.exists() else "# Benchmarks\n\n"
    document = replace_section(document, text)
    document = replace_lines(document, "## Targets", SERVICE_TARGET_PREFIX, service_targets(result))
    args.out.write_text(document, encoding="utf-8")
    _progress(f"updated the service section of {args.out}")


def _viewer(mode: Mode) -> str:
    return viewer_section(measure_viewer(slices=mode.slices, repeats=mode.repeats))


def _viewer_only(args: argparse.Namespace, mode: Mode) -> None:
    """Measure the viewer in the browser and put its section into the existing report."""
    document = args.out.read_text(encoding="utf-8") if args.out.exists() else "# Benchmarks\n\n"
    args.out.write_text(replace_section(document, _viewer(mode)), encoding="utf-8")
    _progress(f"updated the viewer section of {args.out}")


def _streams(args: argparse.Namespace, command: str, mode: Mode, workdir: Path) -> str:
    options = QUICK_STREAMS if mode is QUICK else FULL_STREAMS
    shared = args.shared if args.shared.is_dir() else None
    return streams_section(measure_streams(workdir, options, shared=shared), command)


def _streams_only(args: argparse.Namespace, command: str, mode: Mode) -> None:
    _update_section(args.out, "live streams", lambda w: (_streams(args, command, mode, w), []), None)


def _deid(command: str, mode: Mode, workdir: Path) -> tuple[str, list[str]]:
    workdir.mkdir(parents=True, exist_ok=True)
    bench = measure_deid(workdir, QUICK_DEID if mode is QUICK else FULL_DEID)
    return deid_section(bench, command), deid_targets(bench)


def _deid_only(args: argparse.Namespace, command: str, mode: Mode) -> None:
    _update_section(args.out, "de-identification", lambda w: _deid(command, mode, w), DEID_TARGET_PREFIX)


def _encryption(command: str, mode: Mode, workdir: Path) -> tuple[str, list[str]]:
    workdir.mkdir(parents=True, exist_ok=True)
    results = measure_encryption(workdir, QUICK_ENCRYPTION if mode is QUICK else FULL_ENCRYPTION)
    return encryption_section(results, command), encryption_targets(results)


def _encryption_only(args: argparse.Namespace, command: str, mode: Mode) -> None:
    _update_section(args.out, "encryption at rest", lambda w: _encryption(command, mode, w), ENCRYPTION_TARGET_PREFIX)


def _ledger(command: str, mode: Mode, workdir: Path) -> tuple[str, list[str]]:
    bench = measure_ledger(workdir, QUICK_LEDGER if mode is QUICK else FULL_LEDGER, progress=_progress)
    return ledger_section(bench, command), ledger_targets(bench)


def _ledger_only(args: argparse.Namespace, command: str, mode: Mode) -> None:
    _update_section(args.out, "ledger", lambda w: _ledger(command, mode, w), LEDGER_TARGET_PREFIX)


def _mri(args: argparse.Namespace, command: str, workdir: Path) -> tuple[str, list[str]]:
    workdir.mkdir(parents=True, exist_ok=True)
    models = {load_bundle(p).metadata.medsight.task: p for p in (args.model or [])}
    bench = measure_mri(workdir, args.shared if args.shared.is_dir() else None, models or None)
    return mri_section(bench, command), mri_targets(bench)


def _mri_only(args: argparse.Namespace, command: str) -> None:
    _update_section(args.out, "MRI segmentation", lambda w: _mri(args, command, w), MRI_TARGET_PREFIX)


def _outputs(command: str, workdir: Path) -> tuple[str, list[str]]:
    workdir.mkdir(parents=True, exist_ok=True)
    bench = measure_outputs(workdir)
    return outputs_section(bench, command), outputs_targets(bench)


def _outputs_only(args: argparse.Namespace, command: str) -> None:
    _update_section(args.out, "segmentation outputs", lambda w: _outputs(command, w), OUTPUTS_TARGET_PREFIX)


def _ensembles(args: argparse.Namespace, command: str, mode: Mode, workdir: Path) -> tuple[str, list[str]]:
    shared = args.shared if args.shared.is_dir() else None
    bench = measure_ensembles(workdir, shared, calls=40 if mode is QUICK else 300)
    return ensembles_section(bench, command), []


def _worklist(command: str, mode: Mode, workdir: Path) -> tuple[str, list[str]]:
    workdir.mkdir(parents=True, exist_ok=True)
    bench = measure_worklist(workdir, studies=2_000 if mode is QUICK else 20_000)
    return worklist_section(bench, command), []


def _protocols(command: str, mode: Mode) -> tuple[str, list[str]]:
    bench = measure_protocols(QUICK_PROTOCOLS if mode is QUICK else FULL_PROTOCOLS)
    return protocols_section(bench, command), protocols_targets(bench)


def _protocols_only(args: argparse.Namespace, command: str, mode: Mode) -> None:
    _update_section(args.out, "imaging-protocol", lambda _: _protocols(command, mode), PROTOCOLS_TARGET_PREFIX)


def _update_section(
    out: Path, label: str, measure: Callable[[Path], tuple[str, list[str]]], target_prefix: str | None
) -> None:
    """Measure one section in a scratch folder; put it, and its target lines, into the existing report.

    Every ``--only`` section goes through here, so each replaces its own section and its own
    lines under "## Targets" and leaves the rest of the report as it was.
    """
    with tempfile.TemporaryDirectory(prefix="medsight-bench-") as tmp:
        text, lines = measure(Path(tmp))
    document = out.read_text(encoding="utf-8") if out.exists() else "# Benchmarks\n\n"
    document = replace_section(document, text)
    if target_prefix is not None:
        document = replace_lines(document, "## Targets", target_prefix, lines)
    out.write_text(document, encoding="utf-8")
    _progress(f"updated the {label} section of {out}")


def _progress(message: str) -> None:
    print(f"[benchmarks] {message}", file=sys.stderr, flush=True)


def _header(command: str, mode: Mode) -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    rows = [
        ("date (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
        ("command", f"`{command}`"),
        ("mode", "quick" if mode is QUICK else "full"),
        ("CPU", f"{_cpu_model()}; os.cpu_count() = {os.cpu_count()}"),
        ("load average at start", f"{load} (the machine may be shared)"),
        ("platform", platform.platform()),
        ("Python", platform.python_version()),
        *[(name, _version(name)) for name in ("medsight", "numpy", "pydicom", "SimpleITK")],
        *[(name, _version(name)) for name in ("pylibjpeg-libjpeg", "pylibjpeg-openjpeg")],
        *[(name, _version(name)) for name in ("torch", "monai", "onnxruntime")],
    ]
    table = "\n".join(f"| {key} | {value} |" for key, value in rows)
    return (
        "# Benchmarks\n\n"
        "Written by `benchmarks/run.py`; do not edit by hand, run it again.\n\n"
        f"| | |\n|---|---|\n{table}\n"
    )


def _decode_section(results: list[DecodeResult], notes: list[str], mode: Mode) -> str:
    lines = [
        "## 1. Decode throughput per sample\n",
        "medsight: `medsight.io.read_image(path, ReadLimits(), workers=1)` (float32, physical"
        " units); pydicom: `pydicom.dcmread(path).pixel_array` (stored values). Same file,"
        f" same run, interleaved; {mode.rounds} rounds of >= {mode.min_seconds} s each; the"
        " best round counts (the median is in brackets). MB = 10^6 bytes of file."
        f" Target: ratio (medsight files/s / pydicom files/s) >= {DECODE_TARGET}."
        f" Measured {_now_and_load()}. The ratios move with the host: medsight returns"
        " float32 in physical units (RGB for palette colour) where pydicom returns stored"
        " values, so memory speed weighs more on medsight's side.\n",
        "| sample | transfer syntax | pixels | file KB | medsight files/s | medsight MB/s"
        " | pydicom files/s | pydicom MB/s | ratio | target |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in results:
        sample = result.sample
        lead = f"| {sample.label} | {sample.syntax} | {sample.pixels} | {sample.nbytes / 1e3:.1f}"
        if result.medsight is None or result.pydicom is None or result.ratio is None:
            lines.append(f"{lead} | error: {result.error} | | | | | FAIL |")
            continue
        mb = sample.nbytes / _MB
        ours, theirs = result.medsight, result.pydicom
        lines.append(
            f"{lead} | {1 / ours.best:.0f} ({1 / ours.median:.0f}) | {mb / ours.best:.1f}"
            f" | {1 / theirs.best:.0f} ({1 / theirs.median:.0f}) | {mb / theirs.best:.1f}"
            f" | {result.ratio:.2f} | {_verdict(result.ratio >= DECODE_TARGET)} |"
        )
    lines += [f"\nNote: {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _now_and_load() -> str:
    """When a section was measured and how busy the machine was: sections are rerun alone."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC, load average {load}"


def _series_section(series: SeriesResult) -> str:
    sitk = series.row("simpleitk")
    volume_mib = series.volume_bytes / _MIB
    lines = [
        "## 2. Series assembly\n",
        f"A synthetic CT series (`tests/data/synthetic.py`): {series.files} files of 512 x 512"
        f" int16, {series.folder_bytes / _MB:.0f} MB, names shuffled, written in"
        f" {series.write_seconds:.1f} s. Float32 volume: {volume_mib:.0f} MiB. Each read runs"
        f" in a fresh process ({sitk.runs} per reader, interleaved) after a warm-up read of a"
        " tiny series; the page cache is warm for all. medsight:"
        " `read_image(folder, ReadLimits(), workers=W)`; SimpleITK:"
        " `ImageSeriesReader.GetGDCMSeriesFileNames` + `Execute` + `GetArrayFromImage`"
        " (its default output type). Peak memory: peak RSS (`ru_maxrss`) minus RSS just"
        f" before the read. Targets: SimpleITK time / medsight time >= {SERIES_TARGET} (best"
        " runs; the ratio of medians is in brackets);"
        f" medsight peak memory <= {MEMORY_TARGET} x the float32 volume.\n",
        "| reader | workers | best s | median s | SimpleITK / this, best (median) | speed target"
        " | peak RSS delta MiB | x volume | memory target |",
        "|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for row in series.rows:
        ratio = sitk.best / row.best
        memory = row.peak_rss_delta / series.volume_bytes
        ours = row.reader == "medsight"
        lines.append(
            f"| {row.reader} | {row.workers or 'default'} | {row.best:.3f} | {row.median:.3f}"
            f" | {ratio:.2f} ({sitk.median / row.median:.2f})"
            f" | {_verdict(ratio >= SERIES_TARGET) if ours else '-'}"
            f" | {row.peak_rss_delta / _MIB:.0f} | {memory:.2f}"
            f" | {_verdict(memory <= MEMORY_TARGET) if ours else '-'} |"
        )
    lines.append("\nCorrectness of medsight's volume (against SimpleITK and the formula):\n")
    lines += [f"- {name}: {'yes' if ok else '**NO**'}" for name, ok in series.checks.items()]
    return "\n".join(lines) + "\n"


def _summary(decoded: list[DecodeResult], series: SeriesResult, models: ModelsResult) -> str:
    lines = ["## Targets\n", *_io_targets(decoded, series), *models_targets(models)]
    return "\n".join(lines) + "\n"


#: The start of each line `_io_targets` writes, so that ``--only io`` replaces its own.
IO_TARGET_PREFIXES = ("- decode ratio >= ", "- series, ", "- volume correct: ")


def _io_targets(decoded: list[DecodeResult], series: SeriesResult) -> list[str]:
    slow = [r.sample.label for r in decoded if r.ratio is None or r.ratio < DECODE_TARGET]
    lines = [
        f"{IO_TARGET_PREFIXES[0]}{DECODE_TARGET}: {len(decoded) - len(slow)} of {len(decoded)}"
        " samples pass" + (f"; missed: {', '.join(slow)}" if slow else "")
    ]
    for row in _medsight_rows(series):
        ratio = series.row("simpleitk").best / row.best
        memory = row.peak_rss_delta / series.volume_bytes
        lines.append(
            f"{IO_TARGET_PREFIXES[1]}{row.workers} worker(s): {ratio:.2f}x SimpleITK"
            f" ({_verdict(ratio >= SERIES_TARGET)}), peak memory {memory:.2f}x the volume"
            f" ({_verdict(memory <= MEMORY_TARGET)})"
        )
    lines.append(f"{IO_TARGET_PREFIXES[2]}{_verdict(all(series.checks.values()))}")
    return lines


def _io_only(args: argparse.Namespace, mode: Mode, profile: bool) -> None:
    """Sections 1 and 2 (decode, series assembly), their target lines and the profile of their misses."""
    with tempfile.TemporaryDirectory(prefix="medsight-bench-") as tmp:
        workdir = Path(tmp)
        _progress("decode throughput")
        samples, notes = find_samples(args.shared if args.shared.is_dir() else None, workdir)
        decoded = measure_decode(samples, min_seconds=mode.min_seconds, rounds=mode.rounds)
        _progress(f"series assembly ({mode.slices} slices)")
        series = measure_series(workdir, slices=mode.slices, repeats=mode.repeats)
        profiles = _profiles(decoded, series, workdir / "series", mode) if profile else None
    document = args.out.read_text(encoding="utf-8") if args.out.exists() else "# Benchmarks\n\n"
    document = replace_section(document, _decode_section(decoded, notes, mode))
    document = replace_section(document, _series_section(series))
    lines = _io_targets(decoded, series)
    for prefix in IO_TARGET_PREFIXES:
        document = replace_lines(document, "## Targets", prefix, [line for line in lines if line.startswith(prefix)])
    if profiles is not None:
        document = _replace_profiles(document, profiles)
    args.out.write_text(document, encoding="utf-8")
    _progress(f"updated the decode and series sections of {args.out}")


def _replace_profiles(document: str, profiles: str) -> str:
    """The "Where the time goes" section replaced (its heading says whether a target was missed).

    It is the report's last section, so its chunk also holds the whole run's time line, kept.
    """
    head, marker, tail = document.partition("\n## Where the time goes")
    if not marker:
        return document.rstrip("\n") + "\n\n" + profiles
    trailer = [line for line in tail.splitlines() if line.startswith("_Whole run")]
    return head + "\n" + profiles.rstrip("\n") + "\n" + ("\n" + trailer[-1] + "\n" if trailer else "")


def _profiles(decoded: list[DecodeResult], series: SeriesResult, folder: Path, mode: Mode) -> str:
    missed = [r for r in decoded if r.ratio is not None and r.ratio < DECODE_TARGET]
    sitk = series.row("simpleitk").best
    slow_series = any(sitk / row.best < SERIES_TARGET for row in _medsight_rows(series))
    if not missed and not slow_series:
        return "## Where the time goes\n\nNo target missed.\n"
    cases = [(r.sample.label, r.sample.path, r.pydicom.best if r.pydicom else None) for r in missed]
    if slow_series:
        cases.append((f"series ({series.slices} slices)", folder, None))
    lines = [
        "## Where the time goes (cases that missed a target)\n",
        "`read_image` = `scan` (find files, sniff, parse headers, plan) + `Scan.load` (decode to"
        f" float32, build the image), timed apart without a profiler, one worker, best of"
        f" {mode.rounds} rounds; ms per read.\n",
        "| case | scan ms | load ms | scan share | pydicom read ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, path, theirs in cases:
        scanning, loading = stage_split(path, min_seconds=mode.min_seconds, rounds=mode.rounds)
        share = scanning.best / (scanning.best + loading.best)
        reference = f"{theirs * 1e3:.2f}" if theirs is not None else "-"
        stages = f"{scanning.best * 1e3:.2f} | {loading.best * 1e3:.2f} | {share:.0%}"
        lines.append(f"| {label} | {stages} | {reference} |")
    lines.append("\ncProfile of `read_image` (one worker) per case:\n")
    budget = max(mode.min_seconds, 0.5)
    for label, path, _ in cases:
        lines.append(f"<details><summary>{label}</summary>\n")
        lines.append(profile_read(path, workers=1, min_seconds=budget))
        lines.append("\n</details>\n")
    return "\n".join(lines) + "\n"


def _medsight_rows(series: SeriesResult) -> list[SeriesRow]:
    return [row for row in series.rows if row.reader == "medsight"]


def _verdict(passed: bool) -> str:
    return "pass" if passed else "**FAIL**"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
