"""Live streams (issue 6): latency, answers and drops at 30 fps, memory over a long run, 4 streams.

A real ``medsight serve`` process runs on loopback; each stream is ``medsight stream``
in its own process (a second process, as a probe's gateway would be), replaying a
folder of frames at 30 fps and printing its ``--json`` report. This module samples the
server's resident memory once a second meanwhile.

* **one stream, long**: server-side p50/p95/p99 latency (frame arrival to answer ready,
  from the answers), round trip, frames answered and dropped per second, and the
  server's RSS over the run (first vs last tenth: "flat" within 10%);
* **4 concurrent streams**, each at 30 fps: the same figures per stream and summed.

Frames: each task's frame size from the issue (800x540 for ``us-fetal-head``, 256x256
for ``us-breast``, 800x540 otherwise): HC18 image 001 jittered as a hand-held probe
would move (with its pixel size, so HC is measured) for ``us-fetal-head``, BreastMNIST
validation images enlarged for ``us-breast``, the shared ultrasound cine otherwise;
synthetic frames when ``../shared`` is absent. The issue's two tasks are measured; a
task whose model is not shipped is reported as not measured, and ``cxr-pneumonia``
(its 224 px bundle) stands in when neither can be.

Usage: ``python -m benchmarks.run --only streams`` (updates that section of
BENCHMARKS.md), or ``python -m benchmarks.streams --seconds 20`` to print it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tests.integration.server.live import LiveServer

from medsight.imaging import display_array
from medsight.io import read
from medsight.io.framebytes import FrameEncoding, encode_frame
from medsight.settings import ReadLimits

__all__ = ["FULL_STREAMS", "QUICK_STREAMS", "StreamsOptions", "measure_streams", "streams_section"]

HEADING = "## Live streams"
TARGET_P99_MS = 33.0
FPS = 30.0
#: The tasks the issue sets targets for.
ISSUE_TASKS = ("us-fetal-head", "us-breast")
#: Frame size (rows, columns) per task, from the issue's targets.
FRAME_SIZES = {"us-fetal-head": (540, 800), "us-breast": (256, 256)}
_DEFAULT_SIZE = (540, 800)
_CINE = Path("samples/us/GREYSCALE_CINE.zip")


@dataclass(frozen=True)
class StreamsOptions:
    """How long to measure.

    Attributes:
        long_s: the single stream's run (memory is judged over it).
        concurrent_s: the run of the concurrent streams.
        streams: how many concurrent streams.
    """

    long_s: float
    concurrent_s: float
    streams: int = 4


FULL_STREAMS = StreamsOptions(long_s=300.0, concurrent_s=60.0)
QUICK_STREAMS = StreamsOptions(long_s=20.0, concurrent_s=10.0)


def _frames(size: tuple[int, int], shared: Path | None, count: int = 27) -> list[np.ndarray]:
    """Greyscale uint8 frames of ``size``: the shared cine's, tiled and cropped, else synthetic."""
    rows, cols = size
    cine = shared / _CINE if shared is not None else None
    if cine is not None and cine.exists():
        images, _ = read(cine, ReadLimits())
        display = display_array(images[0])
        planes = display.mean(axis=-1) if images[0].channels == 3 else display
        return [_fit(np.asarray(plane), rows, cols) for plane in np.reshape(planes, (-1, *planes.shape[-2:]))]
    grid_r, grid_c = np.mgrid[0:rows, 0:cols].astype(np.float32)
    out = []
    for k in range(count):
        ellipse = ((grid_r - rows / 2) / (rows / 3)) ** 2 + ((grid_c - cols / 2 - k) / (cols / 4)) ** 2
        out.append(np.clip(60 + 0.1 * grid_c + 120 * (np.abs(ellipse - 1) < 0.08), 0, 255).astype(np.uint8))
    return out


_HC18 = Path("datasets/hc18")
_BREASTMNIST = Path("datasets/breastmnist/breastmnist_trainval.npz")


@dataclass(frozen=True)
class _Source:
    """The frames a task's streams send, where they come from, and their pixel spacing."""

    frames: list[np.ndarray]
    what: str
    spacing: float | None = None


def _source(task: str, size: tuple[int, int], shared: Path | None) -> _Source:
    """Real frames of the task's kind when ``shared`` has them, else the cine or synthetic ones."""
    if task == "us-fetal-head" and shared is not None and (shared / _HC18).is_dir():
        return _hc18_frames(shared / _HC18, size)
    if task == "us-breast" and shared is not None and (shared / _BREASTMNIST).exists():
        return _breast_frames(shared / _BREASTMNIST, size)
    frames = _frames(size, shared)
    cine = shared is not None and (shared / _CINE).exists()
    return _Source(frames, "the shared ultrasound cine (800x600, tiled and cropped)" if cine else "synthetic frames")


def _hc18_frames(folder: Path, size: tuple[int, int], count: int = 27) -> _Source:
    """HC18 image 001 moved by a few pixels each frame, as a hand-held probe would: one head, one HC."""
    images, _ = read(folder / "training_set" / "001_HC.png", ReadLimits())
    plane = _fit(np.rint(images[0].pixels).astype(np.uint8), *size)
    rng = np.random.default_rng(0)
    frames = [np.roll(plane, tuple(rng.integers(-4, 5, size=2)), axis=(0, 1)) for _ in range(count)]
    rows = (folder / "training_set_pixel_size_and_HC.csv").read_text().splitlines()
    spacing = float(next(row.split(",")[1] for row in rows if row.startswith("001_HC.png")))
    return _Source(frames, f"HC18 image 001 jittered by up to 4 px ({spacing:.4f} mm/px)", spacing)


def _breast_frames(npz: Path, size: tuple[int, int], count: int = 27) -> _Source:
    """BreastMNIST validation images, bilinearly enlarged from 28 px to the frame size."""
    from scipy import ndimage

    with np.load(npz) as data:
        images = data["val_images"][:count].astype(np.float32)
    scale = (size[0] / images.shape[1], size[1] / images.shape[2])
    frames = [np.clip(ndimage.zoom(image, scale, order=1), 0, 255).astype(np.uint8) for image in images]
    return _Source(frames, f"BreastMNIST validation images enlarged from 28 px to {size[1]}x{size[0]}")


def _fit(plane: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``plane`` tiled to cover ``rows x cols`` and cropped at the centre."""
    tiled = np.tile(plane, (rows // plane.shape[0] + 1, cols // plane.shape[1] + 1))
    top, left = (tiled.shape[0] - rows) // 2, (tiled.shape[1] - cols) // 2
    return np.clip(tiled[top : top + rows, left : left + cols], 0, 255).astype(np.uint8)


def _write_frames(folder: Path, frames: Sequence[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, pixels in enumerate(frames):
        (folder / f"frame{index:03d}.png").write_bytes(encode_frame(pixels, FrameEncoding.PNG))
    return folder


class _NotMeasuredError(Exception):
    """A stream could not run (no model for the task): the section says why."""


class _RssSampler(threading.Thread):
    """The server's VmRSS once a second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self._halt = pid, threading.Event()
        self.samples: list[float] = []

    def run(self) -> None:
        while not self._halt.wait(1.0):
            self.samples.append(_rss_mib(self.pid))

    def stop(self) -> list[float]:
        self._halt.set()
        self.join(5)
        return self.samples


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _stream_command(
    folder: Path, task: str, server: LiveServer, token: str, seconds: float, spacing: float | None
) -> list[str]:
    command = [
        sys.executable, "-m", "medsight", "stream", str(folder), "--task", task, "--fps", str(FPS),
        "--encoding", "jpeg", "--seconds", str(seconds), "--url", server.url, "--token", token, "--json",
    ]  # fmt: skip
    return command + (["--pixel-spacing", str(spacing)] if spacing else [])


def _run_streams(
    folder: Path, task: str, server: LiveServer, tokens: Sequence[str], seconds: float, spacing: float | None = None
) -> dict[str, Any]:
    """Run one ``medsight stream`` process per token at once; their reports and the RSS samples."""
    assert server.process is not None
    sampler = _RssSampler(server.process.pid)
    sampler.start()
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            _stream_command(folder, task, server, token, seconds, spacing),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for token in tokens
    ]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=seconds + 120)
        if process.returncode != 0:
            sampler.stop()
            raise _NotMeasuredError(err.strip().splitlines()[-1] if err.strip() else f"exit {process.returncode}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return {"seconds": seconds, "wall_s": time.perf_counter() - started, "reports": reports, "rss": sampler.stop()}


def measure_streams(
    workdir: Path, options: StreamsOptions, *, shared: Path | None, tasks: Sequence[str] | None = None
) -> dict[str, Any]:
    """Measure the issue's tasks (or ``tasks``) as the module docstring says.

    ``cxr-pneumonia`` stands in when neither ultrasound model can be measured.
    """
    server = LiveServer(data_dir=workdir / "var", extra_env={"MEDSIGHT_ANALYSIS_WORKERS": "0"}).start()
    try:
        tokens = [server.token("--role", "device", "--name", f"bench-{k}") for k in range(options.streams)]
        results = {}
        for task in tasks or ISSUE_TASKS:
            size = FRAME_SIZES.get(task, _DEFAULT_SIZE)
            source = _source(task, size, shared)
            folder = _write_frames(workdir / f"frames-{task}", source.frames)
            try:
                _run_streams(folder, task, server, tokens[:1], 3.0, source.spacing)  # load the model, warm up
            except _NotMeasuredError as exc:
                results[task] = {"size": size, "skipped": str(exc), "source": source.what}
                continue
            load_before = os.getloadavg()
            long = _run_streams(folder, task, server, tokens[:1], options.long_s, source.spacing)
            many = _run_streams(folder, task, server, tokens, options.concurrent_s, source.spacing)
            results[task] = {
                "size": size,
                "long": long,
                "concurrent": many,
                "source": source.what,
                "load": (load_before, os.getloadavg()),
            }
        if tasks is None and all("skipped" in measured for measured in results.values()):
            return measure_streams(workdir / "stand-in", options, shared=shared, tasks=["cxr-pneumonia"])
        return {"tasks": results, "options": options}
    finally:
        server.stop()


def _rate(report: dict[str, Any], key: str, seconds: float) -> str:
    return f"{report[key] / seconds:.1f}"


def _flat(rss: Sequence[float]) -> tuple[float, float, bool]:
    tenth = max(1, len(rss) // 10)
    first, last = float(np.median(rss[:tenth])), float(np.median(rss[-tenth:]))
    return first, last, last <= first * 1.10


def _load(measured: dict[str, Any]) -> list[str]:
    """The load-average line of a task (absent from results measured before it was recorded)."""
    if "load" not in measured:
        return []
    before, after = (", ".join(f"{value:.2f}" for value in load) for load in measured["load"])
    return [
        f"- Load average (1, 5, 15 min) on the {os.cpu_count()} cores: {before} before the runs, {after} after "
        "(the streams and the server themselves included; anything above that is other work on the machine)."
    ]


def _ms(values: dict[str, float | None]) -> str:
    return " / ".join("-" if values[key] is None else f"{values[key]:.1f}" for key in ("p50", "p95", "p99"))


def _rows(label: str, report: dict[str, Any], seconds: float) -> str:
    return (
        f"| {label} | {report['frames_sent']} | {_rate(report, 'frames_answered', seconds)} "
        f"| {_rate(report, 'frames_dropped', seconds)} | {_ms(report['latency_ms'])} | {_ms(report['rtt_ms'])} |"
    )


def streams_section(result: dict[str, Any], command: str) -> str:
    """The Markdown section of a :func:`measure_streams` result."""
    options: StreamsOptions = result["options"]
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        HEADING,
        "",
        f"`{command}`, {date} UTC. A real `medsight serve` on loopback; each stream is a `medsight stream` "
        f"process sending JPEG frames (quality 90) at {FPS:g} fps. Latency is server-side "
        "(frame arrival to answer ready: waiting, decoding, analysis); round trip is seen by the client. "
        f"Rates are per second of sending. Target: server-side p99 <= {TARGET_P99_MS:g} ms.",
        "",
    ]
    for task, measured in result["tasks"].items():
        rows, cols = measured["size"]
        if "skipped" in measured:
            lines += [f"### {task} ({cols}x{rows} frames)", "", f"Not measured: {measured['skipped']}", ""]
            continue
        long, many = measured["long"], measured["concurrent"]
        model = "the shipped 224 px bundle, standing in for the ultrasound models" if task == "cxr-pneumonia" else ""
        lines += [f"### {task} ({cols}x{rows} frames{'; ' + model if model else ''})", ""]
        lines += [f"Frames: {measured.get('source', 'synthetic frames')}.", ""]
        lines += [
            "| run | frames sent | answered/s | dropped/s | server p50 / p95 / p99 ms "
            "| round trip p50 / p95 / p99 ms |",
            "|---|---|---|---|---|---|",
            _rows(f"1 stream, {options.long_s:g} s", long["reports"][0], long["seconds"]),
        ]
        for k, report in enumerate(many["reports"]):
            lines.append(
                _rows(f"{options.streams} streams, {options.concurrent_s:g} s: #{k + 1}", report, many["seconds"])
            )
        first, last, flat = _flat(long["rss"])
        worst = max(r["latency_ms"]["p99"] or 0.0 for r in [long["reports"][0], *many["reports"]])
        lines += [
            "",
            f"- Server RSS over the {options.long_s:g} s stream: {first:.0f} MiB in the first tenth, "
            f"{last:.0f} MiB in the last ({'flat, within 10%' if flat else 'GREW by more than 10%'}); "
            f"peak {max(long['rss']):.0f} MiB, with {options.streams} streams {max(many['rss'] or [0]):.0f} MiB.",
            f"- p99 target ({TARGET_P99_MS:g} ms), one stream: "
            f"{'met' if (long['reports'][0]['latency_ms']['p99'] or 1e9) <= TARGET_P99_MS else 'missed'}; "
            f"worst p99 of any stream: {worst:.1f} ms.",
            *_load(measured),
            "",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the section (``--seconds`` for the long run; the concurrent run is half of it)."""
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    args = parser.parse_args(argv)
    options = StreamsOptions(long_s=args.seconds, concurrent_s=max(5.0, args.seconds / 2))
    with tempfile.TemporaryDirectory(prefix="medsight-streams-") as tmp:
        shared = args.shared if args.shared.is_dir() else None
        result = measure_streams(Path(tmp), options, shared=shared)
    print(streams_section(result, f"python -m benchmarks.streams --seconds {args.seconds:g}"))


if __name__ == "__main__":
    main()
