"""``medsight stream``: replay a cine or a folder of frames against a live stream, as a probe would.

Prints the frames sent, answered and dropped, and the server-side and round-trip
latency percentiles; ``--json`` prints exactly ``frames_sent``, ``frames_answered``,
``frames_dropped``, ``latency_ms`` and ``rtt_ms`` (each with ``p50``, ``p95``, ``p99``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from medsight.errors import UsageError
from medsight.io.framebytes import FrameEncoding
from medsight.services.streams.replay import (
    ReplayOptions,
    ReplayReport,
    load_frames,
    parse_spacing,
    replay,
    stream_url,
)

__all__ = ["stream"]


def stream(
    path: Annotated[Path, typer.Argument(help="A cine DICOM, a zip, or a folder of frames (looped).")],
    task: Annotated[str, typer.Option("--task", help="The task whose stream to open (cxr-pneumonia, ...).")],
    fps: Annotated[float, typer.Option("--fps", help="Frames sent per second.")] = 30.0,
    url: Annotated[str, typer.Option("--url", help="The service.")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="MEDSIGHT_TOKEN", help="A token with streams:write (device, radiologist)."),
    ] = None,
    seconds: Annotated[float, typer.Option("--seconds", help="How long to stream.")] = 10.0,
    encoding: Annotated[
        str, typer.Option("--encoding", help="jpeg (quality 90, as ultrasound gateways send), png or raw.")
    ] = "jpeg",
    pixel_spacing: Annotated[
        str | None,
        typer.Option("--pixel-spacing", help="mm per pixel (MM or ROW,COL) when the files do not record it."),
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="Device id to send as (default: the token's device).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Stream PATH's frames to TASK's live stream at FPS and report latency and drops."""
    if not token:
        raise UsageError("give a token with --token or MEDSIGHT_TOKEN (medsight tokens create --role device)")
    try:
        frame_encoding = FrameEncoding(encoding)
    except ValueError:
        raise UsageError(f"--encoding must be png, jpeg or raw, got {encoding!r}") from None
    options = ReplayOptions(url=url, task=task, token=token, fps=fps, seconds=seconds, device_id=device)
    stream_url(url, task)  # a bad --url is a usage error before any frame is read
    spacing = parse_spacing(pixel_spacing) if pixel_spacing else None
    frames = load_frames(path, frame_encoding, pixel_spacing_mm=spacing)
    if not as_json:
        typer.echo(f"streaming {len(frames.frames)} frames of {frames.columns}x{frames.rows} at {fps:g} fps", err=True)
    report = replay(options, frames)
    typer.echo(json.dumps(report.to_json()) if as_json else _human(report))


def _human(report: ReplayReport) -> str:
    data = report.to_json()
    seconds = max(report.seconds, 1e-9)
    lines = [
        f"frames sent {report.frames_sent} ({report.frames_sent / seconds:.1f}/s), "
        f"answered {report.frames_answered} ({report.frames_answered / seconds:.1f}/s), "
        f"dropped {report.frames_dropped} ({report.frames_dropped / seconds:.1f}/s)",
        f"server latency ms  {_row(data['latency_ms'])}",
        f"round trip ms      {_row(data['rtt_ms'])}",
    ]
    if report.last is not None and report.last.get("smoothed"):
        for name, value in report.last["smoothed"].items():
            state = "stable" if value["stable"] else "settling"
            lines.append(f"{name}: {value['value']} ({state}, last {value['latest']})")
    return "\n".join(lines)


def _row(values: dict[str, Any]) -> str:
    return "  ".join(f"{key} {'-' if value is None else f'{value:.1f}'}" for key, value in values.items())
